-- What `ops errors show` and `ops errors list` read, and analysts with them: one row per error with its
-- effective status and runbook (ops.error_groups), its events, escalations, FixBot runs and status changes
-- by fingerprint, and ops.find_error, which turns a unique prefix into the fingerprint.
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
       r.metadata ->> 'pr_state' AS pr_state,
       (r.verdict ->> 'approved')::boolean AS approved,
       r.metadata ->> 'variant_id' AS variant_id,
       r.created_at,
       r.finished_at,
       r.last_error
FROM ops.agent_runs r;
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
    'The pull request''s state as reported on the run (metadata.pr_state: open, merged, closed), if any.';
COMMENT ON COLUMN ops.error_agent_run_log.approved IS 'The FixBot policy''s verdict on the patch (NULL: not verified yet).';
COMMENT ON COLUMN ops.error_agent_run_log.variant_id IS 'The agent variant that ran.';
COMMENT ON COLUMN ops.error_agent_run_log.created_at IS 'When the run was queued.';
COMMENT ON COLUMN ops.error_agent_run_log.finished_at IS 'When it finished.';
COMMENT ON COLUMN ops.error_agent_run_log.last_error IS 'Its last error (redacted).';

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

REVOKE ALL ON FUNCTION ops.find_error(text) FROM PUBLIC;
