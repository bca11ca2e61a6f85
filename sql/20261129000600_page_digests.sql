-- Paging that stays humane: a per-destination (and per-code) page budget with a digest window.
--
-- A destination in ssot/destinations.yaml may carry
--     digest: {window: 10m, max_pages: 1, per: code, codes: {DNS.RECORD_MISSING: {window: 30m, max_pages: 2}}}
-- (synced verbatim into ops.destinations.config). Windows are aligned: a 10m window runs from :00 to
-- :10, :10 to :20, ... (date_bin from 2000-01-01 00:00 UTC), keyed by (destination, scope, window
-- start), where the scope is the code (per: code, the default, and every entry under codes) or '*'
-- (per: destination: one budget shared by every code of the destination).
--
-- At escalation time (ops_private.tg_error_events__aggregate) every crossing of a limited destination
-- claims its place in the window row with INSERT ... ON CONFLICT DO UPDATE (crossings = crossings + k):
-- the row lock orders concurrent statements, so the first max_pages crossings of a window are pages
-- (ordinary escalations) and every later one is written to ops.page_window_items, the window's digest.
-- The window's first held-back crossing also inserts one escalation with reason 'digest' (dedupe key
-- digest:<window id>), due when the window closes. The worker seals the window before delivering it
-- (ops.seal_page_digest): sealing takes the window row's lock, so it waits for any transaction still
-- adding to the digest, and freezes the list. A crossing that arrives at a sealed window (a
-- transaction that started before the window closed and committed after the digest went out) is paged
-- on its own. So every crossing is exactly one page or one line in exactly one digest.
-- FixBot codes are never held back (each crossing queues its agent run).

-- The reason check is widened (a superset: every existing row still passes). Validating it in the
-- migration's transaction scans ops.escalations once under lock; the outbox is small (delivered rows are
-- the history of pages), so that is accepted here rather than a second migration.
-- squawk-ignore ban-drop-constraint
ALTER TABLE ops.escalations DROP CONSTRAINT escalations_reason_known;
ALTER TABLE ops.escalations ADD CONSTRAINT escalations_reason_known
    CHECK (reason IN ('threshold', 'window', 'regression', 'manual', 'digest')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE ops.escalations VALIDATE CONSTRAINT escalations_reason_known;
COMMENT ON COLUMN ops.escalations.reason IS
    'threshold | window | regression | manual, or digest: the crossings a destination''s page budget held back in '
    'one window (payload.groups once sealed).';

CREATE TABLE ops.page_windows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination  text NOT NULL,
    scope        text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    max_pages    integer NOT NULL CONSTRAINT page_windows_max_pages_positive CHECK (max_pages >= 1),
    crossings    bigint NOT NULL DEFAULT 0,
    sealed_at    timestamptz,
    CONSTRAINT page_windows_key UNIQUE (destination, scope, window_start)
);
COMMENT ON TABLE ops.page_windows IS
    'One row per (destination, scope, window start) of a destination with a digest: how many threshold crossings '
    'the window saw. The first max_pages were paged; the rest are in ops.page_window_items and one digest escalation '
    '(dedupe_key digest:<id>). sealed_at: when the worker froze the digest; later crossings are paged on their own.';
COMMENT ON COLUMN ops.page_windows.scope IS 'The code the budget is for, or * when the whole destination shares one.';
COMMENT ON COLUMN ops.page_windows.crossings IS 'Crossings counted in this window: pages and digested ones together.';
ALTER TABLE ops.page_windows ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.page_windows FROM PUBLIC;

