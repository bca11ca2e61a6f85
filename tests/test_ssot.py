"""ops ssot check | sync | diff against copies of the real SSOT with one thing broken each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker import ROOT, ssot


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the SSOT and the runbooks that a test may break."""
    for part in ("ssot", "docs/runbooks"):
        shutil.copytree(ROOT / part, tmp_path / part)
    return tmp_path


def edit(tree: Path, rel: str, old: str, new: str, count: int = 1) -> None:
    path = tree / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, count))


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


def test_the_repository_ssot_is_valid(conn):
    assert messages(ssot.check(conn)) == []


def test_every_code_has_a_runbook_without_secrets():
    tax = ssot.load_yaml(ssot.TAXONOMY)
    for fm in tax["failure_modes"]:
        text = (ROOT / fm["runbook"]).read_text()
        assert fm["code"] in text.splitlines()[0], fm["runbook"]
        for marker in ("ghp_", "xoxb-", "AKIA", "sk_live_", "-----BEGIN", "eyJhbGci"):
            assert marker not in text, f"{fm['runbook']} contains {marker!r}"


def test_duplicate_code_is_reported_with_its_line(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "code: DB.DEADLOCK", "code: DB.CONNECTION_LIMIT")
    found = [m for m in messages(ssot.check(conn, tree)) if "duplicate code DB.CONNECTION_LIMIT" in m]
    assert len(found) == 1
    line = int(found[0].split(":")[1])
    assert (tree / "ssot/errors/failure_modes.yaml").read_text().splitlines()[line - 1].strip().endswith(
        "code: DB.CONNECTION_LIMIT")


def test_duplicate_yaml_key_is_refused(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "    severity:", "    severity: low\n    severity:")
    (problem,) = ssot.check(conn, tree)
    assert "duplicate key 'severity'" in problem.message and problem.line > 0


@pytest.mark.parametrize("pattern, expected", [
    (r"timeout\b", "which PostgreSQL and Python read differently"),
    (r"failed to .*?: x", "which PostgreSQL and Python read differently"),  # lazy: PostgreSQL's first quantifier rules
    ("(unclosed", "does not compile in Python"),
    ("x*", "matches the empty string"),
    (r"a{2,1}", "does not compile"),
    ("(?<=a+)x", "does not compile in Python"),  # a lookbehind of varying width: PostgreSQL takes it, Python does not
    ("(?<n>x)", "which PostgreSQL and Python read differently"),  # a named group, not a lookbehind
    ("(?i)x", "which PostgreSQL and Python read differently"),
])
def test_bad_regexes_are_reported(conn, tree, pattern, expected):
    edit(tree, "ssot/errors/failure_modes.yaml", "      patterns:\n", f"      patterns:\n        - regex: '{pattern}'\n")
    assert any(expected in m for m in messages(ssot.check(conn, tree))), messages(ssot.check(conn, tree))


def test_a_fixed_width_lookbehind_is_portable_and_counts_nothing(conn, tree):
    # Since 2026-12-07: (?<=...) and (?<!...) of one width read alike in PostgreSQL and Python; the SQL specificity walk
    # counts their text as nothing, as it does a lookahead's ("zzq wait" is 8 characters).
    edit(tree, "ssot/errors/failure_modes.yaml", "      patterns:\n",
         "      patterns:\n        - regex: '(?<!zzq lock: )(?<=[a-z] )zzq wait'\n")
    assert not [m for m in messages(ssot.check(conn, tree)) if "zzq" in m]
    ssot.sync(conn, tree)
    (code, specificity), = conn.execute(
        "SELECT code, specificity FROM ops.failure_mode_patterns WHERE pattern LIKE '%%zzq wait%%'").fetchall()
    assert specificity == 8

    def reads(text):
        return conn.execute("SELECT code FROM ops.classify_error('github_actions', NULL, %s)", (text,)).fetchone()[0]
    assert reads("the zzq wait ended") == code
    assert reads("the zzq lock: zzq wait ended") != code  # the negative lookbehind refuses it
    assert reads("zzq wait ended") != code                # the positive one needs a word and a space before


def test_regex_spelling_underscore_or_hyphen_is_refused(conn, tree):
    # Patterns meet the message in canonical form, where "_" and "-" are spaces: such a regex never matches.
    edit(tree, "ssot/errors/failure_modes.yaml", "      patterns:\n", "      patterns:\n        - regex: 'err_module.{0,9}x'\n")
    assert any("spells '_' or '-' literally" in m for m in messages(ssot.check(conn, tree)))


