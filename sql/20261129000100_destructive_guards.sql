-- Hardening (issue 11, blockers): nothing is destroyed by a typo.
--
-- 1. Retention (ops.drop_error_event_partitions) validates its argument: a negative interval is refused
--    (SQLSTATE OPD01, the argument named), less than one day needs confirm_zero => true (OPD02), today's
--    and future partitions are never dropped, dry_run => true lists what would go, and the function returns
--    what it dropped (partition, day, rows). The return type changes (integer -> rows), so the function is
--    dropped and created again; its only caller is `ops db maintain`, changed in the same commit.
-- 2. ops.requeue_escalation tells a wrong id (OP004 "no escalation") from a state it must not touch
--    (OPD04, the state named), instead of one message for both.
-- 3. ops.sync_ssot never orphans history: a failure mode or source that recorded errors, escalations or
--    agent runs still reference, or a destination with undelivered escalations, is not deleted; the sync
--    is refused (OPD03) naming each one and how much references it. Remove a code's patterns to stop new
--    matches; its row stays so its history keeps its title, runbook and rule.
--
-- SQLSTATEs of class OP, subclass D (destructive operations): OPD01 argument out of range, OPD02 a
-- confirmation is needed, OPD03 the change would orphan history, OPD04 the row is in a state the
-- operation does not touch.

-- The old signature must go: left beside the new one, a call with one interval would be ambiguous, and
-- keeping it would keep the unguarded path. Its one client (`ops db maintain`) changes in the same commit.
-- squawk-ignore ban-drop-function
DROP FUNCTION ops.drop_error_event_partitions(interval);

CREATE FUNCTION ops.drop_error_event_partitions(older_than interval DEFAULT interval '90 days',
                                                confirm_zero boolean DEFAULT false,
                                                dry_run boolean DEFAULT false)
