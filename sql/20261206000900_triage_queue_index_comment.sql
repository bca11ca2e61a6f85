-- ops.triage_queue's comment named agent_errors_code_last_seen_idx, which 20261205000050 replaced by
-- agent_errors_code_idx (heap-only updates of the hot rows); the function is otherwise unchanged.
CREATE OR REPLACE FUNCTION ops.triage_queue(source text DEFAULT NULL, max_groups integer DEFAULT 20, suggestions integer DEFAULT 3)
RETURNS TABLE (fingerprint text, code text, source text, phase text, count bigint, first_seen_at timestamptz,
               last_seen_at timestamptz, sample_message text, code_retired boolean, suggested jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops, extensions
BEGIN ATOMIC
    WITH queue AS MATERIALIZED (
        SELECT u.fingerprint, u.code, u.source, u.phase, u.count, u.first_seen_at, u.last_seen_at, u.sample_message,
               u.code_retired, ops.normalize_message(left(u.sample_message, 2000)) AS norm
        FROM ops.unknown_triage u
        WHERE triage_queue.source IS NULL OR u.source = lower(triage_queue.source)
        ORDER BY u.count DESC, u.last_seen_at DESC, u.fingerprint
        LIMIT greatest(triage_queue.max_groups, 0)
    ), neighbours AS MATERIALIZED (
        -- The candidates: the 5 most recently seen groups of every code (agent_errors_code_idx, then a top-5 sort),
        -- normalized once; a bounded set, so no trigram index has to be kept on the hot agent_errors rows.
        SELECT n.fingerprint, n.code, n.sample_message, ops.normalize_message(left(n.sample_message, 2000)) AS norm
        FROM ops.failure_modes f
        CROSS JOIN LATERAL (SELECT a.fingerprint, a.code, a.sample_message FROM ops.agent_errors a
                            WHERE a.code = f.code ORDER BY a.last_seen_at DESC LIMIT 5) n
        WHERE f.code NOT LIKE 'UNKNOWN.%'
    )
    SELECT q.fingerprint, q.code, q.source, q.phase, q.count, q.first_seen_at, q.last_seen_at, q.sample_message,
           q.code_retired,
           coalesce((
               SELECT jsonb_agg(jsonb_build_object('code', b.code, 'similarity', round(b.sim::numeric, 3),
                                                   'fingerprint', b.fingerprint, 'sample_message', left(b.sample_message, 500))
                                ORDER BY b.sim DESC, b.code)
               FROM (SELECT d.* FROM (
                         SELECT DISTINCT ON (s.code) s.code, s.sim, s.fingerprint, s.sample_message
                         FROM (SELECT n.code, n.fingerprint, n.sample_message,
                                      extensions.similarity(q.norm, n.norm) AS sim
                               FROM neighbours n) s
                         WHERE s.sim >= 0.1
                         ORDER BY s.code, s.sim DESC, s.fingerprint) d
                     ORDER BY d.sim DESC, d.code
                     LIMIT greatest(triage_queue.suggestions, 0)) b), '[]'::jsonb)
    FROM queue q
    ORDER BY q.count DESC, q.last_seen_at DESC, q.fingerprint;
END;
