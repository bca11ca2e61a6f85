-- Views: what analysts read (failure-mode summary, daily trend, top errors, the unknown triage queue,
-- pending escalations) and the worker's dispatch views (queue and its stats).

CREATE VIEW ops.failure_mode_summary AS
SELECT fm.code,
       fm.title,
       fm.category,
       fm.severity,
       coalesce(e.open_errors, 0) AS open_errors,
       coalesce(e.fingerprints, 0) AS fingerprints,
       coalesce(e.events, 0) AS events,
       coalesce(d.events_24h, 0) AS events_24h,
       e.first_seen_at,
       e.last_seen_at,
       fm.runbook
FROM ops.failure_modes fm
LEFT JOIN (
    SELECT a.code,
           count(*) FILTER (WHERE a.status IN ('open', 'acknowledged', 'regressed')) AS open_errors,
           count(*) AS fingerprints,
           sum(a.count) AS events,
           min(a.first_seen_at) AS first_seen_at,
           max(a.last_seen_at) AS last_seen_at
    FROM ops.agent_errors a
    GROUP BY a.code
) e ON e.code = fm.code
LEFT JOIN (
    SELECT ev.code, count(*) AS events_24h
    FROM ops.error_events ev
    WHERE ev.received_at >= now() - interval '24 hours'
    GROUP BY ev.code
) d ON d.code = fm.code;
COMMENT ON VIEW ops.failure_mode_summary IS 'One row per failure mode: open errors, event counts (all time and last 24 h), first/last seen, runbook.';
COMMENT ON COLUMN ops.failure_mode_summary.code IS 'Taxonomy code.';
COMMENT ON COLUMN ops.failure_mode_summary.title IS 'Title of the failure mode.';
COMMENT ON COLUMN ops.failure_mode_summary.category IS 'Category of the failure mode.';
COMMENT ON COLUMN ops.failure_mode_summary.severity IS 'critical, high, medium or low.';
COMMENT ON COLUMN ops.failure_mode_summary.open_errors IS 'Distinct errors (fingerprints) open, acknowledged or regressed.';
COMMENT ON COLUMN ops.failure_mode_summary.fingerprints IS 'Distinct errors (fingerprints) ever seen.';
COMMENT ON COLUMN ops.failure_mode_summary.events IS 'Occurrences ever counted.';
COMMENT ON COLUMN ops.failure_mode_summary.events_24h IS 'Occurrences received in the last 24 hours.';
COMMENT ON COLUMN ops.failure_mode_summary.first_seen_at IS 'First occurrence of any error with this code.';
COMMENT ON COLUMN ops.failure_mode_summary.last_seen_at IS 'Latest occurrence of any error with this code.';
COMMENT ON COLUMN ops.failure_mode_summary.runbook IS 'Path of the runbook in the repository.';

CREATE VIEW ops.error_trend_daily AS
SELECT date_trunc('day', ev.received_at AT TIME ZONE 'UTC')::date AS day,
       ev.code,
       count(*) AS events,
       count(DISTINCT ev.fingerprint) AS fingerprints
FROM ops.error_events ev
GROUP BY 1, 2;
COMMENT ON VIEW ops.error_trend_daily IS 'Occurrences per UTC day and code. Filter on day to read a few partitions only.';
COMMENT ON COLUMN ops.error_trend_daily.day IS 'UTC day the events were received.';
COMMENT ON COLUMN ops.error_trend_daily.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.error_trend_daily.events IS 'Occurrences that day.';
COMMENT ON COLUMN ops.error_trend_daily.fingerprints IS 'Distinct errors that day.';

CREATE VIEW ops.top_errors AS
SELECT a.fingerprint,
       a.code,
       fm.title,
       a.source,
       a.phase,
       a.count,
       a.status,
       a.first_seen_at,
       a.last_seen_at,
       a.confidence,
       a.sample_message,
       fm.runbook