def test_wrappers_are_checked_and_synced(conn, tree):
    assert conn.execute("SELECT jsonb_array_length(detail -> 'wrappers') > 0 FROM ops.ssot_state "
                        "WHERE name = 'failure_modes'").fetchone()[0], "the template synced the wrappers"
    edit(tree, "ssot/errors/failure_modes.yaml", "wrappers:\n", "wrappers:\n  - '(unclosed'\n  - 'a*'\n  - 'failed to .*?: '\n")
    found = messages(ssot.check(conn, tree))
    assert any("wrapper '(unclosed' does not compile" in m for m in found), found
    assert any("wrapper 'a*' matches the empty string" in m for m in found), found
    # A lazy wrapper matches differently alone (ops_private.wrapper_regex keeps only the wrappers that can match).
    assert any("wrapper 'failed to .*?: ' uses '*?'" in m for m in found), found


def test_a_pattern_marked_wrapper_is_synced_as_a_wrapper_too(conn, tree):
    # OPS.CRASH_LOOP's supervisor lines are the code's fact and wrapper text at once: written once, with
    # `wrapper: true`, the sync adds each (a substring escaped) and `.*` to the wrappers.
    line = '        - {substring: "zzq watchdog (gave up)", wrapper: %s}\n'
    anchor = "        - {substring: \"crashloopbackoff\", wrapper: true}\n"
    message = "psql: error: connection refused\nzzq watchdog (gave up) after 5 restarts"

    edit(tree, "ssot/errors/failure_modes.yaml", anchor, anchor + line % "false")
    ssot.sync(conn, tree)
    # Not a wrapper: the scoped crash-loop code outranks the refused connection (precedence step 4).
    assert conn.execute("SELECT code FROM ops.classify_error('ops', NULL, %s)", (message,)).fetchone()[0] == "OPS.CRASH_LOOP"

    edit(tree, "ssot/errors/failure_modes.yaml", line % "false", line % "true")
    ssot.sync(conn, tree)
    (wrappers,) = conn.execute("SELECT detail -> 'wrappers' FROM ops.ssot_state WHERE name = 'failure_modes'").fetchone()
    assert r"zzq watchdog \(gave up\).*" in wrappers and "crashloopbackoff.*" in wrappers
    # A wrapper: the cause shown with it wins (step 2), and alone it still classifies.
    assert conn.execute("SELECT code FROM ops.classify_error('ops', NULL, %s)", (message,)).fetchone()[0] != "OPS.CRASH_LOOP"
    assert conn.execute("SELECT code FROM ops.classify_error('ops', NULL, 'zzq watchdog (gave up)')").fetchone()[0] \
        == "OPS.CRASH_LOOP"


def test_regex_valid_in_python_but_not_postgres_is_caught_by_postgres(conn, tree):
    # Python accepts a lone '{' as a literal; PostgreSQL ARE rejects an unmatched brace quantifier.
    edit(tree, "ssot/errors/failure_modes.yaml", "      patterns:\n", "      patterns:\n        - regex: 'x{1,'\n")
    assert any("does not compile in PostgreSQL" in m for m in messages(ssot.check(conn, tree)))


def test_missing_runbook_unknown_source_and_destination(conn, tree):
    (tree / "docs/runbooks/failures/DB.DEADLOCK.md").unlink()
    edit(tree, "ssot/errors/failure_modes.yaml", "destination: oncall", "destination: pager")
    edit(tree, "ssot/errors/failure_modes.yaml", "    detect:\n      sources: [", "    detect:\n      sources: [mainframe, ")
    found = messages(ssot.check(conn, tree))
    assert any("DB.DEADLOCK.md does not exist" in m for m in found)
    assert any("unknown destination 'pager'" in m for m in found)
    assert any("unknown source 'mainframe'" in m for m in found)


def test_missing_unknown_fallback(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "code: UNKNOWN.DNS", "code: UNKNOWN.DNS_X")
    (tree / "docs/runbooks/failures/UNKNOWN.DNS.md").rename(tree / "docs/runbooks/failures/UNKNOWN.DNS_X.md")
    edit(tree, "ssot/errors/failure_modes.yaml", "runbook: docs/runbooks/failures/UNKNOWN.DNS.md",
         "runbook: docs/runbooks/failures/UNKNOWN.DNS_X.md")
    assert any("missing fallback code UNKNOWN.DNS for source 'dns'" in m for m in messages(ssot.check(conn, tree)))


