-- Grouping version 35 (issue 9, tuned on dev, dev-holdout1 and dev-blind2 ... dev-blind58; docs/grouping.md): one
-- step added to ops.normalize_message, behind its literal guard (tests/test_normalize_guards.py), checked on all
-- fifty-nine tuning splits:
--  * Terraform's location of a diagnostic in a resource, data source or module, flattened on the summary's line
--    ("Error: Unauthorized on <file> line <n>, in resource "<type>" "<name>":"), is dropped, as version 18 drops it
--    on its own lines and version 27 drops a provider block's flattened one (tf-b58pair-07).
-- ops.grouping_text, ops.fingerprint_text, ops.error_fingerprint and the per-code grouping rules are unchanged.
-- Fingerprints carry version 35: the tag "fp35|" is built from ops.current_fingerprint_version(), the one place the
-- version is written. The classification cache key includes the version, and the taxonomy version is raised as well,
-- so no entry of version 34 is read again. Rows written under version 34 stay as they are and stay readable;
-- `ops errors regroup` (ops.regroup_errors) moves them.

CREATE OR REPLACE FUNCTION ops.normalize_message(message text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, ops
AS $$
DECLARE
    -- Marks a number that is kept (exit code, HTTP status, signal) so the number rule skips it.
    keep constant text := U&'\E000';
    -- A stored message is at most 32768 characters plus a truncation marker; a longer direct argument is
    -- cut here so that a 10 MB call costs what a stored message does.
    m text := ops.fold_text(left(message, 40000));
    -- No step below adds a digit, so a text without one at the start never has one.
    has_digit constant boolean := translate(m, '0123456789', '') <> m;
    -- The record types version 24's steps read as "<type>", written once (a regex group).
    dns_types constant text := '(a|aaaa|caa|txt|cname|mx|ns|soa|ds|dnskey|srv|ptr|https|svcb|any)';
    -- Version 33. The digits of a hex exit status, held as these private-use characters (no step reads them) until
    -- the end.
    held_digits constant text := U&'\E010\E011\E012\E013\E014\E015\E016\E017\E018\E019';
    -- Version 33. The words before an exit status ("exit status ", "exited with exit code: "), one capturing group.
    exit_words constant text := '(exit(?:ed)?[[:space:]_-]*(?:code|status|with(?:[[:space:]]+exit)?(?:[[:space:]]+(?:code|status))?)?[[:space:]:=]*)';
    -- Version 34. A weekday (which may be missing) and a month's name as a date prints them ("Tue, ", "Dec",
    -- "Sept."), written once for both orders of a date.
    day_name constant text := '((mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6},?[[:blank:]]+)?';
    month_name constant text := '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?';
    code text;