CREATE TABLE ops.page_window_items (
    dedupe_key  text PRIMARY KEY,
    window_id   bigint NOT NULL REFERENCES ops.page_windows (id),
    fingerprint text NOT NULL,
    code        text NOT NULL,
    reason      text NOT NULL,
    count_at    bigint NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.page_window_items IS
    'Threshold crossings a page budget held back: each is listed in its window''s digest instead of paging. '
    'dedupe_key is the escalation key the crossing would have had, so a crossing is a page or an item, never both.';
CREATE INDEX page_window_items_window_idx ON ops.page_window_items (window_id);
ALTER TABLE ops.page_window_items ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.page_window_items FROM PUBLIC;

CREATE FUNCTION ops_private.duration_interval(duration text) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN duration ~ '^[1-9][0-9]{0,6}[smhd]$'
            THEN make_interval(secs => left(duration, -1)::double precision
                 * CASE right(duration, 1) WHEN 's' THEN 1 WHEN 'm' THEN 60 WHEN 'h' THEN 3600 ELSE 86400 END)
       END;
COMMENT ON FUNCTION ops_private.duration_interval(text) IS
    'A duration as written in the SSOT (<1-9999999><s|m|h|d>, e.g. 10m) -> interval; NULL for anything else '
    '(ops ssot check refuses such values before they reach the database).';

CREATE FUNCTION ops_private.page_digest_rule(destination text, code text,
                                             OUT scope text, OUT window_length interval, OUT max_pages integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
AS $$
    SELECT CASE WHEN o.rule IS NOT NULL OR coalesce(d.rule ->> 'per', 'code') = 'code'
                THEN page_digest_rule.code ELSE '*' END,
           ops_private.duration_interval(coalesce(o.rule ->> 'window', d.rule ->> 'window')),
           CASE WHEN coalesce(o.rule ->> 'max_pages', d.rule ->> 'max_pages', '1') ~ '^[1-9][0-9]{0,5}$'
                THEN coalesce(o.rule ->> 'max_pages', d.rule ->> 'max_pages', '1')::integer END
    FROM ops.destinations x
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(x.config -> 'digest') = 'object' THEN x.config -> 'digest' END) AS d (rule)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(d.rule -> 'codes' -> page_digest_rule.code) = 'object'
                                    THEN d.rule -> 'codes' -> page_digest_rule.code END) AS o (rule)
    WHERE x.name = page_digest_rule.destination
      AND (o.rule IS NOT NULL OR d.rule ? 'window')
$$;
COMMENT ON FUNCTION ops_private.page_digest_rule(text, text) IS
    'The page budget for a code at a destination, from ops.destinations.config -> digest: (scope, window_length, '
    'max_pages); scope is the code (per: code, the default, or an entry under codes) or * (per: destination). '
    'All NULL when the destination has no digest for the code, or its values are malformed (then it pages as before).';