def test_schema_violation_and_bad_code_format(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "severity: high", "severity: catastrophic")
    edit(tree, "ssot/errors/failure_modes.yaml", "code: DB.DEADLOCK", "code: db.deadlock")
    found = messages(ssot.check(conn, tree))
    assert any("'catastrophic' is not one of" in m for m in found)
    assert any("'db.deadlock' does not match" in m for m in found)
    assert all(m.startswith("ssot/errors/failure_modes.yaml:") and int(m.split(":")[1]) > 0 for m in found)


def test_redaction_rule_that_misses_its_example(conn, tree):
    edit(tree, "ssot/errors/redaction.yaml", "pattern: '(AKIA|ASIA)[0-9A-Z]{16}'", "pattern: '(AKIA|ASIA)[0-9A-Z]{99}'")
    assert any("aws_access_key_id" in m and "unchanged" in m for m in messages(ssot.check(conn, tree)))


def test_secrets_in_destinations_are_refused(conn, tree):
    edit(tree, "ssot/destinations.yaml", "    url_env: OPS_SLACK_WEBHOOK_URL", "    url: https://hooks.example/abc")
    assert any("secrets never go in this file" in m for m in messages(ssot.check(conn, tree)))


def test_sync_is_idempotent_and_deletes_what_the_yaml_deleted(conn, tree):
    assert sum(ssot.sync(conn, tree).values()) == 0, "the template is synced from the same files"
    assert ssot.diff(conn, tree).counts == {}
    # Remove one code (and its runbook) from the YAML.
    text = (tree / "ssot/errors/failure_modes.yaml").read_text()
    start = text.index("  - code: TF.STATE_LOCKED")
    end = text.index("  - code:", start + 10)
    (tree / "ssot/errors/failure_modes.yaml").write_text(text[:start] + text[end:])
    drift = ssot.diff(conn, tree)
    assert drift.counts["failure_modes_deleted"] == 1 and "- failure_modes TF.STATE_LOCKED" in drift.rows
    assert conn.execute("SELECT count(*) FROM ops.failure_modes WHERE code = 'TF.STATE_LOCKED'").fetchone()[0] == 1, \
        "diff writes nothing"
    changes = ssot.sync(conn, tree)
    assert changes["failure_modes_deleted"] == 1 and changes["files_changed"] == 1
    assert conn.execute("SELECT count(*) FROM ops.failure_modes WHERE code = 'TF.STATE_LOCKED'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ops.failure_mode_patterns WHERE code = 'TF.STATE_LOCKED'").fetchone()[0] == 0
    assert sum(ssot.sync(conn, tree).values()) == 0
    sha = conn.execute("SELECT sha256 FROM ops.ssot_state WHERE name = 'failure_modes'").fetchone()[0]
    assert sha == ssot.Ssot.load(tree).sha256(ssot.TAXONOMY)


def test_invalid_ssot_is_never_synced(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "severity: high", "severity: catastrophic")
    with pytest.raises(ssot.SsotInvalid):
        ssot.sync(conn, tree)


def test_pattern_change_is_synced(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "        - ETIMEDOUT\n", "        - ETIMEDOUT\n        - zzq-new-timeout-phrase\n")
    changes = ssot.sync(conn, tree)
    assert changes["patterns_inserted"] >= 1
    (code,) = conn.execute("SELECT code FROM ops.classify_error('ops', NULL, 'a zzq-new-timeout-phrase here')").fetchone()
    assert code == "NET.TIMEOUT"


