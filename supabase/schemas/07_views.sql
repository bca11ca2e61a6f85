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

-- On call: one error at a time (ops errors list / show).
CREATE VIEW ops.error_groups AS
SELECT a.fingerprint,
       a.code,
       fm.title,
       fm.severity,
       CASE WHEN a.status = 'ignored' AND a.ignored_until <= now() THEN 'open' ELSE a.status END AS status,
       a.source,
       a.phase,
       a.count,
       a.first_seen_at,
       a.last_seen_at,
       a.regression_count,
       a.resolved_at,
       a.resolved_by,
       a.resolution_ref,
       a.resolution_sha256,
       CASE WHEN a.status = 'ignored' THEN a.ignored_until END AS ignored_until,
       fm.runbook,
       fm.remediate_kind,
       fm.escalate_destination,
       a.last_run_id,
       a.last_correlation_id,
       a.sample_message
FROM ops.agent_errors a
LEFT JOIN ops.failure_modes fm ON fm.code = a.code;
COMMENT ON VIEW ops.error_groups IS
    'One row per error (fingerprint) with what on-call needs to act on it: status, counts, the runbook and the last '
    'resolution record. `ops errors list` and `ops errors show` read it.';
COMMENT ON COLUMN ops.error_groups.fingerprint IS 'Stable identity of the error (64 hex; a unique prefix is enough for ops).';
COMMENT ON COLUMN ops.error_groups.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.error_groups.title IS 'Title of the failure mode (NULL if the code left the taxonomy).';
COMMENT ON COLUMN ops.error_groups.severity IS 'critical, high, medium or low.';
COMMENT ON COLUMN ops.error_groups.status IS
    'open | acknowledged | resolved | regressed | ignored; an ignore past its ignored_until reads as open.';
COMMENT ON COLUMN ops.error_groups.source IS 'Producer of the error.';
COMMENT ON COLUMN ops.error_groups.phase IS 'Phase the producer reported, if any.';
COMMENT ON COLUMN ops.error_groups.count IS 'Occurrences (ignored errors keep counting).';
COMMENT ON COLUMN ops.error_groups.first_seen_at IS 'First occurrence.';
COMMENT ON COLUMN ops.error_groups.last_seen_at IS 'Latest occurrence.';
COMMENT ON COLUMN ops.error_groups.regression_count IS 'Times the error came back after being resolved.';
COMMENT ON COLUMN ops.error_groups.resolved_at IS 'When it was last resolved.';
COMMENT ON COLUMN ops.error_groups.resolved_by IS 'Who resolved it last (a person, or fixbot).';
COMMENT ON COLUMN ops.error_groups.resolution_ref IS 'Path of the last resolution record (docs/resolutions/...).';
COMMENT ON COLUMN ops.error_groups.resolution_sha256 IS 'SHA-256 of that record as written.';
COMMENT ON COLUMN ops.error_groups.ignored_until IS 'For an ignored error: when the ignore ends (NULL: until reopened).';
COMMENT ON COLUMN ops.error_groups.runbook IS 'Path of the runbook for the code.';
COMMENT ON COLUMN ops.error_groups.remediate_kind IS 'checklist, fixbot or guardrail.';
COMMENT ON COLUMN ops.error_groups.escalate_destination IS 'Where the code escalates.';
COMMENT ON COLUMN ops.error_groups.last_run_id IS 'Run id of the latest event that carried one.';
COMMENT ON COLUMN ops.error_groups.last_correlation_id IS 'Correlation id of the latest event that carried one.';
COMMENT ON COLUMN ops.error_groups.sample_message IS 'Latest redacted message.';

CREATE VIEW ops.error_event_log AS
SELECT e.id AS event_id,
       e.fingerprint,
       e.code,
       e.source,
       e.phase,
       e.received_at,
       e.occurred_at,
       e.run_id,
       e.correlation_id,
       e.origin,
       e.message,
       e.truncated
FROM ops.error_events e;
COMMENT ON VIEW ops.error_event_log IS
    'Stored occurrences (redacted at ingest), for one error at a time: filter on fingerprint and received_at '
    '(the table is partitioned by received_at day).';
