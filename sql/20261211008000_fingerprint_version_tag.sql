-- The fingerprint version in one place (issue 9). The version number was written four times that had to change
-- together on each grouping version: the "fp23|" tag in ops.error_fingerprint, again in ops_private.regroup_stale (a
-- hand-copied hash of a code's one group), the RETURN of ops.current_fingerprint_version() and the tests. Now:
--  * ops.code_group_fingerprint(source, phase, code) is the fingerprint of a code's one group (the `code` grouping
--    rule's hash), which ops.error_fingerprint gives under that rule and ops_private.regroup_stale compares with;
--  * the tag is 'fp' || ops.current_fingerprint_version()::text || '|' (an IMMUTABLE constant, folded at plan time).
-- The hashed string is byte for byte what version 23 hashed, so no fingerprint changes: the version stays 23 and the
-- taxonomy version is not raised (nothing ingest computes changes). A new grouping version edits only
-- ops.current_fingerprint_version() and normalization.

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
REVOKE ALL ON FUNCTION ops.code_group_fingerprint(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.code_group_fingerprint(text, text, text) TO ops_ingest, ops_worker, ops_analyst;

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
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
-- normalization.
RETURN CASE WHEN ops.grouping_rule(code) = 'code' THEN ops.code_group_fingerprint(source, phase, code)
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
    'fingerprint instead (ops.code_group_fingerprint). Pass the redacted grouping text (ops.grouping_text).';

CREATE OR REPLACE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- A group moves when an older fingerprint version made it, or when its code's grouping rule changed in the SSOT since
-- the group was made: the rule is `code` and the group is not the code's one group (`message` -> `code` merges the
-- code's groups), or the rule is `message` and the group is that one group (`code` -> `message` splits it by text).
-- The code's one group has the fingerprint ops.error_fingerprint gives under `code` (ops.code_group_fingerprint).
RETURN a.fingerprint_version < ops.current_fingerprint_version()
    OR (ops.grouping_rule(a.code) = 'code')
       IS DISTINCT FROM (a.fingerprint = ops.code_group_fingerprint(a.source, a.phase, a.code));
COMMENT ON FUNCTION ops_private.regroup_stale(ops.agent_errors) IS
    'For ops.regroup_errors: true when the group was fingerprinted by an older version, or when its code''s grouping rule '
    '(ops.grouping_rule) changed since it was made (rule code and the group is not the code''s one group, or rule message '
    'and it is). agent_errors row -> boolean.';
