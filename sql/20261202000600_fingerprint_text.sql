-- One text field of the fingerprint in one place: ops.error_fingerprint spelled the same normalization twice (message
-- and top frame, versions 5 and 7). ops.fingerprint_text is that expression; the fingerprint is the same string, so the
-- version stays 7.

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
REVOKE ALL ON FUNCTION ops.fingerprint_text(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.fingerprint_text(text) TO ops_ingest, ops_worker, ops_analyst;

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE); each normalized field is computed once and passed to
-- ops.fingerprint_field. Version 4: a code whose grouping rule is `code` (ops.grouping_rule) is grouped by source,
-- phase and code alone; "=" stands for the two text fields (no field starts with "=", so nothing collides).
-- Versions 5 and 7: each text field in the form ops.fingerprint_text gives it (its ends trimmed, "-" as "_", a text
-- normalization empties kept apart by its own text). Version 6: ops.normalize_message reads a Markdown link as its
-- text, an IPv6 address with "::" as <ip> and drops an HTTP status starting a quoted message; ops.grouping_text passes
-- over a source line that raises the error.
RETURN encode(sha256(convert_to(
    'fp7|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || CASE WHEN ops.grouping_rule(code) = 'code' THEN '='
                   ELSE ops.fingerprint_field(ops.fingerprint_text(message))
                        || '|' || ops.fingerprint_field(ops.fingerprint_text(top_frame)) END,
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp7, source, phase, code and, unless the code''s grouping rule is '
    '''code'' (ops.grouping_rule), the normalized message and normalized top frame, each length-prefixed (fingerprint '
    'version 7; ops.current_fingerprint_version()), each text field in the form ops.fingerprint_text gives it. Pass the '
    'redacted grouping text (ops.grouping_text).';