COMMENT ON COLUMN ops.error_event_log.event_id IS 'Event id.';
COMMENT ON COLUMN ops.error_event_log.fingerprint IS 'The error the event belongs to.';
COMMENT ON COLUMN ops.error_event_log.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.error_event_log.source IS 'Producer.';
COMMENT ON COLUMN ops.error_event_log.phase IS 'Phase, if any.';
COMMENT ON COLUMN ops.error_event_log.received_at IS 'When the event was stored.';
COMMENT ON COLUMN ops.error_event_log.occurred_at IS 'When the producer says it happened.';
COMMENT ON COLUMN ops.error_event_log.run_id IS 'The producer''s run id (CI run, agent run), redacted.';
COMMENT ON COLUMN ops.error_event_log.correlation_id IS 'Correlation id across systems, redacted.';
COMMENT ON COLUMN ops.error_event_log.origin IS 'Where it came from (host, workflow, function).';
COMMENT ON COLUMN ops.error_event_log.message IS 'The redacted message.';
COMMENT ON COLUMN ops.error_event_log.truncated IS 'True when the message was cut to the stored limit.';

CREATE VIEW ops.error_escalation_log AS
SELECT s.id AS escalation_id,
       s.fingerprint,
       s.code,
       s.reason,
       s.destination,
       s.state,
       s.attempts,
       s.count_at,
       s.created_at,
       s.delivered_at,
       s.last_error
FROM ops.escalations s
WHERE s.reason <> 'digest'
UNION ALL
SELECT s.id, i.fingerprint, i.code, 'digest', s.destination, s.state, s.attempts, i.count_at, i.created_at,
       s.delivered_at, s.last_error
FROM ops.page_window_items i
JOIN ops.escalations s ON s.dedupe_key = 'digest:' || i.window_id;
COMMENT ON VIEW ops.error_escalation_log IS
    'Escalations per error: its own pages (threshold, window, regression, manual) and the digests that listed it after '
    'a page budget held it back (reason digest).';
COMMENT ON COLUMN ops.error_escalation_log.escalation_id IS 'Escalation id (for a digest: the digest''s).';
COMMENT ON COLUMN ops.error_escalation_log.fingerprint IS 'The escalated error.';
COMMENT ON COLUMN ops.error_escalation_log.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.error_escalation_log.reason IS 'threshold, window, regression, manual or digest.';
COMMENT ON COLUMN ops.error_escalation_log.destination IS 'Destination name.';
COMMENT ON COLUMN ops.error_escalation_log.state IS 'pending, claimed, delivered or dead.';
COMMENT ON COLUMN ops.error_escalation_log.attempts IS 'Delivery attempts made.';
COMMENT ON COLUMN ops.error_escalation_log.count_at IS 'The error''s count at the crossing.';
COMMENT ON COLUMN ops.error_escalation_log.created_at IS 'When the crossing happened.';
COMMENT ON COLUMN ops.error_escalation_log.delivered_at IS 'When it was delivered.';
COMMENT ON COLUMN ops.error_escalation_log.last_error IS 'Error of the last failed attempt (redacted).';

CREATE VIEW ops.error_agent_run_log AS
SELECT r.id AS run_id,
       r.fingerprint,
       r.code,
       r.status,
       r.escalation_id,
       r.branch,
       r.pr_url,
       (SELECT o.state FROM ops.agent_run_outcomes o
        WHERE o.run_id = r.id AND o.kind = 'pull_request'
        ORDER BY o.occurred_at DESC, o.id DESC LIMIT 1) AS pr_state,
       (r.verdict ->> 'approved')::boolean AS approved,
       r.metadata ->> 'variant_id' AS variant_id,
       r.created_at,
       r.finished_at,
       r.last_error,
       b.outcome,
       b.resolved,
       b.score
FROM ops.agent_runs r
LEFT JOIN ops.agent_benchmark_results b ON b.run_id = r.id;
COMMENT ON VIEW ops.error_agent_run_log IS
    'FixBot runs per error with their outcome: run status, the policy verdict, branch, pull request and its state.';
COMMENT ON COLUMN ops.error_agent_run_log.run_id IS 'Agent run id.';
COMMENT ON COLUMN ops.error_agent_run_log.fingerprint IS 'The error the run was queued for.';
COMMENT ON COLUMN ops.error_agent_run_log.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.error_agent_run_log.status IS 'queued, claimed, running, succeeded, failed, rejected, dead or cancelled.';
COMMENT ON COLUMN ops.error_agent_run_log.escalation_id IS 'The escalation that dispatched it.';
COMMENT ON COLUMN ops.error_agent_run_log.branch IS 'The branch FixBot worked on.';
COMMENT ON COLUMN ops.error_agent_run_log.pr_url IS 'The pull request FixBot opened.';
COMMENT ON COLUMN ops.error_agent_run_log.pr_state IS
    'The pull request''s latest reported state (ops.agent_run_outcomes kind pull_request: opened, merged, closed), if any.';
