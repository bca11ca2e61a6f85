-- Guardrails that block a merge (issue 13): an escalation of a `remediate.kind: guardrail` code opens a
-- blocking ops.convergence_findings row for the error's target (scope 'guardrail|<target>'); resolving
-- the error closes it; ops.gate_findings is what `ops gate check` reads.

CREATE FUNCTION ops.error_target(fingerprint text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    SELECT coalesce(
               nullif(btrim(e.context ->> 'target'), ''),
               nullif(btrim(e.context ->> 'repository'), '')
                   || coalesce('@' || nullif(btrim(coalesce(e.context ->> 'branch', e.context ->> 'ref_name')), ''), ''),
               nullif(btrim(e.origin), ''),
               'source:' || a.source)
    FROM ops.agent_errors a
    LEFT JOIN ops.error_events e ON e.fingerprint = a.fingerprint AND e.id = a.last_event_id
    WHERE a.fingerprint = error_target.fingerprint;
END;
COMMENT ON FUNCTION ops.error_target(text) IS
    'What a guardrail error blocks, read from the group''s latest event (ops.agent_errors.last_event_id), first that '
    'is set: context.target (the producer names it, e.g. "acme/api@main"); context.repository (GitHub''s owner/name) '
    'with "@" and context.branch or context.ref_name when given; the event''s origin; else "source:<source>". '
    'fingerprint -> text; NULL when there is no such error.';

CREATE FUNCTION ops_private.tg_guardrail_findings__open() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    -- One row per (target, error): a repeat or a regression of the same error on the same target reopens it.
    INSERT INTO ops.convergence_findings AS c (scope, fingerprint, code, alias, severity, message, details, status,
                                               first_run_id, last_run_id)
    SELECT 'guardrail|' || t.target, g.fingerprint, g.code, coalesce(fm.aliases[1], g.code), fm.severity,
           fm.title || ': ' || left(a.sample_message, 500),
           jsonb_build_object('target', t.target, 'runbook', fm.runbook, 'reason', g.reason,
                              'escalation_id', g.escalation_id, 'count', a.count),
           'open', 0, 0
    FROM (SELECT DISTINCT ON (i.fingerprint) i.fingerprint, i.code, i.reason, i.escalation_id
          FROM (SELECT n.fingerprint, n.code, n.reason,
                       CASE WHEN TG_TABLE_NAME = 'escalations' THEN (to_jsonb(n) ->> 'id')::bigint END AS escalation_id
                FROM inserted n) i
          ORDER BY i.fingerprint, i.escalation_id DESC NULLS LAST) g
    JOIN ops.failure_modes fm ON fm.code = g.code AND fm.remediate_kind = 'guardrail'
    JOIN ops.agent_errors a ON a.fingerprint = g.fingerprint
    CROSS JOIN LATERAL (SELECT ops.error_target(g.fingerprint) AS target) t
    -- What stratt records is unit CI's own: its findings are the unit_ci rows of the same table, which
    -- open and close with the runs.
    WHERE g.reason IS DISTINCT FROM 'digest' AND a.source <> 'stratt'
    ORDER BY 1, 2
    ON CONFLICT (scope, fingerprint) DO UPDATE SET
        status = 'open',
        severity = excluded.severity,
        message = excluded.message,
        details = excluded.details,
        last_seen_at = now(),
        occurrences = c.occurrences + 1,
        reopen_count = c.reopen_count + (c.status = 'resolved')::integer,
        resolved_at = NULL;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_guardrail_findings__open() IS
    'AFTER INSERT statement trigger on ops.escalations and ops.page_window_items (a crossing a page budget held '
    'back still blocks): for each error of a `remediate.kind: guardrail` code (but those stratt records: unit CI keeps '
    'its own findings), opens (or reopens) the blocking '
    'finding ops.convergence_findings (scope guardrail|<ops.error_target>, fingerprint = the error''s); '
    'first_run_id and last_run_id are 0 (not a unit-CI run); details holds target, runbook, reason, escalation_id.';

CREATE TRIGGER tg_escalations__50_guardrail_findings AFTER INSERT ON ops.escalations
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_guardrail_findings__open();
CREATE TRIGGER tg_page_window_items__50_guardrail_findings AFTER INSERT ON ops.page_window_items
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_guardrail_findings__open();

CREATE FUNCTION ops_private.tg_agent_errors__close_findings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    UPDATE ops.convergence_findings c SET status = 'resolved', resolved_at = now()
    WHERE c.scope LIKE 'guardrail|%' AND c.fingerprint = NEW.fingerprint AND c.status <> 'resolved';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_agent_errors__close_findings() IS
    'AFTER UPDATE OF status per row on ops.agent_errors, only when the status becomes resolved: closes the open '
    'guardrail findings of that error (every target).';

CREATE TRIGGER tg_agent_errors__50_close_findings AFTER UPDATE OF status ON ops.agent_errors
    FOR EACH ROW WHEN (NEW.status = 'resolved' AND OLD.status IS DISTINCT FROM 'resolved')
    EXECUTE FUNCTION ops_private.tg_agent_errors__close_findings();

CREATE VIEW ops.gate_findings AS
SELECT CASE WHEN c.scope LIKE 'guardrail|%' THEN 'guardrail' ELSE 'unit_ci' END AS kind,
       CASE WHEN c.scope LIKE 'guardrail|%' THEN substr(c.scope, length('guardrail|') + 1) ELSE c.scope END AS target,
       c.code,
       c.alias,
       c.severity,
       c.message,
       c.first_seen_at AS since,
       c.last_seen_at,
       c.occurrences,
       coalesce(c.details ->> 'runbook', fm.runbook) AS runbook,
       c.fingerprint,
       c.unit_address,
       c.file,
       c.line
FROM ops.convergence_findings c
LEFT JOIN ops.failure_modes fm ON fm.code = c.code
WHERE c.status = 'open'
ORDER BY c.first_seen_at, c.scope, c.fingerprint;
COMMENT ON VIEW ops.gate_findings IS
    'What blocks a merge: every open finding in ops.convergence_findings (guardrail findings, and the blocking and '
    'critical unit-CI findings; waived and resolved ones do not block), oldest first. `ops gate check` exits 1 '
    'while a row matches its --target.';
COMMENT ON COLUMN ops.gate_findings.kind IS 'guardrail (an escalated error of a remediate.kind guardrail code) or unit_ci.';
COMMENT ON COLUMN ops.gate_findings.target IS
    'What is blocked: for guardrail findings ops.error_target of the error (context.target, repository@branch, '
    'origin or source:<source>); for unit-CI findings the run''s scope (unit_ci|<council>|<paths>).';
COMMENT ON COLUMN ops.gate_findings.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.gate_findings.alias IS 'The code''s alias (FM-01 ...) or the code.';
COMMENT ON COLUMN ops.gate_findings.severity IS 'Severity of the finding (the failure mode''s, for guardrails).';
COMMENT ON COLUMN ops.gate_findings.message IS 'What was found (redacted text).';
COMMENT ON COLUMN ops.gate_findings.since IS 'When the finding was first opened.';
COMMENT ON COLUMN ops.gate_findings.last_seen_at IS 'When it was last reported or escalated.';
COMMENT ON COLUMN ops.gate_findings.occurrences IS 'How many times it was reported or escalated.';
COMMENT ON COLUMN ops.gate_findings.runbook IS 'The runbook to follow (docs/runbooks/failures/<CODE>.md).';
COMMENT ON COLUMN ops.gate_findings.fingerprint IS 'The error''s fingerprint (guardrail) or the finding''s (unit CI).';
COMMENT ON COLUMN ops.gate_findings.unit_address IS 'Unit CI: the unit''s address.';
COMMENT ON COLUMN ops.gate_findings.file IS 'Unit CI: the file.';
COMMENT ON COLUMN ops.gate_findings.line IS 'Unit CI: the line.';

REVOKE ALL ON FUNCTION ops.error_target(text), ops_private.tg_guardrail_findings__open(),
                       ops_private.tg_agent_errors__close_findings() FROM PUBLIC;
GRANT SELECT ON ops.gate_findings TO ops_analyst;