RETURNS TABLE (partition_name text, day date, row_count bigint, dropped boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    part record;
    cutoff date;
    n bigint;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must be given (how old a day''s events must be to be dropped, e.g. interval ''90 days'')'
            USING ERRCODE = 'OPD01', COLUMN = 'older_than';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, not %: a negative retention would drop today''s and future events',
                        older_than
            USING ERRCODE = 'OPD01', COLUMN = 'older_than',
                  HINT = 'Retention keeps events younger than older_than, e.g. interval ''90 days''.';
    END IF;
    IF older_than < interval '1 day' AND NOT coalesce(confirm_zero, false) THEN
        RAISE EXCEPTION 'older_than % is less than one day: it drops every partition before today; pass confirm_zero => true to mean it',
                        older_than
            USING ERRCODE = 'OPD02', COLUMN = 'confirm_zero';
    END IF;
    -- Never today's or a future partition, whatever the interval.
    cutoff := least((now() - older_than)::date, current_date);
    PERFORM pg_advisory_xact_lock(hashtext('ops.error_events partitions'));
    FOR part IN
        SELECT c.relname::text AS relname, to_date(substr(c.relname, 14), 'YYYYMMDD') AS d
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'ops.error_events'::regclass
          AND c.relname ~ '^error_events_[0-9]{8}$'
          AND to_date(substr(c.relname, 14), 'YYYYMMDD') + 1 <= cutoff
          AND to_date(substr(c.relname, 14), 'YYYYMMDD') < current_date
        ORDER BY 2
    LOOP
        EXECUTE format('SELECT count(*) FROM ops_private.%I', part.relname) INTO n;
        IF NOT coalesce(dry_run, false) THEN
            EXECUTE format('DROP TABLE ops_private.%I', part.relname);
        END IF;
        partition_name := part.relname;
        day := part.d;
        row_count := n;
        dropped := NOT coalesce(dry_run, false);
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION ops.drop_error_event_partitions(interval, boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION ops.drop_error_event_partitions(interval, boolean, boolean) IS
    'Retention: drops the daily partitions of ops.error_events whose whole day is older than older_than (default 90 '
    'days). Returns one row per partition (partition_name, day, row_count: rows it held, dropped: false in a dry '
    'run). Never drops today''s or a future partition, nor the default partition. Raises OPD01 for a NULL or negative '
    'older_than, OPD02 for less than one day unless confirm_zero => true. dry_run => true lists what would go and '
    'drops nothing.';

CREATE OR REPLACE FUNCTION ops.requeue_escalation(id bigint)
RETURNS ops.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    current_state text;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', next_attempt_at = now(), max_attempts = e.attempts + 10, lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object('at', now(), 'error', 'requeued by hand'))
    WHERE e.id = requeue_escalation.id AND e.state = 'dead'
    RETURNING e.* INTO esc;
    IF NOT FOUND THEN
        SELECT e.state INTO current_state FROM ops.escalations e WHERE e.id = requeue_escalation.id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no escalation % (see `ops dispatch list`)', requeue_escalation.id
                USING ERRCODE = 'OP004', COLUMN = 'id';
        END IF;
        RAISE EXCEPTION 'escalation % is %, not dead: only dead escalations can be requeued', requeue_escalation.id,
                        current_state
            USING ERRCODE = 'OPD04', COLUMN = 'id';
    END IF;
    BEGIN
        UPDATE ops.agent_runs r
        SET status = 'queued', finished_at = NULL, updated_at = now()
        WHERE r.escalation_id = esc.id AND r.status = 'dead';
    EXCEPTION WHEN unique_violation THEN
        NULL;  -- another run for the fingerprint is active: it does the work, this one stays dead
    END;
    RETURN esc;
END
$$;
COMMENT ON FUNCTION ops.requeue_escalation(bigint) IS
    'Brings a dead escalation back to the queue with ten more attempts, keeping its error history. Its FixBot run, '
    'dead with it, is queued again unless another run for the same fingerprint is active. Raises OP004 for an id '
    'that does not exist and OPD04 (naming the state) for an escalation that is not dead; neither changes anything.';

CREATE OR REPLACE FUNCTION ops.sync_ssot(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    changed jsonb := '{}'::jsonb;
    n integer;
    orphans text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ops ssot sync'));

    -- History is never orphaned: refuse to delete what recorded errors, escalations and runs reference.
    SELECT string_agg(format('failure mode %s (%s error groups, %s escalations, %s agent runs)', f.code, g.n, e.n, r.n),
                      '; ' ORDER BY f.code)
    INTO orphans
    FROM ops.failure_modes f
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_errors a WHERE a.code = f.code) g
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.escalations x WHERE x.code = f.code) e
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_runs y WHERE y.code = f.code) r
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'failure_modes') w WHERE w ->> 'code' = f.code)
      AND g.n + e.n + r.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, whose history references them', orphans
            USING ERRCODE = 'OPD03',
                  HINT = 'Keep the code in ssot/errors/failure_modes.yaml (remove its patterns to stop new matches): '
                         'recorded errors keep their code, title and runbook.';
    END IF;
    SELECT string_agg(format('source %s (%s error groups)', s.source, g.n), '; ' ORDER BY s.source)
    INTO orphans
    FROM ops.sources s
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_errors a WHERE a.source = s.source) g
    WHERE NOT (doc -> 'sources') ? s.source AND g.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, whose history references them', orphans
            USING ERRCODE = 'OPD03', HINT = 'Keep the source in ssot/errors/failure_modes.yaml.';
    END IF;
    SELECT string_agg(format('destination %s (%s undelivered escalations)', d.name, u.n), '; ' ORDER BY d.name)
    INTO orphans
    FROM ops.destinations d
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.escalations x
                        WHERE x.destination = d.name AND x.state IN ('pending', 'claimed')) u
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'destinations') w WHERE w ->> 'name' = d.name)
      AND u.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, which the worker could then never deliver', orphans
            USING ERRCODE = 'OPD03',
                  HINT = 'Keep the destination until its queue is drained (`ops dispatch list --state pending`).';
    END IF;

    -- Destinations first (failure modes reference them); removals last.
    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'destinations') AS x (name text, kind text, config jsonb)
    ), upserted AS (
        INSERT INTO ops.destinations AS d (name, kind, config)
        SELECT w.name, w.kind, coalesce(w.config, '{}') FROM want w
        ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config
        WHERE (d.kind, d.config) IS DISTINCT FROM (excluded.kind, excluded.config)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('destinations_upserted', n);

    WITH want AS (
        SELECT value AS source, ordinality::integer AS position
        FROM jsonb_array_elements_text(doc -> 'sources') WITH ORDINALITY
    ), upserted AS (
        INSERT INTO ops.sources AS s (source, position) SELECT w.source, w.position FROM want w
        ON CONFLICT (source) DO UPDATE SET position = excluded.position
        WHERE s.position IS DISTINCT FROM excluded.position
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('sources_upserted', n);
    DELETE FROM ops.sources s WHERE NOT (doc -> 'sources') ? s.source;
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('sources_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'failure_modes') AS x (
            code text, position integer, title text, category text, severity text, retryable boolean,
            http_status integer, ci_behavior text, description text, sources text[], phases text[],
            runbook text, remediate_kind text, escalate_after_count integer, escalate_within interval,
            escalate_destination text, aliases text[])
    ), upserted AS (
        INSERT INTO ops.failure_modes AS f (
            code, position, title, category, severity, retryable, http_status, ci_behavior, description,
            sources, phases, runbook, remediate_kind, escalate_after_count, escalate_within,
            escalate_destination, aliases)
        SELECT w.code, w.position, w.title, w.category, w.severity, w.retryable, w.http_status, w.ci_behavior,
               coalesce(w.description, ''), coalesce(w.sources, '{}'), w.phases, w.runbook, w.remediate_kind,
               w.escalate_after_count, w.escalate_within, w.escalate_destination, coalesce(w.aliases, '{}')
        FROM want w
        ON CONFLICT (code) DO UPDATE SET
            position = excluded.position, title = excluded.title, category = excluded.category,
            severity = excluded.severity, retryable = excluded.retryable, http_status = excluded.http_status,
            ci_behavior = excluded.ci_behavior, description = excluded.description, sources = excluded.sources,
            phases = excluded.phases, runbook = excluded.runbook, remediate_kind = excluded.remediate_kind,
            escalate_after_count = excluded.escalate_after_count, escalate_within = excluded.escalate_within,
            escalate_destination = excluded.escalate_destination, aliases = excluded.aliases
        WHERE (f.position, f.title, f.category, f.severity, f.retryable, f.http_status, f.ci_behavior,
               f.description, f.sources, f.phases, f.runbook, f.remediate_kind, f.escalate_after_count,
               f.escalate_within, f.escalate_destination, f.aliases)
              IS DISTINCT FROM
              (excluded.position, excluded.title, excluded.category, excluded.severity, excluded.retryable,
               excluded.http_status, excluded.ci_behavior, excluded.description, excluded.sources,
               excluded.phases, excluded.runbook, excluded.remediate_kind, excluded.escalate_after_count,
               excluded.escalate_within, excluded.escalate_destination, excluded.aliases)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('failure_modes_upserted', n);
    DELETE FROM ops.failure_modes f
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'failure_modes') e WHERE e ->> 'code' = f.code);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('failure_modes_deleted', n);

    -- Patterns have no identity of their own: remove what differs, insert what is missing.
    DELETE FROM ops.failure_mode_patterns p
    WHERE NOT EXISTS (
        SELECT FROM ops_private.ssot_patterns(doc) w
        WHERE (w.code, w.position, w.kind, w.pattern, w.priority) = (p.code, p.position, p.kind, p.pattern, p.priority)
          AND w.sources IS NOT DISTINCT FROM p.sources AND w.phases IS NOT DISTINCT FROM p.phases
          AND w.required_literals IS NOT DISTINCT FROM p.required_literals);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_deleted', n);
    INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority, required_literals)
    SELECT w.code, w.position, w.kind, w.pattern, w.sources, w.phases, w.priority, w.required_literals
    FROM ops_private.ssot_patterns(doc) w
    WHERE NOT EXISTS (SELECT FROM ops.failure_mode_patterns p WHERE (p.code, p.position) = (w.code, w.position));
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_inserted', n);

    DELETE FROM ops.destinations d
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'destinations') e WHERE e ->> 'name' = d.name);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('destinations_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'redaction_rules')
            AS x (name text, position integer, pattern text, replacement text, flags text, prefilter text[])
    ), upserted AS (
        INSERT INTO ops.redaction_rules AS r (name, position, pattern, replacement, flags, prefilter)
        SELECT w.name, w.position, w.pattern, w.replacement, w.flags, w.prefilter FROM want w
        ON CONFLICT (name) DO UPDATE SET position = excluded.position, pattern = excluded.pattern,
            replacement = excluded.replacement, flags = excluded.flags, prefilter = excluded.prefilter
        WHERE (r.position, r.pattern, r.replacement, r.flags, r.prefilter)
              IS DISTINCT FROM (excluded.position, excluded.pattern, excluded.replacement, excluded.flags, excluded.prefilter)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('redaction_rules_upserted', n);
    DELETE FROM ops.redaction_rules r
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'redaction_rules') e WHERE e ->> 'name' = r.name);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('redaction_rules_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'files') AS x (name text, path text, sha256 text, detail jsonb)
    ), upserted AS (
        INSERT INTO ops.ssot_state AS s (name, path, sha256, detail, synced_at)
        SELECT w.name, w.path, w.sha256, coalesce(w.detail, '{}'), now() FROM want w
        ON CONFLICT (name) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256,
            detail = excluded.detail, synced_at = excluded.synced_at
        WHERE (s.path, s.sha256, s.detail) IS DISTINCT FROM (excluded.path, excluded.sha256, excluded.detail)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('files_changed', n);
    RETURN changed;
END
$$;
COMMENT ON FUNCTION ops.sync_ssot(jsonb) IS
    'Makes the taxonomy tables equal to the SSOT document (sources, destinations, failure_modes with patterns, '
    'redaction_rules, files with their SHA-256). Idempotent; deletes what the document no longer has, except history: '
    'a failure mode or source that error groups, escalations or agent runs reference, or a destination with pending '
    'or claimed escalations, is never deleted; the whole sync is refused with SQLSTATE OPD03 naming each. Returns the '
    'number of rows changed per kind. Owner only: run by `ops ssot sync`.';