COMMENT ON COLUMN ops.error_agent_run_log.approved IS 'The FixBot policy''s verdict on the patch (NULL: not verified yet).';
COMMENT ON COLUMN ops.error_agent_run_log.variant_id IS 'The agent variant that ran.';
COMMENT ON COLUMN ops.error_agent_run_log.created_at IS 'When the run was queued.';
COMMENT ON COLUMN ops.error_agent_run_log.finished_at IS 'When it finished.';
COMMENT ON COLUMN ops.error_agent_run_log.last_error IS 'Its last error (redacted).';
COMMENT ON COLUMN ops.error_agent_run_log.outcome IS
    'How far the run got (ops.agent_benchmark_results.outcome: dispatched, no_patch, policy_refused, ci_failed, '
    'awaiting_ci, resolved); NULL before it is scored.';
COMMENT ON COLUMN ops.error_agent_run_log.resolved IS 'Resolved as SWE-bench counts it (target fixed, nothing broken).';
COMMENT ON COLUMN ops.error_agent_run_log.score IS 'Its benchmark score, 0-100 (ssot/agents/benchmark.yaml).';

CREATE VIEW ops.error_status_log AS
SELECT c.id AS change_id,
       c.fingerprint,
       c.from_status,
       c.to_status,
       c.changed_at,
       c.actor,
       c.resolution_ref,
       c.ignored_until
FROM ops.error_status_changes c;
COMMENT ON VIEW ops.error_status_log IS
    'Status changes per error, in order of change_id: resolves, ignores, reopens, acknowledgements and regressions '
    '(to_status regressed: the error came back after a resolve).';
COMMENT ON COLUMN ops.error_status_log.change_id IS 'Order of the changes.';
COMMENT ON COLUMN ops.error_status_log.fingerprint IS 'The error.';
COMMENT ON COLUMN ops.error_status_log.from_status IS 'Status before.';
COMMENT ON COLUMN ops.error_status_log.to_status IS 'Status after.';
COMMENT ON COLUMN ops.error_status_log.changed_at IS 'When.';
COMMENT ON COLUMN ops.error_status_log.actor IS 'Who: a login, the --by of ops resolve, fixbot, or ingest (a regression).';
COMMENT ON COLUMN ops.error_status_log.resolution_ref IS 'For a resolve: the record written.';
COMMENT ON COLUMN ops.error_status_log.ignored_until IS 'For an ignore: when it ends.';

