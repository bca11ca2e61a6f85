-- Text functions: redaction, normalization, fingerprint and classification. Pure functions of their
-- inputs and the synced taxonomy. The ingest trigger calls them; analysts and tests may call them directly.

CREATE FUNCTION ops.redact(message text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    max_length constant integer := 65536;
    passes constant integer := 4;          -- worker/redaction.py PASSES, redaction.ts PASSES
    rule record;
    result text := left(message, max_length);
    before text;
    lowered text;
BEGIN
    IF result IS NULL OR result = '' THEN
        RETURN message;
    END IF;
    -- Pass after pass until one changes nothing: a rule's marker can complete another's match (a password that
    -- holds `password=a/b` hides a URL's credential until its value is a marker), and the result must be a text
    -- redaction leaves as it is (the ingest trigger stores a text equal to an earlier result as sent). A text
    -- without a secret costs one pass.
    FOR attempt IN 1 .. passes LOOP
        before := result;
        lowered := lower(result);
        -- One query picks the rules whose prefilter literal occurs in the text (literal anchors before
        -- regexes): a text with no candidate costs one scan of the rules and no regex.
        FOR rule IN
            SELECT r.pattern, r.replacement, r.flags FROM ops.redaction_rules r
            WHERE r.prefilter IS NULL OR EXISTS (SELECT FROM unnest(r.prefilter) f WHERE strpos(lowered, f) > 0)
            ORDER BY r.position
        LOOP
            result := regexp_replace(result, rule.pattern, rule.replacement, rule.flags);
        END LOOP;
        EXIT WHEN result = before;
    END LOOP;
    IF length(message) > max_length THEN
        result := result || format(E'\n[… %s characters cut before redaction …]', length(message) - max_length);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops.redact(text) IS
    'Replaces secrets (tokens, keys, JWTs, passwords, credentials in URLs, PEM private keys, webhook URLs) with '
    '[REDACTED:<rule>] markers, using ops.redaction_rules in order, pass after pass until a pass changes nothing (at '
    'most 4), so that redacting the result changes nothing. Applied to every field of an event before storage or '
    'hashing. Reads at most 65536 characters; a longer argument is cut there and ends with a '
    '"[… N characters cut before redaction …]" marker (the ingest trigger slices long messages before calling it).';

CREATE FUNCTION ops.fold_text(message text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
-- PL/pgSQL since the ninth ingest pass: as LANGUAGE sql (never inlined: STRICT with a CASE body) its body was parsed
-- again on every execution of a calling query, 18 calls per text new to the cache; the expression is unchanged.
-- ASCII text (as many bytes as characters in a UTF8 database) is its own fold: NFKC keeps every ASCII character
-- and the characters deleted or mapped below are all non-ASCII. Most messages are ASCII; NFKC costs tens of µs.
AS $fn$
BEGIN
RETURN CASE WHEN octet_length(message) = length(message) AND length(message) <= 65536 THEN message ELSE translate(
    -- zero-width space/joiners, word joiner, BOM, soft hyphen; bidi embeddings, overrides, isolates: deleted by
    -- translate (no regex: PostgreSQL caches only 32 compiled regexes per session).
    translate(normalize(left(message, 65536), NFKC),
              U&'\200B\200C\200D\2060\FEFF\00AD\202A\202B\202C\202D\202E\2066\2067\2068\2069\200E\200F', ''),
    -- Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
    U&'\0410\0412\0415\041A\041C\041D\041E\0420\0421\0422\0425\0423\0430\0435\043E\0440\0441\0443\0445\0456\0458\0455\0501\051B\051D\0406\0408\0405\04CF'
    || U&'\0391\0392\0395\0396\0397\0399\039A\039C\039D\039F\03A1\03A4\03A5\03A7\03BF',
    'ABEKMHOPCTXYaeopcyxijsdqwIJSl'
    || 'ABEZHIKMNOPTYXo')
    || CASE WHEN length(message) > 65536
            THEN format(E'\n[… %s characters cut before folding …]', length(message) - 65536) ELSE '' END END;
END
$fn$;

COMMENT ON FUNCTION ops.fold_text(text) IS
    'Folds text before classification and normalization: Unicode NFKC (full-width and compatibility forms), removes '
    'zero-width characters, soft hyphens and bidi controls, and maps the Cyrillic and Greek letters that look like '
    'Latin ones to Latin (a subset of Unicode TR39 confusables). Case is kept. Reads at most 65536 characters; a longer '
    'argument is cut there and ends with a "[… N characters cut before folding …]" marker. text -> text; NULL for NULL. '
    'PL/pgSQL since the ninth ingest pass (its body is no longer parsed again per calling query).';

CREATE FUNCTION ops.normalize_message(message text) RETURNS text
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

CREATE FUNCTION ops.fingerprint_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- NULL is "~"; anything else is <length>:<value>, so no choice of field values can collide.
RETURN coalesce(length(value)::text || ':' || value, '~');
COMMENT ON FUNCTION ops.fingerprint_field(text) IS
    'One field of ops.error_fingerprint''s input: "<length in characters>:<value>", or "~" for NULL, so no choice of '
    'field values can collide. text -> text.';

CREATE FUNCTION ops.grouping_rule(code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
RETURN coalesce((SELECT f.grouping FROM ops.failure_modes f WHERE f.code = grouping_rule.code), 'message');
COMMENT ON FUNCTION ops.grouping_rule(text) IS
    'The fingerprint rule of a taxonomy code (ops.failure_modes.grouping, ssot `grouping:`): ''code'', ''pattern'' or ''message''; '
    '''message'' for NULL or a code the taxonomy does not have. SECURITY DEFINER so that a role allowed to compute a '
    'fingerprint need not read the taxonomy table. text -> text.';

CREATE FUNCTION ops.grouping_rule(code text, pattern text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
-- A pattern of a code grouped by message that says `grouping: pattern` (ops.failure_mode_patterns.grouping) groups by
-- itself; a pattern's own rule is looked up only for a code grouped by message (the sync allows it nowhere else).
-- PL/pgSQL, not LANGUAGE sql: ops.error_fingerprint and ops.grouping_text ask it for every new text, and a SQL function
-- that is not inlined (SECURITY DEFINER, SET) is planned again in every statement; PL/pgSQL keeps its plan for the
-- session (bench/README.md, "Ingest run (2026-12-06 …)": +8 % CPU per first-seen single-row event as a SQL function).
-- For the same reason it reads the code's rule itself rather than calling the one-argument form (a SQL function).
AS $fn$
BEGIN
    RETURN (SELECT CASE WHEN r.rule = 'message'
                             AND EXISTS (SELECT FROM ops.failure_mode_patterns p
                                         WHERE p.code = grouping_rule.code AND p.pattern = grouping_rule.pattern
                                           AND p.grouping = 'pattern')
                        THEN 'pattern' ELSE r.rule END
            FROM (SELECT coalesce((SELECT f.grouping FROM ops.failure_modes f WHERE f.code = grouping_rule.code),
                                  'message') AS rule) r);
END
$fn$;
COMMENT ON FUNCTION ops.grouping_rule(text, text) IS
    'The fingerprint rule of an event read by `pattern` under `code`: ''pattern'' when the code groups by message and '
    'that pattern of the code says `grouping: pattern` (ops.failure_mode_patterns.grouping; docs/grouping.md, "One '
    'pattern grouped by itself"), else the code''s rule (ops.grouping_rule(code)). ops.grouping_text passes the '
    'matched pattern; ops.error_fingerprint the grouping text, which for such a pattern is the pattern (or the first of '
    'its group name), so both read the same rule. SECURITY DEFINER as the one-argument form. (code, pattern) -> text.';

CREATE FUNCTION ops.fingerprint_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Versions 5 and 7: backticks, blanks, quotes, commas and semicolons at either end are dropped and "-" reads as "_"
-- (by btrim and translate, no regex); a text that normalization leaves empty falls back to "<bare> " and its folded,
-- lower-cased text (tabs and line breaks as spaces, digits as 0), computed only then (coalesce).
RETURN coalesce(nullif(translate(btrim(ops.normalize_message(value), '` ''",;'), '-', '_'), ''),
                '<bare> ' || btrim(translate(lower(ops.fold_text(value)), E'\t\r\n0123456789', '   0000000000')));
COMMENT ON FUNCTION ops.fingerprint_text(text) IS
    'One text field (message or top frame) as ops.error_fingerprint hashes it: ops.normalize_message without backticks, '
    'blanks, quotes, commas and semicolons at either end and with "-" read as "_"; a text that normalization leaves '
    'empty (a bare exception class and [tag]) is "<bare> " and its folded, lower-cased text (digits as 0), so unrelated '
    'bare lines do not share a fingerprint. text -> text; NULL for NULL.';

CREATE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The one place the fingerprint version is written: ops.error_fingerprint and ops.code_group_fingerprint hash
-- "fp<n>|" built from it.
RETURN 35;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (35). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them (and the groups a changed grouping rule moved).';

CREATE FUNCTION ops.code_group_fingerprint(source text, phase text, code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- Version 4's form for a code grouped by code: the version tag, source, phase and code, and "=" for the two text
-- fields (no field starts with "=", so it never collides with a fingerprint of a text). STABLE as convert_to is.
RETURN encode(sha256(convert_to(
    'fp' || ops.current_fingerprint_version()::text || '|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code) || '|=',
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.code_group_fingerprint(text, text, text) IS
    'The fingerprint of a code''s one group: lowercase hex SHA-256 (64 characters) over the version tag fp<n> '
    '(n = ops.current_fingerprint_version()), source, phase and code, each length-prefixed, and "=" for the text fields. '
    'ops.error_fingerprint gives it to a code whose grouping rule is ''code''; ops_private.regroup_stale compares groups '
    'with it. (source, phase, code) -> text; NULL fields are "~".';

CREATE FUNCTION ops.pattern_group_key(code text, matched_pattern text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
-- The first pattern (in YAML order) of the code that shares the matched pattern's group name, or the matched pattern
-- itself when it has none (or is not, or no longer, a pattern of the code).
RETURN coalesce((SELECT l.pattern
                 FROM ops.failure_mode_patterns p
                 JOIN ops.failure_mode_patterns l ON l.code = p.code AND l.group_name = p.group_name
                 WHERE p.code = pattern_group_key.code AND p.pattern = pattern_group_key.matched_pattern
                 ORDER BY p.position, l.position
                 LIMIT 1),
                matched_pattern);
COMMENT ON FUNCTION ops.pattern_group_key(text, text) IS
    'What a code grouped by pattern is grouped by: the first pattern of the code whose group name (ssot `group:`, '
    'ops.failure_mode_patterns.group_name) the matched pattern shares, or the matched pattern itself when it has no '
    'group name or is no pattern of the code; NULL for NULL. SECURITY DEFINER as ops.grouping_rule is, so a role that '
    'may compute a fingerprint need not read the taxonomy. (code, matched_pattern) -> text.';

CREATE FUNCTION ops.pattern_group_fingerprint(source text, phase text, code text, pattern text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- The form for a code grouped by pattern: the version tag, source, phase and code, then "=" and the pattern as one
-- length-prefixed field. The code's one group ends at that "=", a text field never starts with "=", so no two forms
-- collide. STABLE as convert_to is.
RETURN encode(sha256(convert_to(
    'fp' || ops.current_fingerprint_version()::text || '|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code) || '|=' || ops.fingerprint_field(pattern),
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.pattern_group_fingerprint(text, text, text, text) IS
    'The fingerprint of the group of one pattern of a code grouped by pattern: lowercase hex SHA-256 (64 characters) '
    'over the version tag fp<n> (n = ops.current_fingerprint_version()), source, phase and code, each length-prefixed, '
    'then "=" and the pattern (its SSOT text, length-prefixed). ops.error_fingerprint gives it to a code whose grouping '
    'rule is ''pattern''; ops_private.regroup_stale compares groups with it. (source, phase, code, pattern) -> text; '
    'NULL fields are "~".';

CREATE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE); each normalized field is computed once and passed to
-- ops.fingerprint_field. Version 4: a code whose grouping rule is `code` (ops.grouping_rule) is grouped by source,
-- phase and code alone; "=" stands for the two text fields (no field starts with "=", so nothing collides).
-- Versions 5 and 7: each text field in the form ops.fingerprint_text gives it (its ends trimmed, "-" as "_", a text
-- normalization empties kept apart by its own text). Version 6: ops.normalize_message reads a Markdown link as its
-- text, an IPv6 address with "::" as <ip> and drops an HTTP status starting a quoted message; ops.grouping_text passes
-- over a source line that raises the error. Version 8: ops.normalize_message reads a masked address as <ip> and
-- drops an "Available versions:" list, JavaScript stack frame lines, the edge runtime's leading "worker boot error", a
-- ", error=…" continuation, a closing "' }" and a line-ending reference link after its sentence. Version 9: it drops
-- a JSON log's field name leading a line and a log record's level and logger name between " = " or " | " separators.
-- Version 10: it reads a shell's missing-command report in one form; ops.grouping_text starts the text after a compact
-- JSON key's '":"' as after ": ". Version 11: ops.normalize_message drops a whole chain of exception classes leading
-- a line. Version 12: it drops Terraform's "When applying changes to <address>, " before "provider". Version 13:
-- ops.grouping_text reads a regex that matches only across lines as its match, not the whole message. Version 14:
-- ops.grouping_text ends a text that starts after a JSON key's '":"' where that string value ends. Version 15:
-- ops.normalize_message drops npm's log prefix, reads Node's getaddrinfo forms and curl's old resolve wording in one
-- form, and drops the closing quotes and parentheses of Python exception objects at a line end, Ruby's exception class
-- in parentheses ending a line and Node's "Require stack:" on its message's line. Version 16: it drops a GitHub
-- Actions workflow command with what precedes it on its line, OpenUpgrade's "<module>: error in migration script
-- <path>: " and a bare severity word with its colon ending a line after the text. Version 17: it keeps the numbers of
-- the toolchain version a setup action was asked for and drops the mirror (and the URL before it) of apt's "Temporary
-- failure resolving '<mirror>'". Version 18: it drops Terraform's location of a diagnostic in a resource, data source
-- or module (with the block's header line), a correlation id after an error code in parentheses, LangChain's trailing
-- "For troubleshooting, visit: <link>" and LangGraph's "During task with name '<node>' and id '<id>'" line. Version
-- 19: it drops the attribute after Terraform's "produced an unexpected new value: " (or "invalid new value for ") and
-- keeps Next.js's route after "failed to collect page data for " as it is, not as <path>. Version 20: it reads
-- botocore's "An error occurred (<Code>) when calling the <Operation> operation: " as "<Code>: " and drops Odoo's
-- "Uncaught Promise > " (or "UncaughtPromiseError > "), Terraform's "vertex "<address>" error: ", a pictograph leading
-- a line, Codex's retry note and "url: …, cf-ray: …" tail, and backticks inside a line; ops.grouping_text
-- ends the wrapper at a ": " whose blank the pattern's match starts with. Version 21: ops.grouping_text keeps the name
-- CoreDNS's errors plugin was asked for ("[ERROR] plugin/errors: <rcode> <qname> <qtype>: <error>" reads "<error> for
-- <qname>") and ops.normalize_message drops esbuild's "Build failed with <n> error(s):" summary line. Version 22:
-- ops.normalize_message reads Odoo's worker process id in parentheses as "(<n>)" and a line carrying RabbitMQ's
-- "delivery acknowledgement on channel <n> timed out" as that alone. Version 23: ops.normalize_message reads the name
-- under an ACME challenge's "_acme-challenge." as "<name>" and drops a GitHub Actions step heading "Run
-- <owner>/<action>@<ref>" alone on its line and redis-client's "(redis://<host>:<port>)" address.
-- The version tag "fp<n>|" is built from ops.current_fingerprint_version() (an IMMUTABLE constant, folded at plan
-- time), and a code grouped by code gets ops.code_group_fingerprint, so a new version edits only that function and
-- normalization; versions from 24 on are described in ops.normalize_message's comment and docs/grouping.md.
-- A code grouped by pattern gets ops.pattern_group_fingerprint over the pattern ops.grouping_text passes as its text,
-- or, when no pattern read it (a code the producer named), the code's one group. So does an event of a code grouped
-- by message whose pattern says `grouping: pattern` (ops.grouping_rule(code, pattern)): ops.grouping_text passes that
-- pattern (or the first of its group name) as the text, and the two-argument rule recognizes it.
RETURN CASE ops.grouping_rule(code, message)
            WHEN 'code' THEN ops.code_group_fingerprint(source, phase, code)
            WHEN 'pattern' THEN CASE WHEN message IS NULL THEN ops.code_group_fingerprint(source, phase, code)
                                     ELSE ops.pattern_group_fingerprint(source, phase, code, message) END
            ELSE encode(sha256(convert_to(
                'fp' || ops.current_fingerprint_version()::text || '|' || ops.fingerprint_field(source)
                || '|' || ops.fingerprint_field(phase)
                || '|' || ops.fingerprint_field(code)
                || '|' || ops.fingerprint_field(ops.fingerprint_text(message))
                || '|' || ops.fingerprint_field(ops.fingerprint_text(top_frame)),
                'UTF8')), 'hex') END;
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp<n> (n = ops.current_fingerprint_version()), source, phase, code and '
    'the normalized message and normalized top frame, each length-prefixed, each text field in the form '
    'ops.fingerprint_text gives it; a code whose grouping rule is ''code'' (ops.grouping_rule) gets its one group''s '
    'fingerprint instead (ops.code_group_fingerprint); a code whose rule is ''pattern'' gets the group of the pattern '
    'that read it (ops.pattern_group_fingerprint over `message`, which ops.grouping_text makes that pattern; the code''s '
    'one group when it is NULL), and so does an event of a code grouped by message whose `message` is one of the code''s '
    'patterns that say `grouping: pattern` (ops.grouping_rule(code, pattern)). Pass the redacted grouping text '
    '(ops.grouping_text).';


CREATE FUNCTION ops.canonical_text(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
-- NFKC (full-width, ligatures, compatibility digits), lower case, Cyrillic/Greek letters that look
-- Latin, then `_`, `-` and horizontal white-space runs to one space. Line breaks are kept (as \n):
-- wrapper lines are told apart line by line.
RETURN regexp_replace(
    translate(lower(normalize(replace(replace(message, E'\r\n', E'\n'), E'\r', E'\n'), NFKC)),
              'авекмнорстхуіјѕԁԛԝѵһαβεζηικμνορτυχ',
              'abekmhopctxyijsdqwvhabezhikmnoptyx'),
    '[-_[:blank:]\u00a0\u2000-\u200b\u202f\u205f\u3000]+', ' ', 'g');
COMMENT ON FUNCTION ops.canonical_text(text) IS
    'The canonical form classification matches on: text -> text. NFKC, lower case, Cyrillic/Greek look-alikes of Latin '
    'letters folded to Latin, runs of "_", "-" and horizontal white space folded to one space; line breaks kept as \n '
    '(CR LF and CR become LF). NULL gives NULL. Substring patterns are compared in this form too.';

CREATE FUNCTION ops_private.regex_literal_length(pattern text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
-- A small walk over the regex: literal characters that every match must contain. Groups take the
-- shortest alternative; an atom followed by ?, * or {0,...} counts nothing; bracket expressions,
-- ".", and class escapes (\d \s \w ...) count nothing; ^ and $ outside brackets count 1 each.
-- A lookaround, (?=...), (?!...), (?<=...) or (?<!...), counts nothing: it consumes no text, and
-- what a negative one names is text the match must NOT have (a lookbehind's text comes before the
-- match and is not part of it).
DECLARE
    n integer := length(pattern);
    i integer := 1;
    c text;
    cur integer := 0;          -- running total of the current alternative
    last integer := 0;         -- what the last atom added (undone by an optional quantifier)
    best integer;              -- shortest finished alternative of the current group (NULL: none yet)
    s_cur integer[] := '{}'::integer[];   -- stacks of the enclosing groups' state
    s_best integer[] := '{}'::integer[];
    s_look boolean[] := '{}'::boolean[];  -- whether the enclosing group is a lookaround
    depth integer := 0;
    val integer;
BEGIN
    WHILE i <= n LOOP
        c := substr(pattern, i, 1);
        IF c = '\' THEN
            i := i + 1;
            last := CASE WHEN substr(pattern, i, 1) ~ '^[dDsSwWbBAZzmMyY0-9]$' THEN 0 ELSE 1 END;
            cur := cur + last;
        ELSIF c = '[' THEN
            i := i + 1;
            IF substr(pattern, i, 1) = '^' THEN i := i + 1; END IF;
            IF substr(pattern, i, 1) = ']' THEN i := i + 1; END IF;
            WHILE i <= n AND substr(pattern, i, 1) <> ']' LOOP
                IF substr(pattern, i, 1) = '\' THEN i := i + 1; END IF;
                i := i + 1;
            END LOOP;
            last := 0;
        ELSIF c = '(' THEN
            depth := depth + 1;
            s_look[depth] := substr(pattern, i + 1, 2) IN ('?=', '?!') OR substr(pattern, i + 1, 3) IN ('?<=', '?<!');
            IF substr(pattern, i + 1, 3) IN ('?<=', '?<!') THEN i := i + 3;
            ELSIF substr(pattern, i + 1, 2) IN ('?:', '?=', '?!') THEN i := i + 2; END IF;
            s_cur[depth] := cur;
            s_best[depth] := best;
            cur := 0;
            best := NULL;
            last := 0;
        ELSIF c = '|' THEN
            best := least(coalesce(best, cur), cur);
            cur := 0;
            last := 0;
        ELSIF c = ')' AND depth > 0 THEN
            val := CASE WHEN s_look[depth] THEN 0 ELSE least(coalesce(best, cur), cur) END;
            cur := s_cur[depth] + val;
            best := s_best[depth];
            depth := depth - 1;
            last := val;
        ELSIF c IN ('?', '*') THEN
            cur := cur - last;
            last := 0;
            IF substr(pattern, i + 1, 1) = '?' THEN i := i + 1; END IF;   -- lazy quantifier
        ELSIF c = '+' THEN
            IF substr(pattern, i + 1, 1) = '?' THEN i := i + 1; END IF;
        ELSIF c = '{' AND substr(pattern, i) ~ '^\{[0-9]*(,[0-9]*)?\}' THEN
            IF substr(pattern, i) ~ '^\{0*(,|\})' THEN
                cur := cur - last;
                last := 0;
            END IF;
            i := i + length(substring(substr(pattern, i) FROM '^\{[0-9]*(?:,[0-9]*)?\}')) - 1;
        ELSIF c = '.' THEN
            last := 0;
        ELSIF c IN ('^', '$') THEN
            cur := cur + 1;
            last := 1;
        ELSE
            cur := cur + 1;
            last := 1;
        END IF;
        i := i + 1;
    END LOOP;
    WHILE depth > 0 LOOP   -- an unbalanced pattern never compiles; be total anyway
        cur := s_cur[depth] + CASE WHEN s_look[depth] THEN 0 ELSE least(coalesce(best, cur), cur) END;
        best := s_best[depth];
        depth := depth - 1;
    END LOOP;
    RETURN greatest(least(coalesce(best, cur), cur), 0);
END
$$;
COMMENT ON FUNCTION ops_private.regex_literal_length(text) IS
    'Specificity of a regex (text -> integer >= 0): the number of literal characters every match must contain '
    '(shortest alternative of each group; optional atoms, lookarounds (?=...), (?!...), (?<=...) and (?<!...), '
    'bracket expressions, "." and class escapes count 0; ^ and $ count 1). Immutable; used by the trigger that fills '
    'ops.failure_mode_patterns.specificity.';

CREATE FUNCTION ops_private.failure_mode_pattern_facts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    NEW.pattern_canonical := CASE WHEN NEW.kind = 'substring' THEN ops.canonical_text(NEW.pattern) END;
    NEW.specificity := CASE WHEN NEW.kind = 'substring' THEN length(ops.canonical_text(NEW.pattern))
                            ELSE ops_private.regex_literal_length(NEW.pattern) END;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.failure_mode_pattern_facts() IS
    'BEFORE INSERT/UPDATE trigger of ops.failure_mode_patterns: derives pattern_canonical and specificity from kind and '
    'pattern, so the facts classification ranks by are computed once per pattern, at sync time.';
CREATE TRIGGER failure_mode_patterns_facts
    BEFORE INSERT OR UPDATE OF kind, pattern ON ops.failure_mode_patterns
    FOR EACH ROW EXECUTE FUNCTION ops_private.failure_mode_pattern_facts();
CREATE FUNCTION ops_private.wrapper_regex(canon text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
-- The SSOT's `wrappers:` (regexes over canonical lines) travel with the taxonomy file's sync record, each with the
-- literals one of which every match contains (`wrapper_literals`, worker.ssot.wrapper_literals; absent from a record
-- synced before they existed, and null for a wrapper without any: then the wrapper is always kept). A wrapper none of
-- whose literals is in the text cannot match in it, so leaving it out of the alternation changes no match.
RETURN (SELECT string_agg('(' || x.w || ')', '|' ORDER BY x.n)
        FROM ops.ssot_state s
        CROSS JOIN LATERAL jsonb_array_elements_text(s.detail -> 'wrappers') WITH ORDINALITY AS x (w, n)
        WHERE s.name = 'failure_modes'
          AND (jsonb_typeof(s.detail -> 'wrapper_literals' -> (x.n::integer - 1)) IS DISTINCT FROM 'array'
               OR EXISTS (SELECT FROM jsonb_array_elements_text(s.detail -> 'wrapper_literals' -> (x.n::integer - 1)) l
                          WHERE strpos(canon, l) > 0)));
COMMENT ON FUNCTION ops_private.wrapper_regex(text) IS
    'The SSOT wrapper regexes (failure_modes.yaml `wrappers:`, synced into ops.ssot_state.detail) that can match the '
    'canonical text canon, as one alternation in YAML order, to be used newline-sensitively over canon; NULL when none '
    'can (or none are synced). A wrapper is left out when the sync recorded its literals and canon holds none of them: '
    'PostgreSQL caches only 32 compiled regexes per session, and the alternation of every wrapper cost about 2 ms to '
    'compile again each time the cache had dropped it.';

-- ------------------------------------------------------------------------------------ candidates

CREATE FUNCTION ops.classify_candidates(source text, phase text, message text, with_lines boolean DEFAULT true)
RETURNS TABLE (rank integer, code text, kind text, pattern text, line_number integer, line text,
               on_cause boolean, restriction integer, scope integer, specificity integer, priority integer,
               code_position integer, pattern_position integer, decided_by text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
-- One generic plan for the query below: a custom plan per call (PL/pgSQL's default while the generic one does not
-- look cheaper) spent about 40 % of each call planning.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    capped text;
    canon text;
    cause text;
    wrapped text;
    wrappers text;
    family_above integer;
BEGIN
    IF message IS NULL THEN
        RETURN;
    END IF;
    -- Read at most the first and the last 16 KiB: a 10 MB argument costs what 32 KiB does.
    capped := CASE WHEN length(message) > 32768
                   THEN left(message, 16384) || E'\n' || right(message, 16384) ELSE message END;
    canon := ops.canonical_text(capped);            -- once per call, not once per pattern
    wrappers := ops_private.wrapper_regex(canon);  -- only the wrappers that can match canon
    -- The cause text: the canonical text with wrapper text blanked (line numbers unchanged); the
    -- wrapped text: what the wrappers matched, one piece per line.
    IF wrappers IS NULL THEN
        cause := canon;
    ELSE
        cause := regexp_replace(canon, wrappers, '', 'gn');
        IF cause IS DISTINCT FROM canon THEN
            SELECT string_agg(w[1], E'\n') INTO wrapped FROM regexp_matches(canon, '(' || wrappers || ')', 'gn') AS w;
        END IF;
    END IF;
    SELECT count(*) / 2 INTO family_above FROM ops.sources;

    RETURN QUERY
    WITH matches AS (
        SELECT p.code, p.kind, p.pattern, p.pattern_canonical, p.priority, p.specificity,
               m.position AS code_position, p.position AS pattern_position,
               (coalesce(p.phases, m.phases) IS NOT NULL)::int * 2 + (p.sources IS NOT NULL)::int AS restriction,
               CASE WHEN NOT classify_candidates.source = ANY (m.sources) THEN 0
                    WHEN cardinality(m.sources) > family_above THEN 1
                    ELSE 2 END AS scope
        FROM ops.failure_mode_patterns p
        JOIN ops.failure_modes m ON m.code = p.code
        WHERE (p.sources IS NULL OR classify_candidates.source = ANY (p.sources))
          -- not_sources excludes without restricting: it does not count on step 3.
          AND (p.not_sources IS NULL OR NOT classify_candidates.source = ANY (p.not_sources))
          -- A code that names one source is that source's fact: it is never a fallback for another source's event
          -- (an Odoo view's `Model not found: <model>` is not AGENT.MODEL_NOT_FOUND).
          AND (cardinality(m.sources) IS DISTINCT FROM 1 OR classify_candidates.source = ANY (m.sources))
          AND (coalesce(p.phases, m.phases) IS NULL OR classify_candidates.phase = ANY (coalesce(p.phases, m.phases)))
          AND CASE
                  WHEN p.kind = 'substring' THEN strpos(canon, p.pattern_canonical) > 0
                  -- CASE fixes the order: the cheap literal test guards the regex. Most regexes have one
                  -- literal, tested without a subquery.
                  WHEN cardinality(p.required_literals) = 1
                  THEN CASE WHEN strpos(canon, p.required_literals[1]) > 0 THEN canon ~* p.pattern ELSE false END
                  WHEN p.required_literals IS NOT NULL
                       AND NOT EXISTS (SELECT FROM unnest(p.required_literals) l WHERE strpos(canon, l) > 0)
                  THEN false
                  ELSE canon ~* p.pattern
              END
    ), facts AS (
        SELECT x.*,
               -- Only a pattern that matches the wrapped text can be wrapper-only; it still counts as
               -- a cause match when it also matches the text outside the wrappers.
               wrapped IS NULL
               OR NOT CASE WHEN x.kind = 'substring' THEN strpos(wrapped, x.pattern_canonical) > 0 ELSE wrapped ~* x.pattern END
               OR CASE WHEN x.kind = 'substring' THEN strpos(cause, x.pattern_canonical) > 0 ELSE cause ~* x.pattern END
               AS on_cause
        FROM matches x
    ), ranked AS (
        SELECT f.*,
               row_number() OVER w AS rank,
               first_value(f.on_cause) OVER w AS w_cause, first_value(f.restriction) OVER w AS w_restriction,
               first_value(f.scope) OVER w AS w_scope, first_value(f.specificity) OVER w AS w_specificity,
               first_value(f.priority) OVER w AS w_priority, first_value(f.code) OVER w AS w_code
        FROM facts f
        WINDOW w AS (ORDER BY f.scope > 0 DESC, f.on_cause DESC, f.restriction DESC, f.scope DESC, f.specificity DESC,
                              f.priority DESC, f.code_position, f.pattern_position)
    )
    SELECT r.rank::integer, r.code, r.kind, r.pattern, l.n::integer, l.original, r.on_cause, r.restriction, r.scope,
           r.specificity, r.priority, r.code_position, r.pattern_position,
           CASE WHEN r.rank = 1 THEN 'winner'
                WHEN (r.scope > 0) <> (r.w_scope > 0) THEN '1 source: the winner''s code lists the event''s source, this code does not'
                WHEN r.on_cause IS DISTINCT FROM r.w_cause THEN '2 cause: the winner matched outside wrapper text, this only inside it'
                WHEN r.restriction <> r.w_restriction THEN '3 restricted: the winner''s pattern is restricted by phase/source more'
                WHEN r.scope <> r.w_scope THEN '4 scope: the winner''s code is scoped to the source, this one is a cross-source family'
                WHEN r.specificity <> r.w_specificity THEN '5 specificity: the winner''s pattern has more literal text'
                WHEN r.priority <> r.w_priority THEN '6 priority: the winner''s pattern has a higher priority'
                WHEN r.code = r.w_code THEN '7 order: an earlier pattern of the same code matched'
                ELSE '7 order: the winner''s code comes first in YAML order' END
    FROM ranked r
    -- The first single line the pattern matches (NULL when it matches only across lines).
    LEFT JOIN LATERAL (
        SELECT t.n, split_part(capped, E'\n', t.n::integer) AS original
        FROM regexp_split_to_table(canon, E'\n') WITH ORDINALITY AS t (l, n)
        WHERE classify_candidates.with_lines
          AND CASE WHEN r.kind = 'substring' THEN strpos(t.l, r.pattern_canonical) > 0 ELSE t.l ~* r.pattern END
        ORDER BY (r.on_cause AND t.l <> split_part(cause, E'\n', t.n::integer)), t.n
        LIMIT 1
    ) l ON true
    ORDER BY r.rank;
END
$$;
COMMENT ON FUNCTION ops.classify_candidates(text, text, text, boolean) IS
    'Every taxonomy pattern that matches an event, ranked by the classification rule (a code whose detect.sources names '
    'one source other than the event''s is no candidate, nor a pattern whose not_sources names the event''s source): '
    'rows (rank 1 = the winner, code, '
    'kind, pattern, line_number/line = first single line it matches (1-based, NULL if it spans lines), on_cause, '
    'restriction (2 phase + 1 source), scope (2 source-scoped code, 1 cross-source family, 0 code does not list the source), '
    'specificity (literal characters), priority, code_position, pattern_position, decided_by = the rule step that '
    'puts the winner ahead of this row). with_lines false skips finding the line (line_number/line NULL; the ranking '
    'is the same). Reads the first and last 16 KiB of message only. ops.classify_error takes its answer from rank 1 '
    '(without lines); no rows means UNKNOWN.<SOURCE>.';

CREATE FUNCTION ops.classify_error(source text, phase text, message text)
RETURNS TABLE (code text, confidence real, matched_pattern text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL rather than SQL: its plan is cached per session, which matters when the ingest
    -- trigger calls this once per row. The ranking is ops.classify_candidates' (one rule, one place).
    RETURN QUERY
    WITH candidates AS (
        SELECT * FROM ops.classify_candidates(classify_error.source, classify_error.phase, classify_error.message, false)
    ), best AS (
        SELECT c.*, (SELECT count(DISTINCT c2.code) FROM candidates c2) AS codes_matched
        FROM candidates c
        WHERE c.rank = 1
    )
    SELECT best.code,
           least(1.0,
                 CASE best.kind WHEN 'regex' THEN 0.9 ELSE 0.8 END
                 + 0.05 * (best.restriction >= 2)::int + 0.05 * (best.restriction % 2)
                 - CASE WHEN best.codes_matched > 1 THEN 0.1 ELSE 0 END)::real,
           best.pattern
    FROM best
    UNION ALL
    SELECT 'UNKNOWN.' || upper(classify_error.source), 0::real, NULL::text
    WHERE NOT EXISTS (SELECT FROM best);
END
$$;
COMMENT ON FUNCTION ops.classify_error(text, text, text) IS
    'Classifies one message: exactly one row (code, confidence, matched_pattern), the rank-1 row of '
    'ops.classify_candidates() (whose candidates exclude a code naming one source other than the event''s). Precedence rule: (1) a code listing the event''s source beats one that does not, '
    '(2) a match outside wrapper text beats one only inside it, (3) phase/source-restricted patterns first (phase weighs '
    'more), (4) a code scoped to the source beats a cross-source family, (5) more literal text (specificity), (6) higher '
    'priority, (7) YAML order. Matching is on ops.canonical_text() of the first and last 16 KiB. Confidence: 0.9 for a '
    'regex match, 0.8 for a substring, +0.05 per phase or source restriction that matched, -0.1 when other codes '
    'matched too; no match gives UNKNOWN.<SOURCE> with confidence 0 and a NULL pattern.';
