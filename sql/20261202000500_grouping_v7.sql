-- Grouping version 7 (issue 9, tuned on dev, dev-holdout1 and dev-blind2 ... dev-blind6; docs/grouping.md): the key of
-- a normalized field, ops.error_fingerprint's only change, checked on all seven tuning splits:
--  * quotes, commas and semicolons at either end are dropped with the backticks and blanks: one paste quotes a model
--    error as a Python dict value ('The model: `gpt-4` does not exist',), another prints it bare (agent-b6pair-01);
--  * '-' reads as '_': one workflow names the input github_token, another github-token (gha-b4pair-02).
-- btrim and translate, no regex; ops.normalize_message and ops.grouping_text are unchanged. No "different" pair of the
-- tuning data is merged by either. Fingerprints carry version 7 ('fp7|' is hashed in); the classification cache key
-- includes the version, so no entry of version 6 is read again. Rows written under version 6 stay as they are and stay
-- readable; `ops errors regroup` (ops.regroup_errors) moves them (ops_private.regroup_stale compares the version and,
-- for a code grouped by code, the version-7 fingerprint of the code's one group).

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE); each normalized field is computed once and passed to
-- ops.fingerprint_field. Version 4: a code whose grouping rule is `code` (ops.grouping_rule) is grouped by source,
-- phase and code alone; "=" stands for the two text fields (no field starts with "=", so nothing collides).
-- Version 5: backticks and blanks at either end of a normalized field are dropped, and a field that normalization
-- leaves empty falls back to "<bare> " and its folded, lower-cased text (tabs and line breaks as spaces, digits as 0),
-- computed only then (coalesce); NULL stays NULL. Version 6: ops.normalize_message reads a Markdown link as its text,
-- an IPv6 address with "::" as <ip> and drops an HTTP status starting a quoted message; ops.grouping_text passes over a
-- source line that raises the error. Version 7: a normalized field also loses quotes, commas and semicolons at either end
-- (a JSON or Python value pasted with its quotes and trailing comma), and '-' reads as '_' (an input or key spelled
-- github-token and github_token), both by btrim and translate, no regex.
RETURN encode(sha256(convert_to(
    'fp7|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || CASE WHEN ops.grouping_rule(code) = 'code' THEN '='
                   ELSE ops.fingerprint_field(coalesce(
                            nullif(translate(btrim(ops.normalize_message(message), '` ''",;'), '-', '_'), ''),
                            '<bare> ' || btrim(translate(lower(ops.fold_text(message)), E'\t\r\n0123456789', '   0000000000'))))
                        || '|' || ops.fingerprint_field(coalesce(
                            nullif(translate(btrim(ops.normalize_message(top_frame), '` ''",;'), '-', '_'), ''),
                            '<bare> ' || btrim(translate(lower(ops.fold_text(top_frame)), E'\t\r\n0123456789', '   0000000000')))) END,
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp7, source, phase, code and, unless the code''s grouping rule is '
    '''code'' (ops.grouping_rule), the normalized message and normalized top frame, each length-prefixed (fingerprint '
    'version 7; ops.current_fingerprint_version()). A normalized field loses backticks, blanks, quotes, commas and '
    'semicolons at either end and reads "-" as "_"; one '
    'that normalization leaves empty (a bare exception class and [tag]) is "<bare> " and its folded, lower-cased text '
    '(digits as 0), so unrelated bare lines do not share a fingerprint. Pass the redacted grouping text (ops.grouping_text).';


CREATE OR REPLACE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 7;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (7). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them (and the groups a changed grouping rule moved).';


CREATE OR REPLACE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- A group moves when an older fingerprint version made it, or when its code's grouping rule changed in the SSOT since
-- the group was made: the rule is `code` and the group is not the code's one group (`message` -> `code` merges the
-- code's groups), or the rule is `message` and the group is that one group (`code` -> `message` splits it by text).
-- The code's one group has the fingerprint ops.error_fingerprint gives under `code`: its text fields are "=".
RETURN a.fingerprint_version < ops.current_fingerprint_version()
    OR (ops.grouping_rule(a.code) = 'code') IS DISTINCT FROM (a.fingerprint = encode(sha256(convert_to(
           'fp7|' || ops.fingerprint_field(a.source) || '|' || ops.fingerprint_field(a.phase)
           || '|' || ops.fingerprint_field(a.code) || '|=', 'UTF8')), 'hex'));
COMMENT ON FUNCTION ops_private.regroup_stale(ops.agent_errors) IS
    'For ops.regroup_errors: true when the group was fingerprinted by an older version, or when its code''s grouping rule '
    '(ops.grouping_rule) changed since it was made (rule code and the group is not the code''s one group, or rule message '
    'and it is). agent_errors row -> boolean.';