CREATE OR REPLACE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    WITH batch AS (
        SELECT e.fingerprint,
               min(e.fingerprint_version) AS fingerprint_version,
               min(e.code) AS code,
               min(e.source) AS source,
               min(e.phase) AS phase,
               count(*) AS n,
               min(e.received_at) AS first_at,
               max(e.received_at) AS last_at,
               (array_agg(e.id ORDER BY e.id DESC))[1] AS last_event_id,
               (array_agg(e.message ORDER BY e.id DESC))[1] AS sample_message,
               (array_agg(e.top_frame ORDER BY e.id DESC))[1] AS top_frame,
               (array_agg(e.run_id ORDER BY e.id DESC))[1] AS run_id,
               (array_agg(e.correlation_id ORDER BY e.id DESC))[1] AS correlation_id,
               max(e.confidence) AS confidence,
               min(e.matched_pattern) AS matched_pattern
        FROM inserted e
        GROUP BY e.fingerprint
    ), upserted AS (
        -- Rows are upserted in fingerprint order, so concurrent multi-row statements lock in one order.
        INSERT INTO ops.agent_errors AS a (
            fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at,
            confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
            last_correlation_id, window_started_at, window_count)
        SELECT b.fingerprint, b.fingerprint_version, b.code, b.source, b.phase, b.n, b.first_at, b.last_at,
               b.confidence, b.matched_pattern, b.sample_message, b.top_frame, b.last_event_id, b.run_id,
               b.correlation_id,
               CASE WHEN fm.escalate_within IS NOT NULL THEN b.first_at END,
               CASE WHEN fm.escalate_within IS NOT NULL THEN b.n END
        FROM batch b
        LEFT JOIN ops.failure_modes fm ON fm.code = b.code
        ORDER BY b.fingerprint
        ON CONFLICT (fingerprint) DO UPDATE SET
            count = a.count + excluded.count,
            last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at),
            sample_message = excluded.sample_message,
            top_frame = excluded.top_frame,
            last_event_id = excluded.last_event_id,
            last_run_id = coalesce(excluded.last_run_id, a.last_run_id),
            last_correlation_id = coalesce(excluded.last_correlation_id, a.last_correlation_id),
            status = CASE WHEN a.status = 'resolved' THEN 'regressed' ELSE a.status END,
            regression_count = a.regression_count + (a.status = 'resolved')::integer,
            -- A window opens at the first event after the previous one closed.
            window_started_at = CASE
                WHEN excluded.window_started_at IS NULL THEN NULL
                WHEN a.window_started_at IS NULL
                  OR excluded.first_seen_at >= a.window_started_at
                     + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                THEN excluded.window_started_at
                ELSE a.window_started_at END,
            window_count = CASE
                WHEN excluded.window_started_at IS NULL THEN NULL
                WHEN a.window_started_at IS NULL
                  OR excluded.first_seen_at >= a.window_started_at
                     + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                THEN excluded.window_count
                ELSE a.window_count + excluded.window_count END
        RETURNING a.fingerprint, a.code, a.source, a.phase, a.count, a.window_count, a.window_started_at,
                  a.status, a.regression_count, a.first_seen_at, a.last_seen_at, a.sample_message,
                  a.top_frame, a.last_event_id, a.last_run_id
    ), crossings AS (
        -- The upsert returns the new counts; this statement added b.n, so the old count is new - n.
        SELECT u.*, b.n, r.reason, r.dedupe_key,
               fm.escalate_destination, fm.title, fm.severity, fm.category, fm.runbook, fm.retryable,
               fm.remediate_kind
        FROM upserted u
        JOIN batch b ON b.fingerprint = u.fingerprint
        JOIN ops.failure_modes fm ON fm.code = u.code
        CROSS JOIN LATERAL (VALUES
            ('threshold', u.fingerprint || ':threshold',
             fm.escalate_within IS NULL
             AND u.count - b.n < fm.escalate_after_count AND u.count >= fm.escalate_after_count),
            ('window', u.fingerprint || ':window:' || to_char(u.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
             fm.escalate_within IS NOT NULL
             AND u.window_count - b.n < fm.escalate_after_count AND u.window_count >= fm.escalate_after_count),
            ('regression', u.fingerprint || ':regression:' || u.regression_count,
             u.status = 'regressed')
        ) AS r (reason, dedupe_key, fires)
        WHERE r.fires
    ), ruled AS (
        -- The destination's page budget for the code, if any (FixBot codes are never held back).
        SELECT c.*, g.scope, g.window_length, g.max_pages,
               date_bin(g.window_length, now(), timestamptz '2000-01-01 00:00:00+00') AS window_start,
               (g.scope IS NOT NULL AND g.window_length IS NOT NULL AND g.max_pages IS NOT NULL) AS limited
        FROM crossings c
        LEFT JOIN LATERAL ops_private.page_digest_rule(c.escalate_destination, c.code) AS g
            ON c.remediate_kind IS DISTINCT FROM 'fixbot'
    ), ranked AS (
        SELECT r.*,
               row_number() OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start
                                  ORDER BY r.dedupe_key) AS rank_in_batch,
               count(*) OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start) AS batch_crossings
        FROM ruled r
    ), windows AS (
        -- One upsert per window: the row lock makes concurrent statements take their places in turn.
        INSERT INTO ops.page_windows AS w (destination, scope, window_start, window_end, max_pages, crossings)
        SELECT r.escalate_destination, r.scope, r.window_start, r.window_start + min(r.window_length),
               min(r.max_pages), count(*)
        FROM ranked r
        WHERE r.limited
        GROUP BY r.escalate_destination, r.scope, r.window_start
        ORDER BY r.escalate_destination, r.scope, r.window_start
        ON CONFLICT (destination, scope, window_start) DO UPDATE SET crossings = w.crossings + excluded.crossings
        RETURNING w.id, w.destination, w.scope, w.window_start, w.window_end, w.max_pages, w.crossings, w.sealed_at
    ), decided AS (
        -- Crossings before this statement's = total - this statement's; the first max_pages of a window
        -- page, and so does any crossing that finds its window's digest already sealed.
        SELECT r.*, w.id AS window_id, w.window_end,
               (w.id IS NULL OR w.sealed_at IS NOT NULL
                OR w.crossings - r.batch_crossings + r.rank_in_batch <= w.max_pages) AS paged
        FROM ranked r
        LEFT JOIN windows w ON r.limited AND w.destination = r.escalate_destination AND w.scope = r.scope
                           AND w.window_start = r.window_start
    ), held AS (
        INSERT INTO ops.page_window_items (dedupe_key, window_id, fingerprint, code, reason, count_at, payload)
        SELECT d.dedupe_key, d.window_id, d.fingerprint, d.code, d.reason, d.count,
               jsonb_build_object(
                   'code', d.code, 'title', d.title, 'severity', d.severity, 'reason', d.reason, 'count', d.count,
                   'first_seen_at', d.first_seen_at, 'last_seen_at', d.last_seen_at, 'source', d.source,
                   'phase', d.phase, 'sample_message', d.sample_message, 'runbook', d.runbook,
                   'fingerprint', d.fingerprint)
        FROM decided d
        WHERE NOT d.paged
        ORDER BY d.dedupe_key
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING window_id
    ), digests AS (
        -- The window's digest: one escalation, due when the window closes (exactly one: the dedupe key).
        INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload,
                                     next_attempt_at)
        SELECT 'digest:' || d.window_id, 'digest:' || d.window_id, min(d.code), 'digest', d.escalate_destination, 0,
               jsonb_build_object(
                   'title', CASE WHEN d.scope = '*' THEN 'Similar errors held back by the page budget'
                                 ELSE min(d.title) END,
                   'code', CASE WHEN d.scope = '*' THEN NULL ELSE d.scope END,
                   'scope', d.scope, 'window_id', d.window_id, 'window_start', d.window_start,
                   'window_end', d.window_end, 'max_pages', min(d.max_pages),
                   'severity', max(d.severity), 'runbook', CASE WHEN d.scope = '*' THEN NULL ELSE min(d.runbook) END),
               d.window_end
        FROM decided d
        WHERE NOT d.paged
        GROUP BY d.window_id, d.escalate_destination, d.scope, d.window_start, d.window_end
        ORDER BY d.window_id
        ON CONFLICT (dedupe_key) DO NOTHING
    ), escalated AS (
        INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
        SELECT c.dedupe_key, c.fingerprint, c.code, c.reason, c.escalate_destination, c.count,
               jsonb_build_object(
                   'code', c.code, 'title', c.title, 'severity', c.severity, 'category', c.category,
                   'reason', c.reason, 'count', c.count, 'window_count', c.window_count,
                   'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at,
                   'source', c.source, 'phase', c.phase, 'sample_message', c.sample_message,
                   'top_frame', c.top_frame, 'runbook', c.runbook, 'retryable', c.retryable,
                   'remediate_kind', c.remediate_kind, 'last_event_id', c.last_event_id,
                   'last_run_id', c.last_run_id, 'fingerprint', c.fingerprint)
               || CASE WHEN c.window_id IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('page_window', jsonb_build_object(
                           'id', c.window_id, 'window_end', c.window_end, 'max_pages', c.max_pages)) END
        FROM decided c
        WHERE c.paged
        ORDER BY c.dedupe_key
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id, fingerprint, code, payload
    )
    INSERT INTO ops.agent_runs (fingerprint, code, escalation_id, policy_ref, policy_sha256, evidence, metadata)
    SELECT e.fingerprint, e.code, e.id, coalesce(p.path, 'ssot/agents/fixbot_policy.yaml'), p.sha256,
           e.payload - 'remediate_kind',
           jsonb_build_object('variant_id', coalesce(p.detail ->> 'default_variant', 'baseline'))
    FROM escalated e
    JOIN ops.failure_modes fm ON fm.code = e.code AND fm.remediate_kind = 'fixbot'
    LEFT JOIN ops.ssot_state p ON p.name = 'fixbot_policy'
    ORDER BY e.fingerprint
    ON CONFLICT (fingerprint) WHERE status IN ('queued', 'claimed', 'running') DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__aggregate() IS
    'AFTER INSERT statement trigger on ops.error_events: upserts ops.agent_errors once per fingerprint, writes one '
    'escalation per threshold/window crossing or regression (unique dedupe key), queues FixBot runs, and holds '
    'back crossings past a destination''s page budget (config.digest) into that window''s digest '
    '(ops.page_windows, ops.page_window_items, one reason=digest escalation due at the window''s end).';