def test_fragments_are_put_into_the_regexes_that_name_them(conn):
    raw = ssot.load_yaml(ssot.TAXONOMY)
    hosts = raw["fragments"]["well_known_hosts"]
    naming = [(fm["code"], j) for fm in raw["failure_modes"] for j, p in enumerate(fm["detect"]["patterns"])
              if isinstance(p, dict) and "{{well_known_hosts}}" in p.get("regex", "")]
    assert len(naming) >= 10, "decision 1's host list is written once"
    loaded = {fm["code"]: fm for fm in ssot.Ssot.load().taxonomy["failure_modes"]}
    for code, j in naming:
        regex = loaded[code]["detect"]["patterns"][j]["regex"]
        assert "{{" not in regex and hosts in regex
    # The database holds the whole regex, and it reads a host of the list.
    stored = conn.execute("SELECT count(*) FROM ops.failure_mode_patterns WHERE strpos(pattern, %s) > 0",
                          (hosts,)).fetchone()[0]
    assert stored >= len(naming)
    (code,) = conn.execute("SELECT code FROM ops.classify_error('dns', NULL, "
                           "'curl: (6) Could not resolve host: registry.npmjs.org')").fetchone()
    assert code == "NET.DNS_TEMPORARY_FAILURE"


def test_an_unknown_fragment_is_refused_at_its_line(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "{{well_known_hosts}}", "{{well_known_hostz}}")
    (problem,) = ssot.check(conn, tree)
    assert "fragment {{well_known_hostz}}" in problem.message
    line = (tree / "ssot/errors/failure_modes.yaml").read_text().splitlines()[problem.line - 1]
    assert "{{well_known_hostz}}" in line
    with pytest.raises(ssot.SsotInvalid):
        ssot.sync(conn, tree)


def test_an_unused_fragment_is_a_finding(conn, tree):
    edit(tree, "ssot/errors/failure_modes.yaml", "fragments:\n", "fragments:\n  spare: '(a|b)'\n")
    found = [m for m in messages(ssot.check(conn, tree)) if "fragment 'spare' is used by no regex" in m]
    assert len(found) == 1


def test_fallback_codes_have_no_patterns():
    tax = ssot.load_yaml(ssot.TAXONOMY)
    for fm in tax["failure_modes"]:
        if fm["code"].startswith("UNKNOWN."):
            assert fm["detect"]["patterns"] == [], fm["code"]



def test_fixbot_quiet_period_is_checked_by_the_policy_schema(conn, tree):
    edit(tree, "ssot/agents/fixbot_policy.yaml", "  quiet_period: 24h", "  quiet_period: soon")
    found = messages(ssot.check(conn, tree))
    assert any(m.startswith("ssot/agents/fixbot_policy.yaml:") and "auto_resolve/quiet_period" in m and "'soon'" in m
               for m in found), found


def test_grouping_rule_is_checked_synced_and_regroup_moves_the_existing_groups(conn, tree):
    """`grouping:` (fingerprint version 4; `pattern` since sql/20261214000100_grouping_by_pattern.sql): ops ssot check
    refuses an unknown rule; a sync that changes a code's rule changes new events' fingerprints, and
    ops.regroup_errors moves the groups made under the old rule."""
    rule = "SELECT grouping FROM ops.failure_modes WHERE code = 'DB.CONNECTION_LIMIT'"
    assert conn.execute(rule).fetchone()[0] == "pattern"
    path = tree / "ssot/errors/failure_modes.yaml"
    text = path.read_text()
    start = text.index("  - code: DB.CONNECTION_LIMIT\n")
    end = text.index("  - code:", start + 10)
    block = text[start:end]
    assert "    grouping: pattern\n" in block

    def write(line: str) -> None:
        path.write_text(text[:start] + block.replace("    grouping: pattern\n", line) + text[end:])

    write("    grouping: line\n")
    assert any("'line' is not one of ['message', 'code', 'pattern']" in m for m in messages(ssot.check(conn, tree)))

    texts = ["FATAL:  sorry, too many clients already",
             "FATAL:  sorry, too many clients already (pool 7)",
             "ERROR:  no more connections allowed (max_client_conn)"]
    for m in texts:
        conn.execute("SELECT ops.record_error(source => 'ops', phase => 'connect', message => %s)", (m,))
    groups = "SELECT count(*), sum(count) FROM ops.agent_errors WHERE code = 'DB.CONNECTION_LIMIT'"
    assert conn.execute(groups).fetchone() == (2, 3), "grouping: pattern makes one group per pattern that read the text"

    write("    grouping: code\n")
    assert ssot.sync(conn, tree)["failure_modes_upserted"] == 1
    assert conn.execute(rule).fetchone()[0] == "code"
    assert conn.execute(groups).fetchone() == (2, 3), "a sync moves no stored group by itself"
    conn.execute("SELECT ops.record_error(source => 'ops', phase => 'connect', message => %s)", (texts[2],))
    assert conn.execute(groups).fetchone() == (3, 4), "a new event opens the code's one group beside the old ones"
    conn.execute("SELECT count(*) FROM ops.regroup_errors(dry_run => false)")
    assert conn.execute(groups).fetchone() == (1, 4), "regroup merges the pattern groups into the code's one group"

    write("")
    assert ssot.sync(conn, tree)["failure_modes_upserted"] == 1
    assert conn.execute(rule).fetchone()[0] == "message"
    moves = conn.execute("SELECT count(*) FROM ops.regroup_errors(dry_run => false)").fetchone()[0]
    assert moves == 3 and conn.execute(groups).fetchone() == (3, 4), "regroup splits the group by text, counts kept"
    assert conn.execute("SELECT count(*) FROM ops.regroup_errors()").fetchone()[0] == 0, "nothing left to move"


