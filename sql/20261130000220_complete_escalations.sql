-- Batch completion: one statement (one commit) completes every delivery a worker finished since its
-- last flush, instead of one commit per job (issue 12). Fenced per row exactly like
-- ops.complete_escalation.
CREATE FUNCTION ops.complete_escalations(ids bigint[], tokens integer[], results jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF cardinality(ids) IS DISTINCT FROM cardinality(tokens) OR cardinality(ids) IS DISTINCT FROM cardinality(results) THEN
        RAISE EXCEPTION 'complete_escalations: ids (%), tokens (%) and results (%) must have the same length',
            cardinality(ids), cardinality(tokens), cardinality(results)
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    UPDATE ops.escalations e
    SET state = 'delivered', delivered_at = now(), attempts = e.attempts + 1, lease_expires_at = NULL,
        result = t.result
    FROM unnest(ids, tokens, results) AS t (id, token, result)
    WHERE e.id = t.id AND e.claims = t.token AND e.state = 'claimed'
    RETURNING e.id;
END
$$;
COMMENT ON FUNCTION ops.complete_escalations(bigint[], integer[], jsonb[]) IS
    'Marks many claimed escalations delivered in one statement: ids[i] under token tokens[i] with result results[i] '
    '(what the destination returned, or NULL). Fenced per row like ops.complete_escalation: returns the ids it '
    'completed; an id missing from the answer had lost its claim and is unchanged. Raises 22023 when the three '
    'arrays differ in length. A repeated id completes at most once.';
REVOKE ALL ON FUNCTION ops.complete_escalations(bigint[], integer[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.complete_escalations(bigint[], integer[], jsonb[]) TO ops_worker;
