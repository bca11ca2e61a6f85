-- Deduplicated errors, the escalation outbox and FixBot agent runs.
-- Code columns are plain text, not foreign keys: a code removed from the taxonomy stays in history.

CREATE TABLE ops.agent_errors (
    fingerprint         text PRIMARY KEY,
    fingerprint_version smallint NOT NULL,
    code                text NOT NULL,
    source              text NOT NULL,
    phase               text,
    count               bigint NOT NULL CONSTRAINT agent_errors_count_positive CHECK (count > 0),
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'open' CONSTRAINT agent_errors_status_known
                        CHECK (status IN ('open', 'acknowledged', 'resolved', 'regressed', 'ignored')),
    confidence          real,
    matched_pattern     text,
    sample_message      text NOT NULL,
    top_frame           text,
    last_event_id       bigint,
    last_run_id         text,
    last_correlation_id text,
    window_started_at   timestamptz,
    window_count        bigint,
    regression_count    integer NOT NULL DEFAULT 0,
    resolved_at         timestamptz,
    resolution_ref      text
);
COMMENT ON TABLE ops.agent_errors IS
    'One row per fingerprint: how often an error occurred, when first and last, and its triage status. Maintained by '
    'the ingest trigger on ops.error_events; never written by producers.';
COMMENT ON COLUMN ops.agent_errors.status IS
    'open | acknowledged | resolved | regressed | ignored. A resolved error that occurs again becomes regressed and escalates.';
COMMENT ON COLUMN ops.agent_errors.window_count IS
    'Events in the current escalation window (codes with escalate.within), counted from window_started_at.';
COMMENT ON COLUMN ops.agent_errors.regression_count IS 'How many times this error came back after being resolved.';
CREATE INDEX agent_errors_code_last_seen_idx ON ops.agent_errors (code, last_seen_at DESC);

CREATE TABLE ops.escalations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key       text NOT NULL CONSTRAINT escalations_dedupe_key_key UNIQUE,
    fingerprint      text NOT NULL,
    code             text NOT NULL,
    reason           text NOT NULL CONSTRAINT escalations_reason_known CHECK (reason IN ('threshold', 'window', 'regression', 'manual')),
    destination      text NOT NULL,
    count_at         bigint NOT NULL,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CONSTRAINT escalations_state_known
                     CHECK (state IN ('pending', 'claimed', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    claimed_by       text,
    last_error       text,
    error_history    jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
COMMENT ON TABLE ops.escalations IS
    'The outbox: one row per threshold crossing or regression (dedupe_key makes each crossing unique). The worker '
    'claims pending rows with SKIP LOCKED and delivers them to `destination`. Inserting notifies channel ops_outbox.';
CREATE INDEX escalations_pending_idx ON ops.escalations (next_attempt_at) WHERE state = 'pending';
CREATE INDEX escalations_claimed_lease_idx ON ops.escalations (lease_expires_at) WHERE state = 'claimed';

CREATE TABLE ops.agent_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint      text NOT NULL,
    code             text NOT NULL,
    escalation_id    bigint REFERENCES ops.escalations (id),
    status           text NOT NULL DEFAULT 'queued' CONSTRAINT agent_runs_status_known
                     CHECK (status IN ('queued', 'claimed', 'running', 'succeeded', 'failed', 'rejected', 'dead', 'cancelled')),
    policy_ref       text NOT NULL,
    policy_sha256    text,
    evidence         jsonb NOT NULL DEFAULT '{}',
    metadata         jsonb NOT NULL DEFAULT '{}',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    claimed_by       text,
    last_error       text,
    error_history    jsonb NOT NULL DEFAULT '[]',
    verdict          jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
COMMENT ON TABLE ops.agent_runs IS
    'FixBot dispatch records. Queued by the ingest trigger for codes with remediate.kind fixbot; at most one active run '
    'per fingerprint. metadata->>''variant_id'' names the ablation variant.';
CREATE UNIQUE INDEX agent_runs_one_active_per_fingerprint ON ops.agent_runs (fingerprint)
    WHERE status IN ('queued', 'claimed', 'running');
CREATE INDEX agent_runs_queued_idx ON ops.agent_runs (next_attempt_at) WHERE status = 'queued';

-- NOTIFY is a wake-up, not a message: one payload-free notification per statement that inserted rows
-- (PostgreSQL also folds identical notifications within a transaction).
CREATE FUNCTION ops_private.tg_outbox__notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF EXISTS (SELECT FROM inserted) THEN
        PERFORM pg_notify('ops_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tg_escalations__90_notify AFTER INSERT ON ops.escalations
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_outbox__notify();
CREATE TRIGGER tg_agent_runs__90_notify AFTER INSERT ON ops.agent_runs
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_outbox__notify();
