-- The classification cache of ingest: a repeated event reads what the first computed; any change to the
-- taxonomy makes older entries unreadable; the answer is always what classifying again would give.
BEGIN;
SELECT plan(19);

SELECT is((SELECT count(*) FROM ops_private.classification_cache), 0::bigint, 'the cache starts empty');

CREATE TEMP TABLE seen AS
SELECT 1 AS n, r.* FROM ops.record_error(source => 'github_actions', phase => 'test',
                                         message => 'npm ERR! code ERESOLVE unable to resolve dependency tree') r;
SELECT is((SELECT count(*) FROM ops_private.classification_cache), 1::bigint,
    'the first event of a text stores one cache entry');
SELECT is((SELECT c.taxonomy_version FROM ops_private.classification_cache c),
          (SELECT v.version FROM ops_private.taxonomy_version v),
    'the entry is stored under the current taxonomy version');

INSERT INTO seen
SELECT 2, r.* FROM ops.record_error(source => 'github_actions', phase => 'test',
                                    message => 'npm ERR! code ERESOLVE unable to resolve dependency tree') r;
SELECT is((SELECT count(*) FROM ops_private.classification_cache), 1::bigint,
    'the same text again reads the entry and stores nothing new');
SELECT is((SELECT fingerprint FROM seen WHERE n = 2), (SELECT fingerprint FROM seen WHERE n = 1),
    'a cache hit groups the event with the first one');
SELECT is((SELECT count FROM seen WHERE n = 2), 2::bigint, 'and counts it exactly');
SELECT is((SELECT code FROM seen WHERE n = 2),
          (SELECT c.code FROM ops.classify_error('github_actions', 'test', 'npm ERR! code ERESOLVE unable to resolve dependency tree') c),
    'the cached code is the code ops.classify_error gives');
SELECT is((SELECT fingerprint FROM seen WHERE n = 2),
          (SELECT ops.error_fingerprint('github_actions', 'test', c.code,
                                        ops.grouping_text('npm ERR! code ERESOLVE unable to resolve dependency tree', c.code, c.matched_pattern), NULL)
           FROM ops.classify_error('github_actions', 'test', 'npm ERR! code ERESOLVE unable to resolve dependency tree') c),
    'the cached fingerprint is the one ops.error_fingerprint computes');

-- A taxonomy change: a more specific pattern of another code now matches the text.
CREATE TEMP TABLE before_change AS SELECT v.version FROM ops_private.taxonomy_version v;
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority)
SELECT f.code, 999, 'substring', 'eresolve unable to resolve dependency tree', ARRAY['github_actions'], ARRAY['test'], 100
FROM ops.failure_modes f WHERE f.code <> (SELECT code FROM seen WHERE n = 1) AND 'github_actions' = ANY (f.sources)
ORDER BY f.position LIMIT 1;
SELECT cmp_ok((SELECT v.version FROM ops_private.taxonomy_version v), '>', (SELECT version FROM before_change),
    'adding a pattern raises the taxonomy version');
SELECT is((SELECT count(*) FROM ops_private.classification_cache), 0::bigint,
    'and deletes the entries of older versions');

INSERT INTO seen
SELECT 3, r.* FROM ops.record_error(source => 'github_actions', phase => 'test',
                                    message => 'npm ERR! code ERESOLVE unable to resolve dependency tree') r;
SELECT is((SELECT code FROM seen WHERE n = 3),
          (SELECT p.code FROM ops.failure_mode_patterns p WHERE p.position = 999),
    'after the change the same text is classified again, by the new pattern');

-- A second change in the same transaction still invalidates what was cached in between.
DELETE FROM ops.failure_mode_patterns p WHERE p.position = 999;
INSERT INTO seen
SELECT 4, r.* FROM ops.record_error(source => 'github_actions', phase => 'test',
                                    message => 'npm ERR! code ERESOLVE unable to resolve dependency tree') r;
SELECT is((SELECT code FROM seen WHERE n = 4), (SELECT code FROM seen WHERE n = 1),
    'removing the pattern again in the same transaction: the text gets its first code back, not the cached one');

UPDATE ops.sources SET position = position;
SELECT cmp_ok((SELECT count(*) FROM ops_private.classification_cache c
               WHERE c.taxonomy_version = (SELECT v.version FROM ops_private.taxonomy_version v)), '=', 0::bigint,
    'a change to ops.sources (the scope of a code) also makes every entry stale');
UPDATE ops.ssot_state SET detail = detail;
SELECT ok((SELECT v.changed_by = pg_current_xact_id() FROM ops_private.taxonomy_version v),
    'a change to ops.ssot_state (the wrappers) raises the version too');

-- An event with a code hint takes the path that honours or checks the hint, without the cache.
CREATE TEMP TABLE entries AS SELECT count(*) AS n FROM ops_private.classification_cache;
SELECT lives_ok($$SELECT ops.record_error(source => 'github_actions', phase => 'test', message => 'a hinted one',
                                          code_hint => 'CI.DEPENDENCY_INSTALL_FAILED')$$,
    'an event with a code hint is recorded');
SELECT is((SELECT count(*) FROM ops_private.classification_cache), (SELECT n FROM entries),
    'and leaves the cache alone');

-- Retention: entries written more than max_age ago go; newer ones stay.
SELECT ops.record_error(source => 'github_actions', phase => 'test', message => 'retention one ' || g)
FROM generate_series(1, 2) g;
UPDATE ops_private.classification_cache SET cached_at = now() - interval '8 days'
WHERE key = (SELECT key FROM ops_private.classification_cache ORDER BY cached_at, key LIMIT 1);
SELECT is(ops.prune_classification_cache(), 1, 'ops.prune_classification_cache deletes the entry written 8 days ago');
SELECT ok((SELECT count(*) FROM ops_private.classification_cache) > 0, 'and keeps the recent ones');
SELECT throws_ok($$SELECT ops.prune_classification_cache(interval '0')$$, 'OPD01', NULL,
    'a max_age of zero (which would empty the cache) is refused');

SELECT * FROM finish();
ROLLBACK;