CREATE FUNCTION ops.seal_page_digest(id bigint, token integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    win ops.page_windows;
    groups jsonb;
    sealed jsonb;
BEGIN
    SELECT * INTO esc FROM ops.escalations e
    WHERE e.id = seal_page_digest.id AND e.claims = token AND e.state = 'claimed' AND e.reason = 'digest';
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Waits for any transaction still adding to this window; from here on its crossings page on their own.
    UPDATE ops.page_windows w SET sealed_at = coalesce(w.sealed_at, now())
    WHERE w.id = (esc.payload ->> 'window_id')::bigint
    RETURNING * INTO win;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'digest escalation % names no page window (payload.window_id %)', esc.id,
            coalesce(esc.payload ->> 'window_id', 'missing') USING ERRCODE = 'OP061';
    END IF;
    SELECT coalesce(jsonb_agg(i.payload || jsonb_build_object(
               'sample_message', left(i.payload ->> 'sample_message', 300), 'reason', i.reason, 'count', i.count_at)
               ORDER BY i.count_at DESC, i.code, i.fingerprint), '[]')
    INTO groups
    FROM ops.page_window_items i
    WHERE i.window_id = win.id;
    UPDATE ops.escalations e
    SET payload = e.payload || jsonb_build_object('similar_groups', jsonb_array_length(groups), 'groups', groups,
                                                  'sealed_at', win.sealed_at, 'window_crossings', win.crossings),
        count_at = jsonb_array_length(groups)
    WHERE e.id = esc.id AND e.claims = token AND e.state = 'claimed'
    RETURNING e.payload INTO sealed;
    RETURN sealed;
END
$$;
COMMENT ON FUNCTION ops.seal_page_digest(bigint, integer) IS
    'Freezes a claimed digest escalation (reason digest) before delivery and returns its payload with '
    'similar_groups (how many) and groups (code, title, count, fingerprint, source, phase, first/last seen, sample of '
    'at most 300 characters; highest count first). Fenced by the claim token: NULL when the claim was lost or the '
    'escalation is not a digest. Waits for transactions still adding to the window; crossings after the seal page on '
    'their own. Idempotent: a retried delivery gets the same list. Raises OP061 when the window is missing.';

REVOKE ALL ON FUNCTION ops.seal_page_digest(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.seal_page_digest(bigint, integer) TO ops_worker;
REVOKE ALL ON FUNCTION ops_private.duration_interval(text), ops_private.page_digest_rule(text, text) FROM PUBLIC;

-- A digest waits for its window to close on purpose: its age counts from then, not from its creation,
-- so a 10-minute window does not look like a stuck queue in ops_dispatch_oldest_pending_seconds.
CREATE OR REPLACE VIEW ops.dispatch_stats AS
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
COMMENT ON COLUMN ops.dispatch_stats.oldest_pending_seconds IS
    'Age in seconds of the oldest pending escalation (a digest: since its window closed; 0 while it is open).';
COMMENT ON COLUMN ops.pending_escalations.reason IS
    'threshold, window, regression, manual, or digest (crossings a page budget held back in one window).';
COMMENT ON COLUMN ops.dispatch_queue.reason IS
    'threshold, window, regression, manual, or digest (crossings a page budget held back in one window).';
