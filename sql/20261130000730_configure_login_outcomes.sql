-- ops.configure_login() knows the new group role ops_outcomes (the GitHub webhook, `ops fixbot report`), so
-- an outcome reporter's login gets that role's timeouts like every other login.
CREATE OR REPLACE FUNCTION ops.configure_login(login regrole)
RETURNS TABLE (setting text, value text)
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
    login_name text := (SELECT r.rolname FROM pg_roles r WHERE r.oid = login);
    groups text[];
    candidate record;
    best_ms bigint;
    ms bigint;
    saved text;
BEGIN
    IF login_name IN ('ops_ingest', 'ops_worker', 'ops_analyst', 'ops_outcomes') THEN
        RAISE EXCEPTION 'login must be a login role that is a member of an ops role, not the group role % itself', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = login) THEN
        RAISE EXCEPTION 'login % is a superuser: the ops roles'' limits are for least-privilege logins', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    SELECT array_agg(g.rolname ORDER BY g.rolname) INTO groups
    FROM pg_roles g
    WHERE g.rolname IN ('ops_ingest', 'ops_worker', 'ops_analyst', 'ops_outcomes') AND pg_has_role(login, g.oid, 'MEMBER');
    IF groups IS NULL THEN
        RAISE EXCEPTION 'login % is a member of none of ops_ingest, ops_worker, ops_analyst, ops_outcomes (GRANT one of them first)',
                        login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    FOREACH setting IN ARRAY ARRAY['idle_in_transaction_session_timeout', 'lock_timeout', 'statement_timeout'] LOOP
        -- A member of several groups gets the most permissive value (0 is no limit); values are compared
        -- in milliseconds as PostgreSQL reads them, whatever unit they were written in.
        saved := current_setting(setting);
        value := NULL;
        best_ms := NULL;
        FOR candidate IN
            SELECT substr(c.config, strpos(c.config, '=') + 1) AS v
            FROM pg_db_role_setting s
            JOIN pg_roles g ON g.oid = s.setrole
            CROSS JOIN LATERAL unnest(s.setconfig) AS c (config)
            WHERE s.setdatabase = 0 AND g.rolname = ANY (groups) AND split_part(c.config, '=', 1) = setting
        LOOP
            PERFORM set_config(setting, candidate.v, true);
            ms := (SELECT ps.setting::bigint FROM pg_settings ps WHERE ps.name = configure_login.setting);
            IF best_ms IS NULL OR (best_ms <> 0 AND (ms = 0 OR ms > best_ms)) THEN
                best_ms := ms;
                value := candidate.v;
            END IF;
        END LOOP;
        PERFORM set_config(setting, saved, true);
        IF value IS NOT NULL THEN
            EXECUTE format('ALTER ROLE %I SET %I = %L', login_name, setting, value);
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.configure_login(regrole) IS
    'Copies the statement_timeout, lock_timeout and idle_in_transaction_session_timeout of the ops group roles a login '
    'is a member of (ops_ingest, ops_worker, ops_analyst, ops_outcomes) onto the login itself (ALTER ROLE login SET ...): PostgreSQL '
    'applies role settings only to the role a session logs in as. A member of several groups gets the most permissive '
    'value of each. Takes effect from the login''s next session. Returns (setting, value) per setting applied. Raises '
    'OP001 for a group role itself, a superuser, or a role in none of the groups. Needs CREATEROLE; granted to nobody.';