CREATE FUNCTION ops.find_error(prefix text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    wanted text := lower(btrim(prefix));
    found text[];
    listed text;
BEGIN
    IF wanted IS NULL OR wanted !~ '^[0-9a-f]{4,64}$' THEN
        RAISE EXCEPTION 'a fingerprint (or a prefix of at least 4 hex digits) is needed, not "%"', left(prefix, 80)
            USING ERRCODE = 'OP001', COLUMN = 'fingerprint';
    END IF;
    SELECT array_agg(g.fingerprint ORDER BY g.fingerprint) INTO found
    FROM (SELECT g.fingerprint FROM ops.error_groups g WHERE g.fingerprint LIKE wanted || '%'
          ORDER BY g.fingerprint LIMIT 11) g;
    IF found IS NULL THEN
        -- An old fingerprint that regrouping or promotion moved: its group today.
        SELECT array_agg(DISTINCT al.target_fingerprint) INTO found
        FROM ops.error_aliases al WHERE al.fingerprint LIKE wanted || '%';
    END IF;
    IF found IS NULL THEN
        RAISE EXCEPTION 'no error with a fingerprint starting "%"', wanted USING ERRCODE = 'OP004',
            HINT = 'List errors with `ops errors list`.';
    END IF;
    IF cardinality(found) > 1 THEN
        SELECT string_agg(left(g.fingerprint, 16) || ' ' || g.code || ' (' || g.status || ')', ', ' ORDER BY g.fingerprint)
        INTO listed FROM ops.error_groups g WHERE g.fingerprint = ANY (found[1:10]);
        RAISE EXCEPTION 'fingerprint prefix "%" is ambiguous: % errors match', wanted,
                        CASE WHEN cardinality(found) > 10 THEN 'more than 10' ELSE cardinality(found)::text END
            USING ERRCODE = 'OP001', COLUMN = 'fingerprint', DETAIL = 'candidates: ' || listed,
            HINT = 'Give more digits of the fingerprint.';
    END IF;
    RETURN found[1];
END
$$;
COMMENT ON FUNCTION ops.find_error(text) IS
    'The full fingerprint for a fingerprint or a unique prefix of it (at least 4 hex digits, case-insensitive), as git '
    'resolves commit ids; an old fingerprint moved by regrouping or promotion (ops.error_aliases) gives its group today. '
    'OP001 for a malformed prefix or an ambiguous one (the candidates listed in the detail), OP004 when none matches. '
    'text -> text. Returns fingerprints only, so analysts may call it.';
-- The report (`ops report`): one row per fact with the time it happened, so a period is a WHERE on that
-- column and every figure of the report is a GROUP BY an analyst can run by hand (worker/queries/report.sql
-- holds the report's own queries over these views).

CREATE VIEW ops.report_error_daily AS
SELECT date_trunc('day', ev.received_at AT TIME ZONE 'UTC')::date AS day,
       coalesce(al.target_fingerprint, ev.fingerprint) AS fingerprint,
       ev.code,
       count(*) AS events
FROM ops.error_events ev
LEFT JOIN ops.error_aliases al ON al.fingerprint = ev.fingerprint
GROUP BY 1, 2, 3;
COMMENT ON VIEW ops.report_error_daily IS
    'Occurrences per UTC day, error and code (an aliased fingerprint counts under the group that took it over, '
    'ops.error_aliases). Filter on day: WHERE day >= (now() - interval ''7 days'')::date.';
COMMENT ON COLUMN ops.report_error_daily.day IS 'UTC day the events were received.';
COMMENT ON COLUMN ops.report_error_daily.fingerprint IS 'The error (group) today: its fingerprint, or the one its alias points to.';
COMMENT ON COLUMN ops.report_error_daily.code IS 'Failure-mode code the events were classified as.';
COMMENT ON COLUMN ops.report_error_daily.events IS 'Occurrences that day (a count of events, not of groups).';

CREATE VIEW ops.report_error_changes AS
SELECT a.first_seen_at AS at, 'new'::text AS change, a.fingerprint, a.code, a.source
FROM ops.agent_errors a
UNION ALL
SELECT r.created_at, 'regressed', r.fingerprint, r.code, a.source
FROM (SELECT e.created_at, e.fingerprint, e.code FROM ops.escalations e WHERE e.reason = 'regression'
      UNION ALL
      SELECT i.created_at, i.fingerprint, i.code FROM ops.page_window_items i WHERE i.reason = 'regression') r
JOIN ops.agent_errors a ON a.fingerprint = r.fingerprint
UNION ALL
SELECT a.resolved_at, 'resolved', a.fingerprint, a.code, a.source
FROM ops.agent_errors a
WHERE a.resolved_at IS NOT NULL;
COMMENT ON VIEW ops.report_error_changes IS
    'Lifecycle changes of errors, one row each: new (first seen), regressed (a resolved error came back: its '
    'regression escalation, paged or held back by a page budget) and resolved (the latest resolution of each '
    'error, ops.agent_errors.resolved_at). Count per day and change for "new vs regressed vs resolved".';
COMMENT ON COLUMN ops.report_error_changes.at IS 'When the change happened.';
COMMENT ON COLUMN ops.report_error_changes.change IS 'new, regressed or resolved.';
COMMENT ON COLUMN ops.report_error_changes.fingerprint IS 'The error.';
COMMENT ON COLUMN ops.report_error_changes.code IS 'Its failure-mode code.';
COMMENT ON COLUMN ops.report_error_changes.source IS 'Its producer.';

CREATE VIEW ops.report_resolution_times AS
SELECT a.fingerprint,
       a.code,
       coalesce(r.regressed_at, a.first_seen_at) AS opened_at,
       a.resolved_at,
       extract(epoch FROM a.resolved_at - coalesce(r.regressed_at, a.first_seen_at))::double precision AS seconds_to_resolve,
       a.status
FROM ops.agent_errors a
LEFT JOIN LATERAL (
    SELECT max(e.created_at) AS regressed_at
    FROM ops.escalations e
    WHERE e.fingerprint = a.fingerprint AND e.reason = 'regression' AND e.created_at <= a.resolved_at
) r ON true
WHERE a.resolved_at IS NOT NULL;
COMMENT ON VIEW ops.report_resolution_times IS
    'Time to resolution of each error''s latest resolution: from when it was opened (first seen, or its latest '
    'regression before the resolution) to resolved_at, in seconds. Aggregate per code with percentile_cont.';
COMMENT ON COLUMN ops.report_resolution_times.fingerprint IS 'The error.';
COMMENT ON COLUMN ops.report_resolution_times.code IS 'Its failure-mode code.';
COMMENT ON COLUMN ops.report_resolution_times.opened_at IS 'First seen, or the latest regression escalation before resolved_at.';
COMMENT ON COLUMN ops.report_resolution_times.resolved_at IS 'When it was resolved (the latest resolution).';
COMMENT ON COLUMN ops.report_resolution_times.seconds_to_resolve IS 'resolved_at - opened_at, in seconds.';
COMMENT ON COLUMN ops.report_resolution_times.status IS 'Its status now (regressed when it came back since).';

CREATE VIEW ops.report_agent_runs AS
SELECT r.id,
       r.code,
       r.fingerprint,
       r.status,
       (r.verdict ->> 'approved')::boolean AS approved,
       coalesce(jsonb_path_query_array(r.verdict, '$.reasons[*].code'), '[]') AS reason_codes,
       r.metadata ->> 'variant_id' AS variant_id,
       r.branch,
       r.pr_url,
       r.created_at,
       r.finished_at
FROM ops.agent_runs r;
COMMENT ON VIEW ops.report_agent_runs IS 'FixBot runs and their outcomes (status, the policy''s verdict), one row per run.';
COMMENT ON COLUMN ops.report_agent_runs.id IS 'Agent run id.';
COMMENT ON COLUMN ops.report_agent_runs.code IS 'Failure-mode code the run was queued for.';
COMMENT ON COLUMN ops.report_agent_runs.fingerprint IS 'The error it works on.';
COMMENT ON COLUMN ops.report_agent_runs.status IS 'queued, claimed, running, succeeded, failed, rejected, dead or cancelled.';
COMMENT ON COLUMN ops.report_agent_runs.approved IS 'The FixBot policy''s verdict on the patch (NULL: no patch judged yet).';
COMMENT ON COLUMN ops.report_agent_runs.reason_codes IS 'JSON array of the codes a rejected patch broke (AGENT.FORBIDDEN_PATH, ...).';
COMMENT ON COLUMN ops.report_agent_runs.variant_id IS 'The agent variant (metadata.variant_id).';
COMMENT ON COLUMN ops.report_agent_runs.branch IS 'The branch the run worked on.';
COMMENT ON COLUMN ops.report_agent_runs.pr_url IS 'The pull request it opened, if any.';
COMMENT ON COLUMN ops.report_agent_runs.created_at IS 'When the run was queued.';
COMMENT ON COLUMN ops.report_agent_runs.finished_at IS 'When it finished (NULL while active).';
CREATE VIEW ops.agent_scorecard AS
SELECT b.agent_type,
       b.variant_id,
       b.n,
       b.resolved,
       b.resolved::double precision / b.n AS resolved_rate,
       -- Wilson score interval, 95 % (E. B. Wilson, "Probable inference, the law of succession, and statistical
       -- inference", JASA 22 (1927) 209-212): with p = k/n and z = 1.959963984540054 (the 0.975 normal quantile),
       --   centre = (p + z^2/(2n)) / (1 + z^2/n),  half-width = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2)).
       -- The same interval as scipy.stats.binomtest(k, n).proportion_ci(method='wilson') (a test checks it).
       greatest(0, w.centre - w.half) AS resolved_ci_low,
       least(1, w.centre + w.half) AS resolved_ci_high,
       b.mean_score,
       b.tier_a, b.tier_b, b.tier_c, b.tier_f,
       b.n AS funnel_dispatched,
       b.no_patch AS funnel_no_patch,
       b.policy_refused AS funnel_policy_refused,
       b.awaiting_ci AS funnel_awaiting_ci,
       b.ci_failed AS funnel_ci_failed,
       b.resolved AS funnel_resolved
FROM (
    SELECT r.agent_type, r.variant_id, count(*) AS n, count(*) FILTER (WHERE r.resolved) AS resolved,
           round(avg(r.score), 2) AS mean_score,
           count(*) FILTER (WHERE r.tier = 'A') AS tier_a, count(*) FILTER (WHERE r.tier = 'B') AS tier_b,
           count(*) FILTER (WHERE r.tier = 'C') AS tier_c, count(*) FILTER (WHERE r.tier = 'F') AS tier_f,
           count(*) FILTER (WHERE r.outcome = 'no_patch') AS no_patch,
           count(*) FILTER (WHERE r.outcome = 'policy_refused') AS policy_refused,
           count(*) FILTER (WHERE r.outcome = 'awaiting_ci') AS awaiting_ci,
           count(*) FILTER (WHERE r.outcome = 'ci_failed') AS ci_failed
    FROM ops.agent_benchmark_results r
    GROUP BY r.agent_type, r.variant_id
) b
CROSS JOIN LATERAL (
    SELECT (p + z * z / (2 * b.n)) / (1 + z * z / b.n) AS centre,
           z / (1 + z * z / b.n) * sqrt(p * (1 - p) / b.n + z * z / (4.0 * b.n * b.n)) AS half
    FROM (SELECT b.resolved::double precision / b.n AS p, 1.959963984540054::double precision AS z) c
) w;
COMMENT ON VIEW ops.agent_scorecard IS
    'Benchmark scorecard per agent type and variant, from ops.agent_benchmark_results: runs, resolved rate with its '
    'Wilson 95 % interval (Wilson 1927), mean score, tier counts and the outcome funnel (`ops bench scorecard`).';
COMMENT ON COLUMN ops.agent_scorecard.agent_type IS 'The kind of agent (ops.agent_runs.agent_type).';
COMMENT ON COLUMN ops.agent_scorecard.variant_id IS 'The variant the runs used.';
COMMENT ON COLUMN ops.agent_scorecard.n IS 'Scored runs.';
COMMENT ON COLUMN ops.agent_scorecard.resolved IS 'Runs resolved (target fixed, nothing previously green broken).';
COMMENT ON COLUMN ops.agent_scorecard.resolved_rate IS 'resolved / n, a fraction in [0, 1].';
COMMENT ON COLUMN ops.agent_scorecard.resolved_ci_low IS 'Lower end of the Wilson 95 % score interval of resolved_rate.';
COMMENT ON COLUMN ops.agent_scorecard.resolved_ci_high IS 'Upper end of the Wilson 95 % score interval of resolved_rate.';
COMMENT ON COLUMN ops.agent_scorecard.mean_score IS 'Mean benchmark score, 0-100, two decimals.';
COMMENT ON COLUMN ops.agent_scorecard.tier_a IS 'Runs in tier A.';
COMMENT ON COLUMN ops.agent_scorecard.tier_b IS 'Runs in tier B.';
COMMENT ON COLUMN ops.agent_scorecard.tier_c IS 'Runs in tier C.';
COMMENT ON COLUMN ops.agent_scorecard.tier_f IS 'Runs in tier F.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_dispatched IS 'Funnel: runs dispatched (all scored runs).';
COMMENT ON COLUMN ops.agent_scorecard.funnel_no_patch IS 'Funnel: runs that ended without a patch.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_policy_refused IS 'Funnel: runs whose patch the FixBot policy refused.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_awaiting_ci IS 'Funnel: runs with a patch and no CI result yet.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_ci_failed IS 'Funnel: runs whose CI results did not resolve the task.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_resolved IS 'Funnel: runs resolved.';

CREATE VIEW ops.agent_failure_modes_hit AS
SELECT r.agent_type, r.variant_id, f.code, count(*) AS runs,
       count(*)::double precision / max(t.n) AS share
FROM ops.agent_benchmark_results r
CROSS JOIN LATERAL unnest(r.failure_modes) AS f (code)
JOIN (SELECT agent_type, variant_id, count(*) AS n FROM ops.agent_benchmark_results GROUP BY agent_type, variant_id) t
  ON (t.agent_type, t.variant_id) = (r.agent_type, r.variant_id)
GROUP BY r.agent_type, r.variant_id, f.code;
COMMENT ON VIEW ops.agent_failure_modes_hit IS
    'Failure modes agent runs hit (errors recorded with the run''s id), per agent type, variant and code.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.agent_type IS 'The kind of agent.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.variant_id IS 'The variant.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.code IS 'The failure-mode code hit.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.runs IS 'Scored runs of the variant that hit the code at least once.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.share IS 'runs / the variant''s scored runs, a fraction in [0, 1].';
