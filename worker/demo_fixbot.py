"""The demo's FixBot runner (`ops demo`), run by the worker through the FixBot destination's ``command``
runner: reads the run document (worker/dispatch/destinations/fixbot.py ``run_document``) as JSON on
stdin and prints ``{"branch", "diff", "pr_url"}`` on stdout, as a real agent would.

Its patches are samples, chosen by the run's code, so the demo shows the policy gate both ways: most
are small fixes the policy approves; for a missing binary in CI the "fix" edits a workflow file, which
``ssot/agents/fixbot_policy.yaml`` forbids (``.github/workflows/**``), so the worker rejects it
(AGENT.FORBIDDEN_PATH). No pull request is opened: ``pr_url`` is null.
"""

from __future__ import annotations

import json
import sys

PATCHES = {
    "CI.TESTS_FAILED": """diff --git a/app/api.py b/app/api.py
--- a/app/api.py
+++ b/app/api.py
@@ -1,3 +1,3 @@
 def create(item):
     store(item)
-    return 200
+    return 201
""",
    "CI.LINT_FAILED": """diff --git a/app/util.py b/app/util.py
--- a/app/util.py
+++ b/app/util.py
@@ -1,4 +1,3 @@
 import json
-import os
 
 
""",
    "CI.TYPECHECK_FAILED": """diff --git a/web/src/total.ts b/web/src/total.ts
--- a/web/src/total.ts
+++ b/web/src/total.ts
@@ -1,2 +1,2 @@
-const total: number = "0";
+const total: number = 0;
 export default total;
""",
    # Installing jq in the workflow would fix the job, but workflows are not FixBot's to change.
    "CI.POLICY_GATES.MISSING_BINARY": """diff --git a/.github/workflows/policy-gates.yml b/.github/workflows/policy-gates.yml
--- a/.github/workflows/policy-gates.yml
+++ b/.github/workflows/policy-gates.yml
@@ -5,2 +5,3 @@
     steps:
+      - run: sudo apt-get install -y jq
       - uses: actions/checkout@v4
""",
}


def patch_for(code: str) -> str:
    """The sample patch for ``code``; any other code gets a note under docs/ (approved)."""
    if code in PATCHES:
        return PATCHES[code]
    name = code.lower().replace(".", "-")
    return (f"diff --git a/docs/notes/{name}.md b/docs/notes/{name}.md\nnew file mode 100644\n"
            f"--- /dev/null\n+++ b/docs/notes/{name}.md\n@@ -0,0 +1 @@\n+Seen by FixBot in the demo: {code}.\n")


def main() -> int:
    run = json.load(sys.stdin)
    json.dump({"branch": run["branch"], "diff": patch_for(run["code"]), "pr_url": None}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