BEGIN
    -- PostgreSQL keeps only 32 compiled regexes per session (MAX_CACHED_RES in src/backend/utils/adt/regexp.c)
    -- and evicts the least recently used: run every time, the 30-odd regexes below (with classification's and
    -- redaction's) recompile on every call. Each step that cannot change the text runs only when a literal it
    -- needs is present; every "IF ... THEN  -- guard" is a necessary condition of its regexes matching, so the
    -- result is the same as running them all (tests/test_normalize_guards.py runs both and compares).
    -- Version 34. Docker Compose prints each line of a container's log after its service's name, the replica's number
    -- and " | " ("keydb-1  | <line>", Compose 1: "tile-server_1  | <line>"); which replica printed it, and whether
    -- the paste came through Compose at all, is not the failure (ops-b45pair-05; ops-b45pair-11, which stays apart
    -- by its wording, and blind19's, blind20's and blind42's messages print it too). Only leading a line:
    -- "<name>[-_]<n>", blanks, "|" and one blank (or the line's end), so a "|" table or "a | b" stays.
    IF strpos(m, ' | ') > 0 OR strpos(m, ' |' || chr(10)) > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*[a-z0-9][a-z0-9_.-]*[-_][0-9]+[[:blank:]]+\|( |$)', '', 'gin');
    END IF;
    -- Version 32. A JavaScript error's stack serialized in a JSON string ({"stack":"Error: <message>\n    at <frame>
    -- (<file>:<line>:<col>)\n    at …") escapes its line breaks: the frames, dropped as lines by the version 8 step
    -- below when the log printed them, stay on the message's line here. Escaped frame lines ending in a line number
    -- are dropped, and so is the object's opening brace with the "stack" field name leading a line (without the brace
    -- the version 9 step drops the field name): the message is the failure (vercel-b40pair-08, ops-b43pair-03).
    IF strpos(m, '\n') > 0 AND strpos(m, 'at ') > 0 THEN  -- guard
        m := regexp_replace(m, '(\\n[[:blank:]]+at ([^"\n\\]|\\\\)*:[0-9]+\)?)+', '', 'g');
    END IF;
    IF strpos(m, '"stack":') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*\{[[:blank:]]*"stack":[[:blank:]]*"', '', 'gn');
    END IF;
    -- Version 33. A Markdown code fence ("```bash", "```json", "```") on lines of their own around a pasted log is
    -- how the paste was written, not the failure: one paste of a step's error fences it, another does not
    -- (gha-b44pair-05; blind13's and blind42's messages fence theirs too). A fence line, with its language, is
    -- dropped.
    IF strpos(m, '```') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*```[A-Za-z0-9_+.-]*[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 33. A Python exception a notebook or an editor printed as a JSON object ({<newline> "name":
    -- "ValueError",<newline> "message": "<message>", …) names its class in a field of its own where a traceback
    -- prints "ValueError: <message>" (the class dropped below): the opening brace and the class field before a
    -- "message" field are dropped, the message field is read by version 9's step (agent-b44pair-03; blind4's
    -- messages print it too).
    IF strpos(m, '"name":') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*\{[[:blank:]]*\n[[:blank:]]*"name":[[:blank:]]*"([a-z_][a-z0-9_]*\.)*[A-Z][A-Za-z0-9]*(Error|Exception)",[[:blank:]]*\n(?=[[:blank:]]*"message":)',
                            '', 'gn');
    END IF;
    -- Version 16. A GitHub Actions workflow command ("::error::<message>", "::warning file=<f>,line=<n>::<message>")
    -- is how a step hands the runner its message; what precedes the command on its line (a tool that echoed or
    -- returned it, "devcontainers/ci return \"::error::…\"", a runner's step tag) wraps it: the message alone is the
    -- same failure (gha-b18pair-09). First, before the region-scoped id rule reads "line=3::" as an id; a class path
    -- (std::io::Error, PG::Error) is not a command: "::" follows a letter there.
    IF strpos(m, '::') > 0 THEN  -- guard
        m := regexp_replace(m, '^([^\n]*[^a-z0-9_:\n])?::(error|warning|notice)( [a-z]+=[^:\n]*)?::[[:blank:]]*', '', 'gin');
    END IF;
    -- Version 6. A Markdown link [text](url) is its text: one paste turned help.example.com into
    -- [help.example.com](https://help.example.com/), another did not.
    IF strpos(m, '](') > 0 THEN  -- guard
        m := regexp_replace(m, '\[([^][' || chr(10) || ']{1,200})\]\([a-z][a-z0-9+.-]*://[^()[:space:]]*\)', '\1', 'gi');
    END IF;
    -- URLs keep scheme, host and port; user info is dropped and any path, query or fragment becomes /<path>.
    IF strpos(m, '://') > 0 THEN  -- guard
        m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://([^/[:space:]''"<>()@]*@)?([^/[:space:]''"<>():?#]*)(:[0-9]+)?[/?#][^[:space:]''"<>()]+',
                            '\1://\3\4/<path>', 'gi');
        m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://[^/[:space:]''"<>()@]*@', '\1://', 'gi');
    END IF;
    IF strpos(m, '@') > 0 THEN  -- guard
        m := regexp_replace(m, '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}', '<email>', 'gi');
    END IF;
    IF strpos(m, '-') > 0 THEN  -- guard
        m := regexp_replace(m, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi');
        m := regexp_replace(m, '[0-9]{4}-[0-9]{2}-[0-9]{2}([t ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(z|[+-][0-9]{2}:?[0-9]{2})?)?',
                            '<ts>', 'gi');
    END IF;
    -- Colon-separated hex groups (4 or more: key fingerprints, MACs, IPv6) before times of day (3 groups).
    IF strpos(m, ':') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^0-9a-f:])[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3,}(?![0-9a-f:])', '\1<hex>', 'gi');
        m := regexp_replace(m, '[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?', '<time>', 'g');
    END IF;
    -- Version 34. A date written with a month's name before a time of day (syslog's "Dec 20 15:00:45", Redis's "03
    -- Dec 2024 22:23:15.279", an HTTP date's "Tue, 02 Jan 2024 10:00:00", a weekday allowed before it) is a timestamp
    -- as "2024-12-03T22:23:15" is: it reads <ts> (dropped leading a line with the other decorations). The time of day
    -- read <time> and the day <n>, but the month's name was kept, so one failure logged in two months read as two
    -- (ops-b45pair-05; 63 pairs of thirty tuning splits print such dates, dns-b45pair-02's and dns-b42pair-08's
    -- syslog lines among them). Only before a time of day, so a date alone ("Dec 20") stays.
    IF strpos(m, '<time>') > 0 THEN  -- guard
        -- "Dec 20 15:00:45", "Jan 5, 2024 10:00:00" (month, day, a year allowed) ...
        m := regexp_replace(m, '(^|[^a-z0-9])' || day_name || month_name
                               || '[[:blank:]]+[0-9]{1,2},?([[:blank:]]+[0-9]{4})?[[:blank:]]+<time>', '\1<ts>', 'gi');
        -- ... and "03 Dec 2024 22:23:15.279", "Tue, 02 Jan 2024 10:00:00" (day, month, year).
        m := regexp_replace(m, '(^|[^a-z0-9])' || day_name || '[0-9]{1,2}[[:blank:]]+' || month_name
                               || '[[:blank:]]+[0-9]{4}[[:blank:]]+<time>', '\1<ts>', 'gi');
    END IF;
    -- Opaque ids, case-sensitive (before lower-casing): well-known API prefixes with any tail ...
    IF strpos(m, '_') > 0 OR strpos(m, '-') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])(req|toolu|srvtoolu|msg|msgbatch|call|chatcmpl|resp|asst|thread|dpl|prj|evt|cus|sub|txn|pi|ch|cs)([_-])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                            '\1\2\3<id>', 'g');
    END IF;
    -- ... any other word_<tail> whose tail of 8+ characters has a digit (a snake_case word never does) ...
    IF strpos(m, '_') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])([A-Za-z][A-Za-z0-9]{0,15})_(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                            '\1\2_<id>', 'g');
    END IF;
    -- ... region-scoped ids (Vercel's iad1::abcde-1700000000000-0123456789ab). Version 6: first, an IPv6 address
    -- written with "::" (::1, fe80::1ff:fe23) is an address like an IPv4 one (<ip>): localhost is ::1 or 127.0.0.1.
    -- It has a digit and only hex groups, so std::io and Foo::Bar are not addresses.
    IF strpos(m, '::') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^0-9A-Za-z:.])(?=[0-9A-Fa-f:]*[0-9])([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6})?::([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6})?(?![0-9A-Za-z:])',
                            '\1<ip>', 'g');
        m := regexp_replace(m, '(^|[^A-Za-z0-9:])(?=[A-Za-z0-9:-]*[0-9])[A-Za-z0-9]+::[A-Za-z0-9:-]+', '\1<id>', 'g');
    END IF;
    -- Version 8. An address its poster masked with x (192.168.x.x, x.x.x.x, xxxx:xxxx:…:xxxx) is an address (<ip>): the
    -- next paste of the failure masks it differently or not at all.
    IF strpos(m, '.x') > 0 OR strpos(m, 'x.') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9.])(?=[0-9.]*x)([0-9]{1,3}|x{1,3})(\.([0-9]{1,3}|x{1,3})){3}(:[0-9]{1,5})?(?![A-Za-z0-9.])',
                            '\1<ip>', 'g');
    END IF;
    IF strpos(m, 'x:x') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9:])x{1,4}(:x{1,4}){3,7}(?![A-Za-z0-9:])', '\1<ip>', 'g');
    END IF;
    IF strpos(m, '.') > 0 THEN  -- guard
        m := regexp_replace(m, '[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?', '<ip>', 'g');
    END IF;
    -- Version 33. Exit codes are kept (below, in decimal); a hex exit status (Windows' NTSTATUS: Ollama's "exit status
    -- 0xc0000409", a stack buffer overrun, and "exit status 0xc000001d", an illegal instruction) is one too, but the
    -- 0x step read every one as <hex> (agent-b44pair-08, "different"). Its digits are held out of the number steps as
    -- private-use characters and put back at the end.
    IF (strpos(m, '0x') > 0 OR strpos(m, '0X') > 0) AND m ILIKE '%exit%' THEN  -- guard
        FOR code IN SELECT DISTINCT x[2] FROM regexp_matches(m, exit_words || '(0x[0-9a-f]{1,16})(?![0-9a-z_])', 'gi') AS x LOOP
            m := regexp_replace(m, exit_words || code || '(?![0-9a-z_])', '\1' || translate(code, '0123456789', held_digits),
                                'gi');
        END LOOP;
    END IF;
    IF strpos(m, '0x') > 0 OR strpos(m, '0X') > 0 THEN  -- guard
        m := regexp_replace(m, '0x[0-9a-f]+', '<hex>', 'gi');
    END IF;
    -- Version 26. A syslog tag "<program>[<pid>]:" names the process that logged the line: the pid differs between two
    -- runs of one failure, and the hex step below would read one of 7+ digits as <hex> where a shorter one reads <n>
    -- (openarchiver[2872981]: and openarchiver[9070]:, ops-b36pair-01; dnsmasq[<pid>]: in blind35's messages). The pid
    -- in such a tag reads "<n>" whatever its length; a bracketed number not followed by ":" is kept to the steps below.
    IF strpos(m, ']:') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9_.-])([A-Za-z][A-Za-z0-9_.-]{0,63})\[[0-9]+\]:', '\1\2[<n>]:', 'g');
    END IF;
    -- Hex ids of 7+ characters with at least one digit, letters or not: a digits-only id and its
    -- lettered siblings get the same placeholder.
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9_])(?=[A-Fa-f]*[0-9])[0-9A-Fa-f]{7,}(?![A-Za-z0-9_])', '\1<hex>', 'g');
    END IF;
    -- Long tokens mixing letters and digits (base62/base64 ids, hashes).
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{16,}(?![A-Za-z0-9])', '\1<id>', 'g');
    END IF;

    -- Version 20. botocore prints a service's error as "An error occurred (<Code>) when calling the <Operation> operation:
    -- <message>" (with " (reached max retries: <n>)" after the operation when it retried), where the service's own
    -- client prints "<Code> - <message>" or "<Code>: <message>": the code and the message are the failure, the operation
    -- the caller happened to call is not (one profile without access to one model, refused in InvokeModel and in an
    -- embedding call: agent-b28pair-03). The text reads "<Code>: <message>", so a code that is an exception class is
    -- dropped by the next step like any leading class, and any other code is kept.
    IF strpos(m, ' when calling the ') > 0 THEN  -- guard
        m := regexp_replace(m, 'an error occurred \(([A-Za-z][A-Za-z0-9_.]{0,80})\) when calling the [A-Za-z0-9_]{1,80} operation( \(reached max retries: [0-9]+\))?: ',
                            '\1: ', 'gi');
    END IF;
    -- Version 20. Odoo's web client shows an error a promise rejected with as "Uncaught Promise > <message>" (Odoo 16, 17)
    -- or "UncaughtPromiseError > <class>: <message>", where the error dialog of the same failure prints "<class>:
    -- <message>" (OwlError, TypeError, dropped as a leading class below): the prefix is how the error reached the
    -- dialog (odoo-b28pair-04; blind10's, blind16's and blind20's messages print it too).
    IF strpos(m, 'Uncaught') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*(Uncaught Promise|UncaughtPromiseError) > ', '', 'gn');
    END IF;

    -- An exception class leading a line (FetchError:, psycopg2.OperationalError:, (botocore.errorfactory.NoSuchBucket))
    -- is how one runtime wraps the failure, not the failure. Version 6: so is an HTTP status that starts a quoted
    -- message ("404 models/x is not found" is the message "models/x is not found" another client prints without it).
    -- Version 11: so is a chain of them ("litellm.exceptions.APIConnectionError: litellm.APIConnectionError:
    -- OllamaException - <message>"): one client prints two or three classes before the message, another one
    -- (agent-b11pair-03); the step drops them all, as one repeated group, still only at a line start.
    IF strpos(m, 'Error') > 0 OR strpos(m, 'Exception') > 0 OR strpos(m, 'Fault') > 0 OR strpos(m, '.') > 0
       OR strpos(m, '"') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*((\(?(([a-z_][a-z0-9_]*\.)*[A-Z][A-Za-z0-9]*(Error|Exception|Fault)|([a-z_][a-z0-9_]*\.)+[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\)?:?|"[1-5][0-9]{2}(?=[[:blank:]]+[A-Za-z]))[[:blank:]]+)+',
                            '', 'gn');
    END IF;
    m := lower(m);
    -- Version 19. Next.js's "Failed to collect page data for <route>" names the page whose data failed (/_sites/[site]/
    -- [slug], /api/[[...route]]): a route of the app, not a file path, so the path rule below does not read it as <path>
    -- (the kept mark before it is dropped with the others; vercel-b24pair-07).
    IF strpos(m, 'page data for /') > 0 THEN  -- guard
        m := replace(m, 'page data for /', 'page data for ' || keep || '/');
    END IF;
    IF strpos(m, '/') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[[:space:]''"(=:])(/[^[:space:]/''"():]+){2,}/?', '\1<path>', 'g');
    END IF;
    IF strpos(m, ':\') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z])[a-z]:\\[^[:space:]''"]+', '\1<path>', 'g');
    END IF;

    -- Version 8. The list of versions a setup action appends after "Available versions:" changes with every image
    -- update; the version asked for, before it, names the failure.
    IF strpos(m, 'available versions:') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*available versions:[^\n]*', '', 'g');
    END IF;

    -- Version 17. The toolchain version a setup action was asked for and cannot provide ("The version '3.8' with
    -- architecture 'x64' was not found", "Version 3.7 with arch x64 not found") names the failure, as the version 8
    -- step says of the "Available versions:" list after it: two workflows asking for 3.7 and 3.8 are two failures,
    -- so its numbers are kept (gha-b16pair-06); the runner's OS version after it stays <n>.
    IF strpos(m, 'version ') > 0 AND strpos(m, ' with arch') > 0 THEN  -- guard
        m := regexp_replace(m, '(version ''?[a-z]{0,8})([0-9]{1,4})(\.?)([0-9]{0,4})(\.?)([0-9]{0,4})(''? with arch)',
                            '\1' || keep || '\2\3' || keep || '\4\5' || keep || '\6\7', 'g');
    END IF;

    -- Version 22. Odoo's prefork server names a worker by its process id in parentheses ("WorkerHTTP (380) timeout after
    -- 120s", "WorkerCron (<pid>) timeout", "Worker (<pid>) CPU time limit (<n>) reached."): the id is the process the
    -- limit happened to stop, not the failure, and a three-digit one is not an HTTP status (the "(<status>)" rule below
    -- would keep it): it reads "(<n>)" (odoo-b14pair-05, odoo-b26pair-08).
    IF strpos(m, 'worker') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9_])(worker(http|cron)?) \(([0-9]+|<hex>)\)', '\1\2 (<n>)', 'g');
    END IF;

    -- Version 26. GitHub refuses a job that "uses a deprecated version of <owner>/<action>: v<n>"; each major version of
    -- an action is retired by its own notice (upload-artifact v1 and v2 in February 2024, v3 in April), so the major
    -- version names the failure (gha-b23pair-07, gha-b31pair-01, "different"): it is kept, as a setup action's
    -- requested version is (version 17); its minor and patch are not.
    IF strpos(m, 'deprecated version of ') > 0 THEN  -- guard
        m := regexp_replace(m, '(deprecated version of `?[a-z0-9_.-]+/[a-z0-9_./-]+: v?)([0-9]{1,4})(?![0-9])',
                            '\1' || keep || '\2', 'g');
    END IF;
    -- Numbers that carry meaning are kept: exit codes, signals, HTTP statuses.
    IF strpos(m, 'exit') > 0 THEN  -- guard
        m := regexp_replace(m, '(exit(ed)?[[:space:]_-]*(code|status|with([[:space:]]+exit)?([[:space:]]+(code|status))?)?[[:space:]:=]*)([0-9]{1,3})(?![0-9])',
                            '\1' || keep || '\7', 'g');
    END IF;
    IF strpos(m, 'signal') > 0 THEN  -- guard
        m := regexp_replace(m, '(signal[[:space:]:]*)([0-9]{1,2})(?![0-9])', '\1' || keep || '\2', 'g');
    END IF;
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '((status|status[[:space:]_-]?code|http|responded with|response code|returned|code|error)[[:space:]:=]*\(?)([1-5][0-9]{2})(?![0-9])',
                            '\1' || keep || '\3', 'g');
        m := regexp_replace(m, '\(([1-5][0-9]{2})\)', '(' || keep || '\1)', 'g');
        m := regexp_replace(m, '(^|[^0-9.])([1-5][0-9]{2})([[:space:]]+(ok|created|accepted|no content|moved|found|not modified|bad request|unauthorized|payment required|forbidden|not found|method not allowed|not acceptable|request timeout|conflict|gone|payload too large|request entity too large|unprocessable|too many requests|internal server error|not implemented|bad gateway|service unavailable|gateway timeout|overloaded))',
                            '\1' || keep || '\2\3', 'g');
    END IF;

    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+(\.[0-9]+)?[[:space:]]?(ms|us|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)(?=[^a-z]|$)',
                            '<dur>', 'g');
    END IF;
    -- A number with thousands separators is one number (10,000 and 1,000,000 tokens per minute).
    IF strpos(m, ',') > 0 THEN  -- guard
        m := regexp_replace(m, '(?<![0-9,' || keep || '])[0-9]{1,3}(,[0-9]{3})+(?![0-9])', '<n>', 'g');
    END IF;
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+', '<n>', 'g');
    END IF;
    -- A list of record ids is one placeholder: res.partner(15, 27, 31) and res.partner(11, 9) are one recordset kind.
    IF strpos(m, '<n>,') > 0 THEN  -- guard
        m := regexp_replace(m, '([(\[])<n>(,[[:blank:]]*<n>)+,?([])])', '\1<n>\3', 'g');
    END IF;
    m := replace(m, keep, '');
    -- Version 3. A web URL's scheme is dropped (the host is kept): status.example.com and
    -- https://status.example.com are one link. A trailing "Learn more: <link>" (or SQLAlchemy's
    -- "(Background on this error at: <link>)") is dropped.
    IF strpos(m, '://') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9+.-])(https?|wss?)://', '\1', 'g');
    END IF;
    IF strpos(m, 'more') > 0 OR strpos(m, '(background on this error at') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*(learn more|read more|more info(rmation)?|\(background on this error at)[[:blank:]]*:?[[:blank:]]*[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?(/<path>)?\)?[[:blank:]]*$',
                            '', 'gn');
    END IF;
    -- The quoted function name a platform prints in a size or invocation error varies between occurrences of
    -- one failure (one bundle too large for the plan); a role name does not (each role is its own credential).
    IF strpos(m, 'function') > 0 THEN  -- guard
        m := regexp_replace(m, '((^|[^a-z])function[[:blank:]]+)(["''])[^"''[:space:]]{1,200}\3', '\1\3<name>\3', 'g');
    END IF;
    -- Version 9. A JSON log's field name leading a line ("@message":"Error: …", "summary":"…") is how that log printed
    -- the message: the same message in another field, or printed alone, is the same failure.
    IF strpos(m, '":') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*"@?[a-z_]{1,40}":[[:blank:]]*"', '', 'gn');
    END IF;
    -- Version 20. A pictograph leading a line (a CLI's status mark: Codex's 🖐 and ⚠️, ✖, ■, ●, ⨯, ❌; the arrows, technical
    -- and geometric symbols, dingbats and emoji blocks, with an emoji's variation selector) is a decoration like the
    -- box-drawing and bullet characters below: one CLI release prints it before the message, another a different
    -- one or none (agent-b16pair-02). Only before a blank, so a symbol inside a word or an expression stays.
    IF octet_length(m) > length(m) THEN  -- guard: a character outside ASCII
        m := regexp_replace(m, '^[[:blank:]]*[' || U&'\2190' || '-' || U&'\2BFF' || U&'\+01F300' || '-' || U&'\+01FAFF'
                               || U&'\FE0F' || ']+[[:blank:]]+', '', 'gn');
    END IF;
    -- Log decorations at the start of each line (timestamps, [bracketed] tags, ##[error], box-drawing
    -- and bullet characters, a bare severity word) differ between two pastes of one failure.
    m := regexp_replace(m, '^[[:blank:]]*((<ts>|<time>|\[[^]' || chr(10) || ']{0,40}\]|##\[[a-z]+\]|[│╷╵⎿├└|>*•·-]+|(error|err|fatal|warn|warning|info|debug|notice|panic|critical)[[:blank:]]*[:!])[[:blank:]]*)+',
                        '', 'gn');
    -- Version 9. A log record's level and logger name between " = " or " | " separators ("<ts> = ERROR = cmd_cron =
    -- <message>", "| WARNING | app.db | <message>") are the record's fields: two loggers print one failure.
    IF strpos(m, ' = ') > 0 OR strpos(m, ' | ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*([=|] +)?(error|warning|warn|info|debug|critical|fatal) +([=|]) +[a-z0-9_.:-]{1,80} +\3 +', '', 'gn');
    END IF;
    -- Version 8. A JavaScript stack frame line ("    at async UserWorker.fetch (ext:x/y.js:54:21)", "at <path>:3:9")
    -- names where the error passed, not the failure: one failure reaches the log through different frames.
    IF strpos(m, 'at ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*at [^\n]*:<n>\)?[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 8. The edge runtime's "worker boot error" before the boot error's cause (with or without ":" and its
    -- InvalidWorkerCreation class) is the runtime's wrapper: the cause alone is the same failure.
    IF strpos(m, 'worker boot error') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*(invalidworkercreation:[[:blank:]]*)?worker boot error:?[[:blank:]]+(?=[^[:blank:]])', '', 'gn');
    END IF;
    -- Version 20. Codex CLI's notes around a provider's error: "; retrying <n>/<n> in <dur>…" after a stream error it will
    -- retry (the last attempt prints the message alone), and ", url: <endpoint>, cf-ray: <ray>, request id: <id>" after
    -- the message in some releases (the ray and id differ on every request, the endpoint by login kind): the message is
    -- the failure (agent-b16pair-02, agent-b23pair-08; blind2's, blind8's and blind19's messages print them too).
    IF strpos(m, 'retrying <n>/<n> in ') > 0 THEN  -- guard
        m := regexp_replace(m, ';?[[:blank:]]*retrying <n>/<n> in <dur>(…|\.\.\.)?[[:blank:]]*$', '', 'gn');
    END IF;
    IF strpos(m, 'cf-ray:') > 0 THEN  -- guard
        m := regexp_replace(m, ',[[:blank:]]*url:[[:blank:]]*[^[:space:]]*,?[[:blank:]]*cf-ray:[^\n]*$', '', 'gn');
    END IF;
    -- Version 4. A reference link that ends a line after a dash or in parentheses (an RFC section, the API
    -- endpoint a client names) is dropped: one client prints it, another does not. A JSON string's quotes and
    -- the comma or brace after it, and JSON escapes of quotes, are not part of the text: "<text>", and <text>
    -- are one line.
    IF strpos(m, '/<path>') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]+(-[[:blank:]]+|\()[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/<path>\)?[[:blank:].]*$', '', 'gn');
    END IF;
    -- Version 8. A log record's fields around the message: a line that goes on with ", error=<the same text>" and a
    -- JavaScript or Python object printed around the message ('…' }) are one line with the message alone.
    IF strpos(m, 'err') > 0 THEN  -- guard
        m := regexp_replace(m, ',[[:blank:]]*(error|err)=[^\n]*$', '', 'gn');
    END IF;
    IF strpos(m, '}') > 0 THEN  -- guard
        m := regexp_replace(m, '''[[:blank:]]*\}[[:blank:]]*$', '', 'gn');
    END IF;
    IF strpos(m, '"') > 0 THEN  -- guard
        m := replace(m, '\"', '"');
        m := regexp_replace(m, '^[[:blank:]]*"|"[[:blank:]]*[,}\]]*[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 8. A reference link that ends a line after the sentence it documents (an RFC section after "maximum DNS
    -- lookups") is dropped like one after " - " (v4): one client prints it, another does not. A link that is the object
    -- of the line (after to, for, from, at, url, host, get, post, fetch, download, resolve, connect, clone, pull, push ...)
    -- names what failed and is kept.
    IF strpos(m, '/<path>') > 0 THEN  -- guard
        m := regexp_replace(m, '(?<!( to| for| from| at| on| url| uri| host| get| post| put| head| patch| delete| via| of| in| with| by| into| fetch| fetching| download| downloading| load| loading| reach| resolve| resolving| request| requesting| connect| connecting| open| opening| clone| cloning| pull| pulling| push| pushing| call| calling| upload| uploading|:))[[:blank:]]+[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/<path>[[:blank:].]*$', '', 'gn');
    END IF;
    -- Version 10. A shell's report of a missing command: dash and busybox print "sh: <n>: next: not found" or "sh: next:
    -- not found", bash "sh: line <n>: next: command not found"; each is "next: command not found" (vercel-b10pair-05).
    IF strpos(m, 'sh: ') > 0 AND strpos(m, 'not found') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9./_-])sh: (line <n>: |<n>: )?([^[:space:]:]+): (command )?not found',
                            '\1\3: command not found', 'g');
    END IF;
    -- Version 12. Terraform's "When applying changes to <resource address>, provider "<p>" produced an unexpected new
    -- value" names the resource instance one provider bug hit: one bug on two resources (two modules of one for_each)
    -- is one failure, and the provider named after it is kept (tf-b12pair-01).
    IF strpos(m, 'when applying changes to ') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z])when applying changes to [^[:space:],]+,[[:blank:]]+(?=provider )', '\1', 'g');
    END IF;
    -- Version 19. The attribute Terraform names after a provider's "produced an unexpected new value: " or "produced an
    -- invalid new value for " (".webserver_url:", ".input[<n>].customer_owned_ipv4_pool:") is one of the values one
    -- provider bug got wrong on one resource: the bug, the provider named before it and the values printed after it are
    -- kept (tf-b24pair-02; blind13's and blind22's "same" pairs of one resource on two attributes).
    IF strpos(m, 'produced an ') > 0 THEN  -- guard
        m := regexp_replace(m, '(produced an (unexpected new value:|invalid new value for)) \.[^[:space:]]*?:(?=[[:space:]]|$)', '\1',
                            'g');
    END IF;
    -- Version 15. npm's log prefix leading a line ("npm ERR! ", npm 10's "npm error ", and the "network " heading npm
    -- puts before a network failure) is how npm printed the message: the same message printed by Node alone, or after
    -- npm's "request to … failed, reason: ", is the same failure (dns-b16pair-02, dns-b17-pair-03).
    IF strpos(m, 'npm err') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*npm (err!|error) (network )?', '', 'gn');
    END IF;
    -- Version 15. Node prints one failed lookup as "getaddrinfo <code> <host>", "getaddrinfo <code> <host>:<port>" or
    -- "getaddrinfo <code> <host> <host>:<port>" depending on its version and caller; the host names the failure, the
    -- port and the repeated host do not (dns-b17-pair-03).
    IF strpos(m, 'getaddrinfo ') > 0 THEN  -- guard
        m := regexp_replace(m, '(getaddrinfo [a-z_]+ )([a-z0-9_.-]+)( \2)?:<n>(?![a-z0-9_.:<-])', '\1\2', 'g');
    END IF;
    -- Version 15. Older curl releases printed "Couldn't resolve host 'x'" where later ones print "Could not resolve
    -- host: x": one failure in two wordings (dns-b17-pair-09).
    IF strpos(m, 'couldn''t resolve ') > 0 THEN  -- guard
        m := regexp_replace(m, 'couldn''t resolve (host|proxy) ''([^''[:space:]]+)''', 'could not resolve \1: \2', 'g');
    END IF;
    -- Version 15. The quotes and parentheses that close the Python exception objects printed around a message at the
    -- end of a line ("…name resolution'))"), and urllib3's "': <url path>" after them in pip's retry warning, are how
    -- the message was wrapped, not the failure (dns-b17-pair-08).
    IF strpos(m, ''')') > 0 THEN  -- guard
        m := regexp_replace(m, '''\)['')]*(:[[:blank:]]*<path>/?)?[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 15. Ruby prints an uncaught exception as "<message> (<Class>)", its class in parentheses at the end of
    -- the line, where irb or a rescue prints "<Class>: <message>" (dropped as a leading class above): the class is how
    -- the runtime wrapped the message (dns-b14pair-07, "… or not known (SocketError)").
    IF strpos(m, 'error)') > 0 OR strpos(m, 'exception)') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]+\(([a-z][a-z0-9_]*::)*[a-z][a-z0-9_]*(error|exception)\)[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 15. Node's "Require stack:" after "Cannot find module '<x>'" lists the files that required it, one per
    -- line; a log that flattened the lines puts them after the message on one line: one missing module either way
    -- (vercel-b16pair-02).
    IF strpos(m, 'require stack:') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*require stack:[^\n]*', '', 'g');
    END IF;
    -- Version 16. OpenUpgrade logs an exception raised in a migration script as "<module>: error in migration script
    -- <path>: <exception>", and the same exception again without them: the module and script name where the failure
    -- surfaced, the exception is the failure (odoo-b18pair-08; also blind3's and blind7's messages).
    IF strpos(m, 'error in migration script ') > 0 THEN  -- guard
        m := regexp_replace(m, '([a-z0-9_]+:[[:blank:]]+)?error in migration script [^[:space:]]+:[[:blank:]]+', '', 'g');
    END IF;
    -- Version 16. A bare severity word with its colon ending a line after the text ("… due to administrator command
    -- FATAL:") starts the next log record, which a wrapped or joined log left on this line: it is not this line's
    -- failure (ops-b14pair-09). A line that is only the word is left to the decoration step above.
    IF strpos(m, 'fatal:') > 0 OR strpos(m, 'error:') > 0 OR strpos(m, 'panic:') > 0 OR strpos(m, 'warning:') > 0 THEN  -- guard
        m := regexp_replace(m, '([^[:space:]])[[:blank:]]+(fatal|error|panic|warning):[[:blank:]]*$', '\1', 'gn');
    END IF;
    -- Version 17. apt prints "Temporary failure resolving '<mirror>'" (the resolver gave no answer, EAI_AGAIN) for each
    -- mirror of its sources list, under "Err:<n> <url>" or after "W: Failed to fetch <url> " on the same line; which
    -- mirror a paste shows is where apt happened to be, the broken resolver is the failure (dns-b8pair-01,
    -- dns-b10pair-02, dns-b19pair-08). The mirror and the URL before it are dropped; apt's "Could not resolve
    -- '<host>'" (no such name) keeps its host.
    IF strpos(m, 'temporary failure resolving ''') > 0 THEN  -- guard
        m := regexp_replace(m, '(failed to fetch [^[:space:]]+[[:blank:]]+)?temporary failure resolving ''[^''[:space:]]+''',
                            'temporary failure resolving ''<host>''', 'g');
    END IF;
    -- Version 18. Terraform prints where a diagnostic arose under its summary: "with <resource address>,", "on <file>
    -- line <n>, in resource "<type>" "<name>":" and the block's header line quoted from the file ("<n>: resource
    -- "<type>" "<name>" {"). One failure on two resources of one configuration (a storage pool missing for a volume
    -- and a cloud-init disk) names two locations; the summary is the failure (tf-b21pair-03, tf-b21pair-09). Only a
    -- resource's, data source's or module's location with, at most, that block's header line: an attribute line quoted
    -- under it ("required_version = …" under "in terraform:") tells failures apart and is kept (tf-b17pair-03).
    IF strpos(m, ' line <n>, in ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*(with [^\n]+\n[[:blank:]]*)?on [^\n]+ line <n>, in (resource|data|module) [^\n]*:[[:blank:]]*(\n[[:blank:]]*<n>:[[:blank:]]*(resource|data|module) [^\n]*\{[[:blank:]]*)?$',
                            '', 'gn');
    END IF;
    -- Version 18. An API's error code printed with the request's correlation id in parentheses ("error during placement
    -- (resource_unavailable, 5e12a9c07bd3f41)") is the code: another release of the client prints it alone
    -- ("(resource_unavailable)"), and the id differs on every request (tf-b21pair-09; blind20's tf-b20pair-03 prints
    -- it too).
    IF strpos(m, ', <') > 0 THEN  -- guard
        m := regexp_replace(m, '\(([a-z][a-z0-9_]*), (<hex>|<id>|<uuid>)\)', '(\1)', 'g');
    END IF;
    -- Version 18. LangChain ends its errors with "For troubleshooting, visit: <link>", a reference link like the v3
    -- step's "Learn more: <link>" (one release links python.langchain.com, a later one docs.langchain.com, on the next
    -- line when the message is wrapped), and LangGraph adds a note naming the graph node and task that raised it
    -- ("During task with name '<node>' and id '<uuid>'") as a stack frame would (agent-b21pair-06; the note is in
    -- blind12's messages too).
    IF strpos(m, 'for troubleshooting') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*for troubleshooting,? visit:?[[:space:]]*[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?(/<path>)?[[:blank:]]*$',
                            '', 'gn');
    END IF;
    IF strpos(m, 'during task with name ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*during task with name ''[^''\n]*'' and id ''[^''\n]*''[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 20. Backticks inside a line are Markdown's code quotes: OpenAI's API prints "The model `gpt-5.5` does not
    -- exist", a client that reformats it "The model gpt-5.5 does not exist" (agent-b23pair-08); the quoted word is kept
    -- (version 5 dropped them at either end only).
    IF strpos(m, '`') > 0 THEN  -- guard
        m := replace(m, '`', '');
    END IF;
    -- Version 20. Terraform's log prints an error it met while walking its graph as "vertex "<address>" error: <message>"
    -- (the address of the resource, or of its "(expand)" node); one account refused on two resources of one plan is
    -- one failure, as the location of a diagnostic is not (version 18): the address is dropped, the message kept
    -- (tf-b28pair-01, tf-b28pair-04).
    IF strpos(m, 'vertex "') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9_])vertex "[^"\n]{1,200}" error: ', '\1', 'g');
    END IF;
    -- Version 21. esbuild ends a failed build with the summary "Build failed with <n> error(s):" on a line of its own,
    -- above the errors it lists (vite, SvelteKit's adapter and Vercel's builder print it; the log of one build shows
    -- the errors without it): the count is not the failure, the errors below it are (vercel-b31pair-05; blind18's
    -- messages print it too). Only the summary alone on its line is dropped.
    IF strpos(m, 'build failed with ') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9_])build failed with <n>( errors?:?)?[[:blank:]]*(\n|$)', '\1', 'g');
    END IF;
    -- Version 22. RabbitMQ closes a channel whose consumer held a delivery past consumer_timeout with "PRECONDITION_FAILED
    -- - delivery acknowledgement on channel <n> timed out. Timeout value used: <ms> ms. This timeout value can be
    -- configured, see consumers doc guide to learn more", and each client wraps that reply text its own way (amqplib's
    -- "Channel closed by server: 406 (PRECONDITION-FAILED) with message \"…\"", lapin's "AMQP soft error:
    -- PRECONDITION-FAILED: …", kombu's "PreconditionFailed(406, '…', (0, 0), '')", the .NET client's "AMQP close-reason,
    -- initiated by Peer, code=406, text='…'"), some cut after "timed out.": the wrapper, the configured timeout and the
    -- guide's sentence are not the failure, the timeout on a channel is (ops-b20pair-01, ops-b20pair-02,
    -- ops-b32pair-07). The line reads "delivery acknowledgement on channel <n> timed out".
    IF strpos(m, 'delivery acknowledg') > 0 THEN  -- guard
        m := regexp_replace(m, '[^\n]*(delivery acknowledge?ment on channel <n> timed out)[^\n]*', '\1', 'g');
    END IF;
    -- Version 23. An ACME DNS-01 challenge is a TXT record "_acme-challenge.<certificate's name>"; a DNS provider or
    -- zone that fails it (SERVFAIL, a failed TXT record add) fails it for each name a certificate or a renewal asks
    -- for, the apex and every subdomain: the name under "_acme-challenge." is the certificate's, not the failure
    -- (dns-b20pair-01, dns-b29pair-02, dns-b34pair-08). It reads "_acme-challenge.<name>"; the nameserver, the record
    -- type and the token around it are kept.
    IF strpos(m, '_acme-challenge.') > 0 THEN  -- guard
        m := regexp_replace(m, '_acme-challenge\.[a-z0-9_<>-]+(\.[a-z0-9_<>-]+)*', '_acme-challenge.<name>', 'g');
    END IF;
    -- Version 23. A GitHub Actions log shows the step's heading "Run <owner>/<action>@<ref>" on the line above what the
    -- action printed; a copy of the log taken from the step's output, or from an annotation, starts below it: the
    -- heading is where the message was printed, not the failure (gha-b34pair-04; gha-b32pair-01 printed it too). Only
    -- the heading alone on its line is dropped; "Run <action>@<ref> Error: …" on one line is kept.
    IF strpos(m, 'run ') > 0 AND strpos(m, '@') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|\n)[[:blank:]]*run [a-z0-9_.-]+/[a-z0-9_./-]+@[^[:space:]]+[[:blank:]]*(\n|$)', '\1', 'g');
    END IF;
    -- Version 23. Ruby's redis-client appends the server it talked to, "(redis://<host>:<port>)", to the server's
    -- error reply ("LOADING Redis is loading the dataset in memory (redis://dawarich_redis:6379)", "NOAUTH
    -- Authentication required (redis://redis:14624)"); other clients print the reply alone: the address is where, not
    -- what (ops-b23pair-11). The parenthesized redis:// or rediss:// address is dropped; an exception class in
    -- parentheses ("(Redis::Error)") is kept.
    IF strpos(m, '(redis') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*\(rediss?://[^()[:space:]]*\)', '', 'g');
    END IF;
    -- Version 24. The record type a DNS lookup asked for: a name that does not exist, or whose zone fails DNSSEC
    -- validation, fails for each type a client or a resolver asks for (A and AAAA of one host, DS and SOA of one zone),
    -- and which one a paste shows is incidental; the name and the answer name the failure. Let's Encrypt's "<rcode>
    -- looking up <type> for <name>" (dns-b35pair-06), Technitium's "DNSSEC validation failed for question <name> in
    -- <type>: <reason>" (dns-b25pair-08, dns-b33pair-01) and CoreDNS's log record "\"<type> IN <name> udp|tcp …\""
    -- (dns-b11pair-05) read the type as "<type>"; a type anywhere else is kept.
    IF strpos(m, 'looking up ') > 0 THEN  -- guard
        m := regexp_replace(m, '(looking up )' || dns_types || '( for )', '\1<type>\3', 'g');
    END IF;
    IF strpos(m, 'for question ') > 0 THEN  -- guard
        m := regexp_replace(m, '(for question [^[:space:]]+ in )' || dns_types || ':', '\1<type>:', 'g');
    END IF;
    -- (Version 26: its guard also asks for the " udp " or " tcp " after the name; most JSON bodies have " in " and '"'.)
    IF strpos(m, ' in ') > 0 AND strpos(m, '"') > 0 AND (strpos(m, ' udp ') > 0 OR strpos(m, ' tcp ') > 0) THEN  -- guard
        m := regexp_replace(m, '"' || dns_types || ' in ([^"[:space:]]+ (udp|tcp) )', '"<type> in \2', 'g');
    END IF;
    -- Version 25. Node's "node:" scheme for a core module: "node:fs/promises" and "fs/promises" load the same module,
    -- and a bundler, a runtime's message or a release prints one or the other (Next.js's edge runtime check names
    -- "'node:fs/promises'" for one build and "'fs/promises'" for another, vercel-b36pair-03). A quoted module name
    -- loses the scheme; the module itself names the failure and is kept, and so is an unquoted "node:" (a frame's
    -- "node:internal/…").
    IF strpos(m, 'node:') > 0 THEN  -- guard
        m := regexp_replace(m, '([''"])node:([a-z_][a-z0-9_./-]*[''"])', '\1\2', 'g');
    END IF;
    -- Version 26. An EKS cluster's API endpoint is a generated host, "<32 hex characters>.<shard><n>.<region>.eks.
    -- amazonaws.com": the hex part is already <hex>, the shard label (sk1, gr7, yl4) is drawn with it, so two clusters
    -- unreachable the same way differ in it only (tf-b37pair-01; blind19's messages print such a host too). The shard
    -- is dropped; the region and the service domain are kept.
    IF strpos(m, '.eks.amazonaws.com') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9_.-])(<hex>|[0-9a-f]{32})\.[a-z]{1,4}<n>\.([a-z0-9<>-]+\.eks\.amazonaws\.com)',
                            '\1<hex>.\3', 'g');
    END IF;
    -- Version 27. Terraform prints where a diagnostic arose under its summary; version 18 drops that location in a
    -- resource, data source or module. A provider block's location ("with provider[\"<source>\"],", "on <file> line
    -- <n>, in provider \"<name>\":" and the block's header line quoted from the file), also flattened on the summary's
    -- line, is where, not what: one paste of a failure prints it, another cuts it (tf-b38pair-06, one side cut inside
    -- the address); so is an aliased provider's ("provider[\"<source>\"].<alias>"). The summary and the detail are
    -- kept; the provider's name is in the summary or the detail when it tells failures apart. A resource's "with <address>," alone is kept: the tuning data has "same" pairs and
    -- "different" pairs that differ in it only (tf-b26pair-01; tf-b25pair-03, tf-b10pair-03).
    IF strpos(m, 'with provider["') > 0 THEN  -- guard
        m := regexp_replace(m, '(^[[:blank:]]*|[[:blank:]]+)with provider\["[^"\n]*("\](\.[a-z0-9_-]+)?,?)?([[:blank:]]+on [^\n]+ line <n>, in provider "[^"\n]*"?:?)?[[:blank:]]*$',
                            '', 'gn');
    END IF;
    IF strpos(m, ', in provider "') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*on [^\n]+ line <n>, in provider "[^"\n]*":[[:blank:]]*(\n[[:blank:]]*<n>:[[:blank:]]*provider "[^"\n]*" \{[[:blank:]]*)?$',
                            '', 'gn');
    END IF;
    -- Version 35. Version 18's location of a diagnostic in a resource, data source or module, flattened on the
    -- summary's line as version 27 reads a provider block's: a log or a paste that joins Terraform's lines prints
    -- "Error: Unauthorized on <file> line <n>, in resource \"<type>\" \"<name>\":" where another prints the
    -- location under the summary (which version 18 drops) or not at all; where is not what (tf-b58pair-07, one
    -- EKS API server refusing the Kubernetes provider in two modules' files). Only after text on the line and only at
    -- its end, with the "with <address>," before it and the block's header line after it when they are flattened too;
    -- the file is one word, so an "on" in the summary ("failed on create") is kept. A resource's "with <address>,"
    -- alone is kept, as version 27 says.
    IF strpos(m, ' line <n>, in ') > 0 THEN  -- guard
        m := regexp_replace(m, '([^[:space:]])[[:blank:]]+(with [a-z0-9_.<>"\[\]-]+,?[[:blank:]]+)?on [^[:space:]]+ line <n>, in (resource|data|module) "[^"\n]*"( "[^"\n]*")?:[[:blank:]]*(<n>:[[:blank:]]*(resource|data|module) [^\n]*\{[[:blank:]]*)?$',
                            '\1', 'gn');
    END IF;
    -- Version 28. Terraform names the provider whose result was inconsistent as provider "provider[\"<source>\"]"
    -- (0.13 as provider "<source>"), and a log wrapped at its width breaks that line inside the quoted address: the
    -- cause line then starts at "provider[\"<source>\"]" or at "<source>" (tf-b14pair-07, tf-b22pair-04,
    -- tf-b39pair-06). One provider printed these ways is one: before " produced an unexpected new value" (or "invalid
    -- new value") each reads provider "<source>"; the source (registry host, namespace, type) is kept, and an aliased
    -- provider's address is left as printed.
    IF strpos(m, '" produced an ') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9_./<>"[-])(provider[[:space:]]+)?"?(provider\[")?([a-z0-9<>-]+(\.[a-z0-9<>-]+)+/[a-z0-9_<>.-]+/[a-z0-9_<>.-]+)"(\]")? (produced an (unexpected|invalid) new value)',
                            '\1provider "\4" \7', 'gn');
    END IF;
    -- Version 28. Go's fmt prints a nil error given to "%s" as "%!s(<nil>)": terraform-plugin-sdk's waiter ends
    -- "unexpected state '<s>', wanted target '<t>'" with ". last error: %!s(<nil>)" when the resource reported none,
    -- and a release or a log that cuts the line does not (tf-b38pair-04; tf-b24pair-08 and tf-b32pair-06 print it
    -- too): it says no more than its absence. Only that nil form is dropped; a last error with a text is kept.
    IF strpos(m, 'last error: %!s(<nil>)') > 0 THEN  -- guard
        m := regexp_replace(m, '\.?[[:blank:]]*last error: %!s\(<nil>\)', '', 'g');
    END IF;
    -- Version 28. A Python client prints an API's error body as a dict ("Error code: 404 - {'error': {'message':
    -- '<text>', 'code': 404}}"), another client the message alone: the fields after the message whose values are a
    -- number, None or a boolean ("', 'code': <n>}}", "', 'error': None}") repeat the status or say nothing, and end
    -- the line with the dict's braces (agent-b39pair-06; sbfn-b2-pair-04, agent-b11pair-01, agent-b37pair-01 print
    -- them too). They are dropped with the braces, as version 8 drops a closing "' }"; a field with a string value
    -- (an error code, the parameter at fault) is kept, and so is everything before it.
    IF strpos(m, ''', ''') > 0 THEN  -- guard
        m := regexp_replace(m, '''(, ''[a-z_]{1,40}'': ([0-9]+|<n>|none|true|false|null))+\}+[[:blank:]]*$', '', 'gn');
    END IF;
    -- Version 29. An API that rejects a key prints it masked, its first and last characters around asterisks
    -- ("Incorrect API key provided: gs***tF.", "sk-proj-****…abcd", "5f2e****e4f9"): those ends are the key's, a
    -- different key each time, not the failure (agent-b40pair-06; agent-b27pair-09 prints two, a "different" pair
    -- told apart by the rest of its text). The masked key after "api key provided: " reads "<key>".
    IF strpos(m, 'api key provided: ') > 0 THEN  -- guard
        m := regexp_replace(m, '(api key provided: )[a-z0-9<>_-]*\*{2,}[a-z0-9<>_-]*', '\1<key>', 'g');
    END IF;
    -- Version 30. A client's HTTP status before an API's error body ("API Error: 500 {…}", "Error code: 400 - {…}",
    -- "HTTP 400: <400> …", "Internal error: 400 <400> …") is how that client printed the response: another prints the
    -- body alone or under its own wording, and the body names the failure (agent-b36pair-03, agent-b36pair-08,
    -- agent-b41pair-05). Only before a JSON body (on the line or the next) or the status the body echoes ("<<n>>");
    -- a sentence after the status is kept.
    IF strpos(m, 'api error: ') > 0 OR strpos(m, 'error code: ') > 0 OR strpos(m, 'http ') > 0
       OR strpos(m, 'internal error: ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*(api error:|error code:|http|internal error:)[[:blank:]]+[1-5][0-9]{2}(:|[[:blank:]]+-)?[[:space:]]+(?=\{|<<n>> )',
                            '', 'gn');
    END IF;
    -- Version 30. Odoo's log record "<ts> <pid> <LEVEL> <db> <logger>: <message>" (the time dropped above, its pid
    -- read <n>) names the process, database and logger that printed the message: two loggers (odoo.modules.module and
    -- the import's own error) or a traceback's last line without the record print one failure (odoo-b39pair-03;
    -- odoo-b7pair-05 and odoo-b9pair-06 print it too). The record's fields leading a line are dropped, as version 9
    -- drops a level and a logger between separators; the message after them is kept.
    IF strpos(m, ' debug ') > 0 OR strpos(m, ' info ') > 0 OR strpos(m, ' warning ') > 0 OR strpos(m, ' error ') > 0
       OR strpos(m, ' critical ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*<n> (debug|info|warning|error|critical) [^[:space:]]+ [a-z][a-z0-9_.]{0,80}: ', '',
                            'gn');
    END IF;
    -- Version 31. Unbound prints a log record as "[<epoch>] <program>[<pid>:<thread>] <level>: <message>" (the epoch
    -- dropped above as a bracketed tag, the pid and thread read <n>): the process and thread that logged the message,
    -- and the level the decorations above drop, are how the record was printed; the same message pasted without
    -- them is the same failure (dns-b42pair-09; blind7's, blind9's, blind17's, blind26's and blind36's messages print
    -- the tag too). The tag leading a line before a level is dropped with the level ("info: ", "error: "); "fatal
    -- error:", which the decorations keep, is kept. A tag not before a level, or not leading its line, stays.
    IF strpos(m, ':<n>] ') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*[a-z][a-z0-9_.-]{0,63}\[(<n>|<hex>):<n>\][[:blank:]]+((error|warning|info|debug|notice):[[:blank:]]*|(?=fatal error:))',
                            '', 'gn');
    END IF;
    -- Version 33. The digits of a hex exit status held above are put back (a translate, like the kept mark's removal).
    m := translate(m, held_digits, '0123456789');
    RETURN btrim(regexp_replace(m, '[[:space:]]+', ' ', 'g'));
END
$$;
COMMENT ON FUNCTION ops.normalize_message(text) IS
    'Normalization version 33 (docs/grouping.md has the full table): folds the text (ops.fold_text), reads a Markdown link '
    '[text](url) as its text (v6), then replaces volatile '
    'parts with placeholders - URL path and query (<path>; host and port kept, an http(s)/ws(s) scheme dropped), <email>, <uuid>, <ts>, <time>, '
    'prefixed and region-scoped ids (req_<id>, <id>), <ip> (IPv4, and IPv6 written with "::", v6), colon-hex groups and 0x literals (<hex>), hex ids of 7+ '
    'characters with a digit (<hex>), long letter/digit tokens (<id>), absolute paths (<path>), durations (<dur>) and other '
    'numbers (<n>; 10,000 is one number; a list of ids "(<n>, <n>)" one <n>), the quoted name after '
    '"function" (<name>) - keeping exit codes, signal numbers and HTTP statuses; drops an exception class or an HTTP status (v6) leading a line, a trailing "Learn more: <link>", a line-ending reference link after " - " or in parentheses (v4), a JSON string''s quotes (v4) and log decorations at the start of each line '
    '(timestamps, [tags], ##[error], box-drawing characters, a bare severity word); lower-cases and collapses white space. '
    'Version 8: an address masked with x '
    '(192.168.x.x, xxxx:xxxx:…) is <ip>, and an "Available versions:" list, a JavaScript stack frame line, the edge '
    'runtime''s leading "worker boot error", a line''s '
    '", error=…" continuation, a closing "'' }" and a line-ending reference link after its sentence are dropped. '
    'Version 9: a JSON log''s field name leading a line ("@message":"…) and a log record''s level and logger name between '
    '" = " or " | " separators are dropped. '
    'Version 10: a shell''s missing-command report ("sh: <n>: x: not found", "sh: line <n>: x: command not found") reads '
    'as "x: command not found". '
    'Version 11: a chain of exception classes leading a line ("a.APIError: b.APIError: CException - …") is dropped '
    'whole, not only its first class. '
    'Version 12: Terraform''s "When applying changes to <resource address>, " before "provider …" is dropped. '
    'Version 15: npm''s "npm ERR! " (or "npm error ") and "network " leading a line are dropped; Node''s "getaddrinfo '
    '<code> <host>:<port>" and "… <host> <host>:<port>" read as "getaddrinfo <code> <host>"; curl''s old "couldn''t '
    'resolve host ''x''" reads as "could not resolve host: x"; the quotes and parentheses closing Python exception '
    'objects at a line end, with urllib3''s "'': <path>" after them, are dropped, and so are Ruby''s exception class in '
    'parentheses ending a line ("… (SocketError)") and Node''s "Require stack: …" on the line of its message. '
    'Version 16: a GitHub Actions workflow command ("::error::", "::warning …::") and what precedes it on its line, '
    'OpenUpgrade''s "<module>: error in migration script <path>: " and a bare severity word with its colon ending a '
    'line after the text ("… FATAL:") are dropped. '
    'Version 17: the numbers of the toolchain version a setup action was asked for ("version ''3.8'' with architecture '
    '…", "version 3.7 with arch …") are kept, and apt''s "temporary failure resolving ''<mirror>''" reads as '
    '"temporary failure resolving ''<host>''" without the "failed to fetch <url>" before it. '
    'Version 18: Terraform''s location of a diagnostic in a resource, data source or module ("with <address>,", "on '
    '<file> line <n>, in resource …:" and the block''s header line below it), a correlation id after an error code in '
    'parentheses ("(resource_unavailable, <hex>)" reads "(resource_unavailable)"), LangChain''s trailing "For '
    'troubleshooting, visit: <link>" and LangGraph''s "During task with name ''<node>'' and id ''<id>''" line are dropped. '
    'Version 19: the attribute after Terraform''s "produced an unexpected new value: " or "produced an invalid new value '
    'for " (".webserver_url:") is dropped, and Next.js''s route after "failed to collect page data for " is not read as '
    'a path. '
    'Version 20: botocore''s "An error occurred (<Code>) when calling the <Operation> operation: " reads "<Code>: " (a '
    'code that is an exception class is then dropped as a leading class), Odoo''s "Uncaught Promise > " and '
    '"UncaughtPromiseError > " leading a line are dropped, and so is Terraform''s "vertex "<address>" error: "; a '
    'pictograph leading a line (🖐, ✖, ■, ⚠️) is a decoration; Codex''s "; retrying <n>/<n> in <dur>…" and ", url: '
    '<endpoint>, cf-ray: <ray>, request id: <id>" ending a line are dropped; backticks inside a line are dropped, the '
    'word they quote kept. '
    'Version 21: esbuild''s summary "Build failed with <n> error(s):" alone on its line is dropped. '
    'Version 22: Odoo''s worker process id in parentheses ("WorkerHTTP (<pid>) timeout …") reads "(<n>)", and a line '
    'carrying RabbitMQ''s "delivery acknowledgement on channel <n> timed out" reads that alone (the client''s wrapper, the '
    'timeout value and the guide''s sentence dropped). '
    'Version 23: the name under an ACME DNS-01 challenge''s "_acme-challenge." reads "<name>", a GitHub Actions step '
    'heading "Run <owner>/<action>@<ref>" alone on its line is dropped, and so is redis-client''s "(redis://<host>:<port>)" '
    'address after a Redis reply. '
    'Version 24: the record type a DNS lookup asked for reads "<type>" in "looking up <type> for <name>", "for question '
    '<name> in <type>:" and CoreDNS''s log record "\"<type> IN <name> udp …". '
    'Version 25: a quoted core module name loses Node''s "node:" scheme (''node:fs/promises'' reads ''fs/promises''). '
    'Version 26: the process id in a syslog tag "<program>[<pid>]:" reads "<n>" whatever its length, the major version '
    'in GitHub''s "deprecated version of <owner>/<action>: v<n>" is kept, and the shard label of a generated EKS '
    'endpoint host ("<hex>.<shard><n>.<region>.eks.amazonaws.com") is dropped. '
    'Version 27: Terraform''s location of a diagnostic in a provider block ("with provider[…],", "on <file> line <n>, '
    'in provider …:" and the block''s header line), also flattened on the summary''s line, is dropped. '
    'Version 28: the provider Terraform names before " produced an unexpected new value" (or "invalid new value") '
    'reads provider "<source>" whether printed provider "provider[\"<source>\"]", provider "<source>" or wrapped '
    'inside the address, Go''s nil error ". last error: %!s(<nil>)" is dropped, and so are the fields of a Python dict '
    'after the message whose values are a number, None or a boolean, with its closing braces, at a line end. '
    'Version 29: a masked API key after "api key provided: " ("gs***tF", "sk-proj-****abcd") reads "<key>". '
    'Version 30: a client''s HTTP status leading a line before an API''s error body ("API Error: 500 {", "Error '
    'code: 400 - {", "HTTP 400: <400> ") is dropped, and so are the pid, level, database and logger of Odoo''s log '
    'record leading a line ("<n> error <db> odoo.modules.module: "). '
    'Version 31: Unbound''s log record tag leading a line before a level ("unbound[<n>:<n>] info: ") is dropped with '
    'the level ("fatal error:" kept). '
    'Version 32: the escaped frame lines of a JavaScript stack serialized in a JSON string ("\n    at <frame>:<n>:<n>)") '
    'are dropped, and so is "{"stack":" leading a line. '
    'Version 33: a Markdown code fence line ("```bash", "```") is dropped, and so are "{" and a "name": "<Class>Error" '
    'field before a "message" field; a hex exit status ("exit status 0xc0000409") is kept. '
    'Version 34: Docker Compose''s service prefix leading a line ("keydb-1  | ") is dropped, and a date written '
    'with a month''s name before a time of day ("Dec 20 15:00:45", "03 Dec 2024 22:23:15") reads "<ts>". '
    'Version 35: Terraform''s location of a diagnostic in a resource, data source or module flattened on the '
    'summary''s line ("Error: Unauthorized on <file> line <n>, in resource …:") is dropped, as version 27 drops a '
    'provider block''s. '
    'Reads at most the first 40000 characters. text -> text; NULL for NULL.';

CREATE OR REPLACE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The one place the fingerprint version is written: ops.error_fingerprint and ops.code_group_fingerprint hash
-- "fp<n>|" built from it.
RETURN 35;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (35). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them (and the groups a changed grouping rule moved).';

UPDATE ops_private.taxonomy_version SET version = version + 1, changed_by = pg_current_xact_id();