def test_a_group_name_is_checked_synced_and_keys_its_group(conn, tree):
    """`group:` on a pattern (docs/grouping.md, "Grouping by pattern"): refused in a shape the schema does not allow;
    synced into ops.failure_mode_patterns.group_name, where the first pattern of the name keys the group. A name is read
    only under grouping: pattern and kept under another rule, so a code can switch rules without losing its names."""
    path = "ssot/errors/failure_modes.yaml"
    edit(tree, path, '        - {substring: "too many clients already", priority: 10, group: postgresql-slots}\n',
         '        - {substring: "too many clients already", priority: 10, group: Postgres Slots}\n')
    found = messages(ssot.check(conn, tree))
    assert any("'group': 'Postgres Slots'" in m and "is not valid" in m for m in found), found

    edit(tree, path, "group: Postgres Slots}", "group: postgresql-slots}")
    edit(tree, path, '        - {substring: "max client connections reached", priority: 10}',
         '        - {substring: "max client connections reached", priority: 10, group: postgresql-slots}')
    assert not messages(ssot.check(conn, tree))
    assert ssot.sync(conn, tree)["patterns_inserted"] == 1, "a changed name re-inserts that one pattern"
    key = "SELECT ops.pattern_group_key('DB.CONNECTION_LIMIT', 'max client connections reached')"
    assert conn.execute(key).fetchone()[0] == "too many clients already", "the first pattern of the name keys its group"
    fingerprints = ("SELECT DISTINCT r.fingerprint FROM (VALUES ('FATAL:  sorry, too many clients already'), "
                    "                                     ('ERROR:  max client connections reached')) v (m) "
                    "CROSS JOIN LATERAL ops.record_error(source => 'ops', phase => 'connect', message => v.m) r")
    assert len(conn.execute(fingerprints).fetchall()) == 1, "two patterns of one name: one group"


