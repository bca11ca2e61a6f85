-- name: claim
-- Claim due escalations with a lease; each row's `claims` is the fence token. latency_seconds runs
-- from when the row fell due: created (and NOTIFY sent) or its retry time; a reaped job counts from
-- when it first fell due, so the time a dead worker held it shows.
SELECT *, extract(epoch FROM claimed_at - greatest(created_at, next_attempt_at)) AS latency_seconds
FROM ops.claim_escalations(%(worker)s, %(max_jobs)s, make_interval(secs => %(lease)s));

-- name: seal_page_digest
-- Freeze a claimed digest escalation's list of held-back groups; payload NULL when the claim was lost.
SELECT ops.seal_page_digest(%(id)s, %(token)s) AS payload;

-- name: heartbeat
-- Extend the leases of in-flight jobs still held under their tokens.
SELECT ops.heartbeat_escalations(%(ids)s, %(tokens)s, make_interval(secs => %(lease)s)) AS extended;

-- name: complete
-- Fenced completion: false when the claim was lost.
SELECT ops.complete_escalation(%(id)s, %(token)s, %(result)s::jsonb) AS completed;

-- name: fail
-- A failed attempt: back to pending after retry_after, or dead.
SELECT ops.fail_escalation(%(id)s, %(token)s, %(error)s, make_interval(secs => %(retry_after)s),
                           %(permanent)s, %(counts)s) AS state;

-- name: release
-- Give a claimed job back untouched (shutdown).
SELECT ops.release_escalation(%(id)s, %(token)s) AS released;

-- name: reap
-- Return expired leases to the queue.
SELECT ops.reap_expired_leases() AS reaped;

-- name: expire_agent_runs
-- Fail FixBot runs that have been running longer than the policy's run_timeout.
SELECT ops.expire_agent_runs(make_interval(secs => %(run_timeout)s)) AS expired;

-- name: stats
-- Queue depth and oldest pending age, for the metrics.
SELECT pending, claimed, dead, delivered, oldest_pending_seconds FROM ops.dispatch_stats;

-- name: destinations
-- The configured destinations (names, kinds, names of environment variables).
SELECT name, kind, config FROM ops.destinations;

-- name: create_work_item
-- The work_item destination.
SELECT * FROM ops.create_work_item(%(escalation_id)s);

-- name: github_issue_link
-- The issue already opened for a fingerprint in a repository.
SELECT issue_number, url FROM ops.github_issue_links WHERE fingerprint = %(fingerprint)s AND repo = %(repo)s;

-- name: link_github_issue
-- Remember the issue opened for a fingerprint.
SELECT ops.link_github_issue(%(fingerprint)s, %(repo)s, %(issue_number)s, %(url)s) AS linked;

-- name: agent_run_for_escalation
-- The FixBot run an escalation dispatches.
SELECT * FROM ops.agent_runs WHERE escalation_id = %(escalation_id)s;

-- name: agent_run
-- One FixBot run.
SELECT * FROM ops.agent_runs WHERE id = %(id)s;

-- name: update_agent_run
-- Move a FixBot run along.
SELECT * FROM ops.update_agent_run(%(id)s, %(status)s, %(verdict)s::jsonb, %(branch)s, %(pr_url)s, %(error)s);

-- name: record_run_error
-- A FixBot verdict's reason, recorded through the pipeline.
SELECT * FROM ops.record_error(source => 'agent_runner', phase => 'verify', message => %(message)s,
                               code_hint => %(code_hint)s, run_id => %(run_id)s,
                               context => jsonb_build_object('fingerprint', %(fingerprint)s::text));

-- name: record_dispatch_error
-- The worker's own failures (e.g. a destination's missing environment variable), through the pipeline.
SELECT * FROM ops.record_error(source => 'ops', phase => 'dispatch', message => %(message)s, code_hint => %(code_hint)s,
                               context => %(context)s::jsonb);

-- name: ensure_partitions
-- Keep daily partitions ahead of time.
SELECT ops.ensure_error_event_partitions() AS created;

-- name: queue
-- `ops dispatch list`.
SELECT id, code, destination, reason, state, attempts, max_attempts, next_attempt_at, last_error, agent_run_id,
       agent_run_status
FROM ops.dispatch_queue
WHERE %(state)s::text IS NULL OR state = %(state)s
ORDER BY id DESC
LIMIT %(limit)s;

-- name: requeue
-- `ops dispatch requeue ID`: OP004 for an unknown id, OPD04 for an escalation that is not dead.
SELECT id, code, destination, state, attempts, max_attempts FROM ops.requeue_escalation(%(id)s);

-- name: escalation
-- One escalation as `ops dispatch list` shows it (`ops dispatch requeue ID --dry-run`).
SELECT id, code, destination, reason, state, attempts, max_attempts, next_attempt_at, last_error, agent_run_id,
       agent_run_status
FROM ops.dispatch_queue
WHERE id = %(id)s;

-- name: set_agent_run_artifacts
-- Store what a FixBot runner produced on its run (patch, transcript; redacted by the function).
SELECT id FROM ops.set_agent_run_artifacts(%(id)s, %(patch)s, %(transcript)s::jsonb);

-- name: complete_batch
-- Fenced completion of a batch: the ids completed (an id missing from the answer had lost its claim).
SELECT id FROM ops.complete_escalations(%(ids)s::bigint[], %(tokens)s::integer[], %(results)s::jsonb[]) AS id;