FROM ops.agent_errors a
LEFT JOIN ops.failure_modes fm ON fm.code = a.code
ORDER BY a.count DESC, a.last_seen_at DESC;
COMMENT ON VIEW ops.top_errors IS 'Deduplicated errors, most frequent first (add LIMIT).';
COMMENT ON COLUMN ops.top_errors.fingerprint IS 'Stable identity of the error (SHA-256, see ops.error_fingerprint).';
COMMENT ON COLUMN ops.top_errors.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.top_errors.title IS 'Title of the failure mode (NULL if the code left the taxonomy).';
COMMENT ON COLUMN ops.top_errors.source IS 'Producer of the error.';
COMMENT ON COLUMN ops.top_errors.phase IS 'Phase the producer reported, if any.';
COMMENT ON COLUMN ops.top_errors.count IS 'Occurrences.';
COMMENT ON COLUMN ops.top_errors.status IS 'Triage status.';
COMMENT ON COLUMN ops.top_errors.first_seen_at IS 'First occurrence.';
COMMENT ON COLUMN ops.top_errors.last_seen_at IS 'Latest occurrence.';
COMMENT ON COLUMN ops.top_errors.confidence IS 'Classification confidence (0 for UNKNOWN).';
COMMENT ON COLUMN ops.top_errors.sample_message IS 'Latest redacted message.';
COMMENT ON COLUMN ops.top_errors.runbook IS 'Path of the runbook.';

CREATE VIEW ops.unknown_triage AS
SELECT a.fingerprint,
       a.code,
       a.source,
       a.phase,
       a.count,
       a.first_seen_at,
       a.last_seen_at,
       a.sample_message,
       (fm.code IS NULL) AS code_retired
FROM ops.agent_errors a
LEFT JOIN ops.failure_modes fm ON fm.code = a.code
WHERE a.code LIKE 'UNKNOWN.%' OR fm.code IS NULL
ORDER BY a.count DESC, a.last_seen_at DESC;
COMMENT ON VIEW ops.unknown_triage IS
    'The triage queue: errors no pattern recognised (UNKNOWN.<SOURCE>) or whose code left the taxonomy. Promote by adding a pattern to the SSOT.';
COMMENT ON COLUMN ops.unknown_triage.fingerprint IS 'Stable identity of the error.';
COMMENT ON COLUMN ops.unknown_triage.code IS 'UNKNOWN.<SOURCE>, or a code no longer in the taxonomy.';
COMMENT ON COLUMN ops.unknown_triage.source IS 'Producer of the error.';
COMMENT ON COLUMN ops.unknown_triage.phase IS 'Phase the producer reported, if any.';
COMMENT ON COLUMN ops.unknown_triage.count IS 'Occurrences.';
COMMENT ON COLUMN ops.unknown_triage.first_seen_at IS 'First occurrence.';
COMMENT ON COLUMN ops.unknown_triage.last_seen_at IS 'Latest occurrence.';
COMMENT ON COLUMN ops.unknown_triage.sample_message IS 'Latest redacted message: the text a new pattern must match.';
COMMENT ON COLUMN ops.unknown_triage.code_retired IS 'True when the code is not (any longer) in the taxonomy.';

CREATE FUNCTION ops.triage_queue(source text DEFAULT NULL, max_groups integer DEFAULT 20, suggestions integer DEFAULT 3)
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
        -- The candidates: the 5 most recently seen groups of every code (agent_errors_code_last_seen_idx),
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
COMMENT ON FUNCTION ops.triage_queue(text, integer, integer) IS
    'The UNKNOWN queue (ops.unknown_triage: UNKNOWN.<SOURCE> groups and groups whose code left the taxonomy), most '
    'frequent first, at most max_groups (optionally one source), each with up to `suggestions` suggested codes: the '
    'codes of the nearest classified groups by pg_trgm similarity (0..1, trigrams of the normalized first 2000 '
    'characters of the sample messages; at least 0.1), compared against the 5 most recently seen groups of every code. '
    'suggested is a JSON array of {code, similarity, fingerprint, sample_message} (the nearest group of that code), '
    'best first. Read-only; for ops_analyst (`ops triage list`).';


CREATE VIEW ops.pending_escalations AS
SELECT s.id,
       s.code,
       s.reason,
       s.destination,
       s.state,
       s.attempts,
       s.count_at,
       s.created_at,
       s.next_attempt_at,
       now() - s.created_at AS age,
       s.last_error,
       s.fingerprint
FROM ops.escalations s
WHERE s.state IN ('pending', 'claimed')
ORDER BY s.created_at;
COMMENT ON VIEW ops.pending_escalations IS 'Escalations not yet delivered (pending or claimed by a worker), oldest first.';
COMMENT ON COLUMN ops.pending_escalations.id IS 'Escalation id.';
COMMENT ON COLUMN ops.pending_escalations.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.pending_escalations.reason IS
    'threshold, window, regression, manual, or digest (crossings a page budget held back in one window).';
