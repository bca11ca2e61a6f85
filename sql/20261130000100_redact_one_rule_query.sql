-- issue 12 (ingest cost): ops.redact picks the rules whose prefilter literal occurs in the text with one
-- query (it ran one EXISTS per rule), and returns an empty text at once. Same rules, same order, same
-- result: the prefilter was already tested on the lower-cased text before each regex.
CREATE OR REPLACE FUNCTION ops.redact(message text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    max_length constant integer := 65536;
    rule record;
    result text := left(message, max_length);
    lowered text;
BEGIN
    IF result IS NULL OR result = '' THEN
        RETURN message;
    END IF;
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
    IF length(message) > max_length THEN
        result := result || format(E'\n[… %s characters cut before redaction …]', length(message) - max_length);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops.redact(text) IS
    'Replaces secrets (tokens, keys, JWTs, passwords, credentials in URLs, PEM private keys, webhook URLs) with '
    '[REDACTED:<rule>] markers, using ops.redaction_rules in order. Applied to every message, top frame and context '
    'before storage or hashing. Reads at most 65536 characters; a longer argument is cut there and ends with a '
    '"[… N characters cut before redaction …]" marker (the ingest trigger slices long messages before calling it).';
