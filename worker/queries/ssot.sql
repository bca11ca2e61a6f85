-- name: sync_ssot
-- Make the database equal to the SSOT document; returns rows changed per kind (jsonb).
SELECT ops.sync_ssot(%(doc)s::jsonb) AS changes;

-- name: sync_agent_variants
-- Make ops.agent_variants equal to ssot/agents/variants.yaml; returns {agent_variants: rows changed}.
SELECT ops.sync_agent_variants(%(doc)s::jsonb) AS changes;

-- name: snapshot
-- Every synced row as (kind, key, row as jsonb) for `ops ssot diff`; columns whose difference is not
-- drift (generated ids, derived lower-case and canonical patterns, specificity) are left out.
SELECT 'sources' AS kind, source::text AS key, to_jsonb(t) AS row FROM ops.sources AS t
UNION ALL
SELECT 'destinations', name::text, to_jsonb(t) FROM ops.destinations AS t
UNION ALL
SELECT 'failure_modes', code::text, to_jsonb(t) FROM ops.failure_modes AS t
UNION ALL
SELECT 'failure_mode_patterns', code || '#' || position, to_jsonb(t) - 'id' - 'pattern_lower' - 'pattern_canonical' - 'specificity'
FROM ops.failure_mode_patterns AS t
UNION ALL
SELECT 'redaction_rules', name::text, to_jsonb(t) FROM ops.redaction_rules AS t
UNION ALL
SELECT 'agent_variants', id, to_jsonb(t) FROM ops.agent_variants AS t;

-- name: regex_matches_empty
-- Compile a taxonomy regex in PostgreSQL (an error if it does not) and say whether it matches ''.
SELECT '' ~* %(pattern)s AS matches_empty;

-- name: redact_example
-- Run one redaction rule on one of its examples in PostgreSQL (an error if the pattern does not compile).
SELECT regexp_replace(%(example)s, %(pattern)s, %(replacement)s, %(flags)s) AS redacted;
