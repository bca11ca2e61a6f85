-- Roles and schemas: the three group roles every privilege is granted to, the two schemas, and the
-- default that new functions are not executable by PUBLIC.
--
-- Three group roles (NOLOGIN) carry every privilege; log-in roles are granted one of them:
--   ops_ingest   producers: may only record errors (ops.record_error or INSERT on ops.error_events)
--   ops_analyst  analysts: may only read the views
--   ops_worker   the dispatch worker: drains the outbox, records its own failures
--   ops_outcomes outcome reporters (the GitHub webhook, `ops fixbot report`): record agent-run outcomes only
--   ops_triage   on-call triage: what ops_analyst reads, plus re-coding an error (ops.promote_error)
-- Supabase's anon/authenticated/service_role exist on Supabase; outside it we create them NOLOGIN so
-- that "nothing is granted to anon" is a checkable statement everywhere.
-- Roles are cluster-wide, so every CREATE ROLE is guarded (many databases share one cluster in tests).

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['ops_ingest', 'ops_analyst', 'ops_worker', 'ops_outcomes', 'ops_triage', 'anon',
                             'authenticated', 'service_role']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;
GRANT ops_analyst TO ops_triage;

CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS ops_private;

-- pg_trgm ships with Debian's postgresql-15 (contrib is part of the server package) and is one of the
-- extensions Supabase offers; Supabase keeps extensions in the `extensions` schema, so we do too.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;

COMMENT ON SCHEMA ops IS
    'Agent reliability system: failure-mode taxonomy, error ingest, dedupe, escalation outbox. '
    'Producers call ops.record_error(); analysts read the views; tables are private.';
COMMENT ON SCHEMA ops_private IS
    'Internals of the ops schema (trigger functions, helpers). Not an API; granted to nobody.';

REVOKE ALL ON SCHEMA ops FROM PUBLIC;
REVOKE ALL ON SCHEMA ops_private FROM PUBLIC;
GRANT USAGE ON SCHEMA ops TO ops_ingest, ops_analyst, ops_worker, ops_triage;
GRANT USAGE ON SCHEMA ops TO ops_outcomes;

-- Functions created from now on are not executable by PUBLIC unless granted explicitly.
ALTER DEFAULT PRIVILEGES IN SCHEMA ops REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA ops_private REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
