-- Destinations: what the destinations in the database write (the work_item destination's work items,
-- the GitHub destination's issue per error). The destinations themselves are rows of ops.destinations
-- (01_taxonomy_and_sync); their delivery code is in worker/destinations/.

CREATE TABLE ops.work_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id bigint NOT NULL REFERENCES ops.escalations (id) CONSTRAINT work_items_escalation_id_key UNIQUE,
    fingerprint   text NOT NULL,
    code          text NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL,
    status        text NOT NULL DEFAULT 'open' CONSTRAINT work_items_status_known CHECK (status IN ('open', 'in_progress', 'done', 'wontfix')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.work_items IS 'Work items created by the work_item destination: one per escalation (idempotent).';

CREATE TABLE ops.github_issue_links (
    fingerprint  text NOT NULL,
    repo         text NOT NULL,
    issue_number integer NOT NULL,
    url          text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT github_issue_links_pkey PRIMARY KEY (fingerprint, repo)
);
COMMENT ON TABLE ops.github_issue_links IS 'The GitHub issue opened for an error; later escalations of it comment there.';

CREATE FUNCTION ops.create_work_item(escalation_id bigint)
RETURNS ops.work_items
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    item ops.work_items;
BEGIN
    INSERT INTO ops.work_items (escalation_id, fingerprint, code, title, body)
    SELECT e.id, e.fingerprint, e.code,
           format('[%s] %s', e.code, e.payload ->> 'title'),
           format(E'%s (%s, count %s)\nfirst seen %s, last seen %s\nrunbook: %s\n\n%s',
                  e.payload ->> 'title', e.reason, e.count_at, e.payload ->> 'first_seen_at',
                  e.payload ->> 'last_seen_at', e.payload ->> 'runbook', e.payload ->> 'sample_message')
    FROM ops.escalations e WHERE e.id = create_work_item.escalation_id
    ON CONFLICT ON CONSTRAINT work_items_escalation_id_key DO NOTHING
    RETURNING * INTO item;
    IF item.id IS NULL THEN
        SELECT * INTO item FROM ops.work_items w WHERE w.escalation_id = create_work_item.escalation_id;
    END IF;
    RETURN item;
END
$$;
COMMENT ON FUNCTION ops.create_work_item(bigint) IS 'The work_item destination: one work item per escalation, idempotent.';

CREATE FUNCTION ops.link_github_issue(fingerprint text, repo text, issue_number integer, url text)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
    INSERT INTO ops.github_issue_links (fingerprint, repo, issue_number, url) VALUES (fingerprint, repo, issue_number, url)
    ON CONFLICT ON CONSTRAINT github_issue_links_pkey DO NOTHING
$$;
COMMENT ON FUNCTION ops.link_github_issue(text, text, integer, text) IS 'Remembers the GitHub issue opened for an error.';
