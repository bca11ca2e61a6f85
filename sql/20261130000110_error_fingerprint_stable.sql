-- issue 12 (ingest cost): ops.error_fingerprint was declared IMMUTABLE but its body calls STABLE
-- functions (concat_ws, convert_to), so it was never inlined, and it normalized each field twice
-- (once for the length prefix, once for the value). Now STABLE (honest, inlinable), without concat_ws,
-- each field normalized once through ops.fingerprint_field. The digest is the same string as before.
CREATE FUNCTION ops.fingerprint_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- NULL is "~"; anything else is <length>:<value>, so no choice of field values can collide.
RETURN coalesce(length(value)::text || ':' || value, '~');
COMMENT ON FUNCTION ops.fingerprint_field(text) IS
    'One field of ops.error_fingerprint''s input: "<length in characters>:<value>", or "~" for NULL, so no choice of '
    'field values can collide. text -> text.';

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE), so the planner inlines it; each normalized
-- field is computed once and passed to ops.fingerprint_field.
RETURN encode(sha256(convert_to(
    'fp2|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || ops.fingerprint_field(ops.normalize_message(message))
    || '|' || ops.fingerprint_field(ops.normalize_message(top_frame)),
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp2, source, phase, code, normalized message and normalized top frame, '
    'each length-prefixed (fingerprint version 2; ops.current_fingerprint_version()). Pass the redacted message.';
REVOKE ALL ON FUNCTION ops.fingerprint_field(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.fingerprint_field(text) TO ops_ingest, ops_worker, ops_analyst;