def test_a_patterns_own_grouping_is_checked_synced_and_groups_by_the_pattern(conn, tree):
    """`grouping: pattern` on a pattern (docs/grouping.md, "One pattern grouped by itself"): under a code grouped by
    message the pattern groups every event it reads, the code's other patterns still group by text; refused with another
    value, under a code grouped by code or pattern, and where patterns that share a group name disagree; a sync without
    it moves nothing by itself, and ops.regroup_errors splits the pattern's group by text."""
    path = "ssot/errors/failure_modes.yaml"
    line = '        - {substring: "lost connection to mysql server", grouping: pattern}'
    column = ("SELECT grouping FROM ops.failure_mode_patterns "
              "WHERE code = 'DB.UNAVAILABLE' AND pattern = 'lost connection to mysql server'")
    assert conn.execute(column).fetchone()[0] == "pattern"
    mysql = ["(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')",
             "mysqldump: Error 2013: Lost connection to MySQL server during query when dumping table `t1` at row: 77"]
    other = ['could not connect to server: Connection refused\n\tIs the server running on host "orders.internal" (10.0.0.1)',
             'could not connect to server: Connection refused\n\tIs the server running on host "billing.internal" (10.0.0.2)']
    for m in mysql + other:
        conn.execute("SELECT ops.record_error(source => 'ops', phase => 'query', message => %s)", (m,))
    groups = ("SELECT matched_pattern, count(*), sum(count) FROM ops.agent_errors WHERE code = 'DB.UNAVAILABLE' "
              "GROUP BY 1 ORDER BY 1")
    assert conn.execute(groups).fetchall() == [("is the server running on host", 2, 2),
                                               ("lost connection to mysql server", 1, 2)], \
        "the pattern's two texts are one group; the code's other pattern still groups by text (two hosts, two groups)"

    edit(tree, path, line, line.replace("grouping: pattern", "grouping: message"))
    assert any("'grouping': 'message'" in m and "is not valid" in m for m in messages(ssot.check(conn, tree)))
    edit(tree, path, line.replace("grouping: pattern", "grouping: message"), line)
    edit(tree, path, '        - {substring: "secondary rate limit", priority: 5}',
         '        - {substring: "secondary rate limit", priority: 5, grouping: pattern}')
    assert any("INFRA.RATE_LIMITED: pattern" in m and "is for a pattern of a code grouped by message; the code groups by "
               "code" in m for m in messages(ssot.check(conn, tree)))
    edit(tree, path, "priority: 5, grouping: pattern}", "priority: 5}")
    edit(tree, path, line, line.replace("}", ", group: mysql-lost}"))
    edit(tree, path, '        - {substring: "server closed the connection unexpectedly", priority: 5, grouping: pattern}',
         '        - {substring: "server closed the connection unexpectedly", priority: 5, group: mysql-lost}')
    assert any("DB.UNAVAILABLE: pattern" in m and "but it shares group name 'mysql-lost': one group has one rule" in m
               for m in messages(ssot.check(conn, tree)))

    edit(tree, path, "priority: 5, group: mysql-lost}", "priority: 5, grouping: pattern}")
    edit(tree, path, line.replace("}", ", group: mysql-lost}"), line.replace(", grouping: pattern", ""))
    assert not messages(ssot.check(conn, tree))
    assert ssot.sync(conn, tree)["patterns_inserted"] == 1, "dropping the switch re-inserts that one pattern"
    assert conn.execute(column).fetchone()[0] is None
    assert conn.execute(groups).fetchall()[1] == ("lost connection to mysql server", 1, 2), "a sync moves no group"
    conn.execute("SELECT count(*) FROM ops.regroup_errors(dry_run => false)")
    assert conn.execute(groups).fetchall()[1] == ("lost connection to mysql server", 2, 2), \
        "regroup splits the pattern's group by text, counts kept"
    assert conn.execute("SELECT count(*) FROM ops.regroup_errors()").fetchone()[0] == 0, "nothing left to move"


def test_a_regex_that_spans_from_the_texts_start_must_not_group_by_message(conn, tree):
    """A regex anchored at `^` that crosses lines (a whole-text exclusion, `^(?!(.|\\n)*x)(.|\\n)*y`) matches from the
    message's first line, and the grouping text is the match's lines: every line before the cause would key the group.
    Refused under a code grouped by message unless the pattern groups by itself; a trailing exclusion is fine."""
    path = "ssot/errors/failure_modes.yaml"
    listener = ("Runner listener exited with error code 2\nRunner listener exit with retryable error, re-launch runner "
                "in 5 seconds.")
    for pid in (6021, 7433):  # the real pattern, grouped by itself: two pastes with different lines above are one group
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'job', message => %s)",
                     (f"Started listener process, pid: {pid}\n{listener}",))
    assert conn.execute("SELECT count(*), sum(count) FROM ops.agent_errors WHERE code = 'CI.RUNNER_LOST'").fetchone() \
        == (1, 2)
    regex = "^(?!(.|\\n)*an error occurred: not configured)(.|\\n)*runner listener exit(ed)? with (error|undefined return) code"
    edit(tree, path, f"{{regex: '{regex}', grouping: pattern}}", f"{{regex: '{regex}'}}")
    assert any("CI.RUNNER_LOST: regex" in m and "starts at the text's start and crosses lines" in m
               for m in messages(ssot.check(conn, tree)))
    edit(tree, path, f"{{regex: '{regex}'}}", "{regex: 'runner listener exited(?!(.|\\n)*an error occurred: x)'}")
    assert not messages(ssot.check(conn, tree)), "an exclusion after the match leaves the match where the cause is"
    assert ssot.spans_from_text_start(r"^[\s\S]{1,400}timed out") and ssot.spans_from_text_start(r"^.*x")
    assert not ssot.spans_from_text_start(r"^[^\n]*x") and not ssot.spans_from_text_start(r"^keyerror: '[a-z]+'$")


