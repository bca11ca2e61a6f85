-- Triage (issue 13): before `ops triage promote --pattern` adds a pattern to the SSOT, the classifier itself says
-- which stored messages the pattern would move: ops.pattern_conflicts tries it in a subtransaction that
-- always rolls back.

CREATE FUNCTION ops.pattern_conflicts(code text, kind text, pattern text, required_literals text[] DEFAULT NULL,
                                      messages jsonb DEFAULT NULL)
RETURNS TABLE (origin text, fingerprint text, source text, phase text, message text, code_before text,
               code_after text, steals boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_variable
DECLARE
    tried jsonb;
    inputs jsonb;
BEGIN
    IF NOT EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = pattern_conflicts.code) OR code LIKE 'UNKNOWN.%' THEN
        RAISE EXCEPTION 'unknown code "%"', left(code, 200) USING ERRCODE = 'OP001', COLUMN = 'code',
            HINT = 'A pattern belongs to a code of ssot/errors/failure_modes.yaml other than UNKNOWN.*.';
    END IF;
    IF kind IS NULL OR kind NOT IN ('substring', 'regex') THEN
        RAISE EXCEPTION 'kind must be substring or regex, not "%"', kind USING ERRCODE = 'OP001', COLUMN = 'kind';
    END IF;
    IF ops.is_blank(pattern) THEN
        RAISE EXCEPTION 'pattern is required' USING ERRCODE = 'OP001', COLUMN = 'pattern';
    END IF;
    IF messages IS NOT NULL AND jsonb_typeof(messages) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'messages must be a JSON array of {source, phase, message}' USING ERRCODE = 'OP001',
            COLUMN = 'messages';
    END IF;

    -- Every stored group's sample, and the given messages (e.g. a labelled corpus), classified as today.
    WITH m AS (
        SELECT 'group' AS origin, a.fingerprint, a.source, a.phase, a.sample_message AS message
        FROM ops.agent_errors a
        UNION ALL
        SELECT 'message ' || x.ord, NULL, x.doc ->> 'source', x.doc ->> 'phase', x.doc ->> 'message'
        FROM jsonb_array_elements(coalesce(messages, '[]')) WITH ORDINALITY AS x (doc, ord)
        WHERE x.doc ->> 'source' IS NOT NULL AND x.doc ->> 'message' IS NOT NULL
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('origin', m.origin, 'fingerprint', m.fingerprint, 'source', m.source,
                                                 'phase', m.phase, 'message', m.message, 'code_before', c.code)), '[]')
    INTO inputs
    FROM m CROSS JOIN LATERAL ops.classify_error(m.source, m.phase, m.message) c;

    BEGIN
        INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, required_literals)
        SELECT pattern_conflicts.code, coalesce(max(p.position), 0) + 1, kind, pattern, required_literals
        FROM ops.failure_mode_patterns p WHERE p.code = pattern_conflicts.code;
        SELECT coalesce(jsonb_agg(i.doc || jsonb_build_object('code_after', c.code)), '[]')
        INTO tried
        FROM jsonb_array_elements(inputs) AS i (doc)
        CROSS JOIN LATERAL ops.classify_error(i.doc ->> 'source', i.doc ->> 'phase', i.doc ->> 'message') c
        WHERE c.code IS DISTINCT FROM i.doc ->> 'code_before';
        RAISE EXCEPTION 'roll the trial pattern back' USING ERRCODE = 'OPT01';
    EXCEPTION WHEN SQLSTATE 'OPT01' THEN
        NULL;  -- the pattern is gone again; tried keeps what it changed
    END;

    RETURN QUERY
    SELECT t.origin, t.fingerprint, t.source, t.phase, t.message, t.code_before, t.code_after,
           t.code_after = pattern_conflicts.code AND t.code_before NOT LIKE 'UNKNOWN.%'
    FROM jsonb_to_recordset(tried) AS t (origin text, fingerprint text, source text, phase text, message text,
                                         code_before text, code_after text)
    ORDER BY 8 DESC, t.code_before, t.origin, t.fingerprint;
END
$$;
COMMENT ON FUNCTION ops.pattern_conflicts(text, text, text, text[], jsonb) IS
    'Triage: what adding one pattern (kind substring|regex, with the regex''s required_literals as the SSOT sync '
    'computes them) to a code would change, decided by ops.classify_error itself: the pattern is inserted in a '
    'subtransaction that always rolls back, and every stored group''s sample message (and each {source, phase, '
    'message} of the optional messages array, e.g. a labelled corpus) is classified before and with it. Returns the '
    'messages whose code would change: steals is true when one a real code (not UNKNOWN.*) classifies today would '
    'move to this code (`ops triage promote --pattern` refuses then, naming the codes); false rows are UNKNOWN '
    'messages the pattern would also classify. Changes nothing. Errors: OP001 unknown or UNKNOWN.* code, bad kind, '
    'blank pattern, messages not an array; a regex PostgreSQL cannot compile raises its own error.';

REVOKE ALL ON FUNCTION ops.pattern_conflicts(text, text, text, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.pattern_conflicts(text, text, text, text[], jsonb) TO ops_triage;