COMMENT ON COLUMN ops.pending_escalations.destination IS 'Destination name (ssot/destinations.yaml).';
COMMENT ON COLUMN ops.pending_escalations.state IS 'pending or claimed.';
COMMENT ON COLUMN ops.pending_escalations.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN ops.pending_escalations.count_at IS 'The error''s count when the threshold was crossed.';
COMMENT ON COLUMN ops.pending_escalations.created_at IS 'When the escalation was created.';
COMMENT ON COLUMN ops.pending_escalations.next_attempt_at IS 'Earliest next delivery attempt.';
COMMENT ON COLUMN ops.pending_escalations.age IS 'Time since creation.';
COMMENT ON COLUMN ops.pending_escalations.last_error IS 'Error of the last failed attempt.';
COMMENT ON COLUMN ops.pending_escalations.fingerprint IS 'The escalated error.';

CREATE VIEW ops.dispatch_queue AS
SELECT e.id, e.code, e.destination, e.reason, e.state, e.attempts, e.max_attempts, e.next_attempt_at,
       e.lease_expires_at, e.claimed_by, e.last_error, e.created_at, e.delivered_at,
       r.id AS agent_run_id, r.status AS agent_run_status
FROM ops.escalations e
LEFT JOIN ops.agent_runs r ON r.escalation_id = e.id;
COMMENT ON VIEW ops.dispatch_queue IS 'Every escalation with its delivery state and, for FixBot, its agent run.';
COMMENT ON COLUMN ops.dispatch_queue.id IS 'Escalation id.';
COMMENT ON COLUMN ops.dispatch_queue.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.dispatch_queue.destination IS 'Destination name.';
COMMENT ON COLUMN ops.dispatch_queue.reason IS
    'threshold, window, regression, manual, or digest (crossings a page budget held back in one window).';
COMMENT ON COLUMN ops.dispatch_queue.state IS 'pending, claimed, delivered or dead.';
COMMENT ON COLUMN ops.dispatch_queue.attempts IS 'Delivery attempts made.';
COMMENT ON COLUMN ops.dispatch_queue.max_attempts IS 'Attempts after which a failure is final.';
COMMENT ON COLUMN ops.dispatch_queue.next_attempt_at IS 'Earliest next attempt.';
COMMENT ON COLUMN ops.dispatch_queue.lease_expires_at IS 'When the current claim expires.';
COMMENT ON COLUMN ops.dispatch_queue.claimed_by IS 'Worker holding (or last holding) the claim.';
COMMENT ON COLUMN ops.dispatch_queue.last_error IS 'Error of the last failed attempt (redacted).';
COMMENT ON COLUMN ops.dispatch_queue.created_at IS 'When the escalation was created.';
COMMENT ON COLUMN ops.dispatch_queue.delivered_at IS 'When it was delivered.';
COMMENT ON COLUMN ops.dispatch_queue.agent_run_id IS 'The FixBot run this escalation dispatches, if any.';
COMMENT ON COLUMN ops.dispatch_queue.agent_run_status IS 'Status of that run.';

CREATE VIEW ops.dispatch_stats AS
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'claimed') AS claimed,
       count(*) FILTER (WHERE state = 'dead') AS dead,
       count(*) FILTER (WHERE state = 'delivered') AS delivered,
       coalesce(extract(epoch FROM now() - min(CASE WHEN reason = 'digest'
                                                    THEN least(greatest(created_at, (payload ->> 'window_end')::timestamptz), now())
                                                    ELSE created_at END) FILTER (WHERE state = 'pending')), 0)::double precision
           AS oldest_pending_seconds
FROM ops.escalations;
COMMENT ON VIEW ops.dispatch_stats IS
    'Queue depth by state and the age of the oldest pending escalation (the worker''s metrics); a digest''s age '
    'counts from the end of its window.';
COMMENT ON COLUMN ops.dispatch_stats.pending IS 'Escalations waiting for delivery.';
COMMENT ON COLUMN ops.dispatch_stats.claimed IS 'Escalations being delivered.';
COMMENT ON COLUMN ops.dispatch_stats.dead IS 'Escalations that failed for good.';
COMMENT ON COLUMN ops.dispatch_stats.delivered IS 'Escalations delivered.';
COMMENT ON COLUMN ops.dispatch_stats.oldest_pending_seconds IS
    'Age in seconds of the oldest pending escalation (a digest: since its window closed; 0 while it is open).';