def test_not_sources_excludes_a_source_without_restricting_the_pattern(conn, tree):
    """`not_sources:` on a pattern (docs/classification.md, "Sources a pattern never reads"): the pattern is no candidate
    for those sources' events and counts as no restriction on step 3 for the others; refused beside `sources:` and with
    an unknown source name; the sync writes it, and a sync without it gives the source the pattern back."""
    path = "ssot/errors/failure_modes.yaml"
    # the pattern as the file spells it, and its regex as the database stores it (fragments put in)
    pattern = next(line for line in (tree / path).read_text().splitlines()
                   if "- {regex: '(^|[^a-z])internal ?server ?error" in line and line.endswith("not_sources: [odoo]}"))
    (mode,) = (fm for fm in ssot.Ssot.load().taxonomy["failure_modes"] if fm["code"] == "NET.UPSTREAM_ERROR")
    (regex,) = (p["regex"] for p in mode["detect"]["patterns"]
                if isinstance(p, dict) and p.get("not_sources") == ["odoo"] and "internal ?server ?error" in p.get("regex", ""))
    page = "500: Internal Server Error\nThe server encountered an internal error and was unable to complete your request."
    classify = "SELECT code FROM ops.classify_error(%s, 'runtime', %s)"
    assert conn.execute(classify, ("odoo", page)).fetchone()[0] == "UNKNOWN.ODOO"
    assert conn.execute(classify, ("ops", page)).fetchone()[0] == "NET.UPSTREAM_ERROR"
    restriction = "SELECT restriction FROM ops.classify_candidates('ops', 'runtime', %s, false) WHERE pattern = %s"
    assert conn.execute(restriction, (page, regex)).fetchone()[0] == 0, "not_sources is no restriction"

    edit(tree, path, pattern, pattern.replace("not_sources: [odoo]", "not_sources: [odo]"))
    assert any("NET.UPSTREAM_ERROR: pattern" in m and "unknown source 'odo'" in m
               for m in messages(ssot.check(conn, tree)))
    edit(tree, path, "not_sources: [odo]", "sources: [ops], not_sources: [odoo]")
    assert any("NET.UPSTREAM_ERROR: pattern" in m and "has both sources and not_sources" in m
               for m in messages(ssot.check(conn, tree)))

    edit(tree, path, "sources: [ops], not_sources: [odoo]}", "}")
    assert not messages(ssot.check(conn, tree))
    ssot.sync(conn, tree)
    assert conn.execute(classify, ("odoo", page)).fetchone()[0] == "NET.UPSTREAM_ERROR", "the column is what excludes"


def test_ci_behavior_that_contradicts_the_text_or_the_gate_is_refused(conn, tree):
    """The merge gate reads ci_behavior alone: a code whose title or description says it does not block while
    ci_behavior blocks (or is not set) is refused, and so is a guardrail code with non_blocking_until_fixed."""
    path = "ssot/errors/failure_modes.yaml"
    edit(tree, path, "    ci_behavior: non_blocking\n    description: >-\n      The project-automation job",
         "    ci_behavior: blocking\n    description: >-\n      The project-automation job")
    edit(tree, path, "retryable: false\n    http_status: null\n    ci_behavior: blocking\n    description: >-\n      FM-05.",
         "retryable: false\n    http_status: null\n    ci_behavior: non_blocking_until_fixed\n    description: >-\n      FM-05.")
    found = messages(ssot.check(conn, tree))
    board = [m for m in found if "CI.AUTOMATION.PROJECT_BOARD_FAILED" in m]
    assert len(board) == 1 and "says 'non-blocking' but ci_behavior is blocking" in board[0]
    line = int(board[0].split(":")[1])
    assert (tree / path).read_text().splitlines()[line - 1].strip() == "ci_behavior: blocking"
    assert any("UNIT.GATE_REMOVED: a guardrail code is blocking or non_blocking" in m for m in found)

    edit(tree, path, "    ci_behavior: blocking\n    description: >-\n      The project-automation job",
         "    description: >-\n      The project-automation job")
    edit(tree, path, "title: Project board automation failed (non-blocking)", "title: Project board automation failed")
    board = [m for m in messages(ssot.check(conn, tree)) if "CI.AUTOMATION.PROJECT_BOARD_FAILED" in m]
    assert len(board) == 1 and "says 'never blocks a merge' but ci_behavior is not set (blocking)" in board[0]
