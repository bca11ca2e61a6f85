-- Text functions: redaction, normalization, fingerprint and classification. Pure functions of their
-- inputs and the synced taxonomy. The ingest trigger calls them; analysts and tests may call them directly.

CREATE FUNCTION ops.redact(message text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    rule record;
    result text := message;
    lowered text := lower(message);
BEGIN
    IF result IS NULL THEN
        RETURN NULL;
    END IF;
    FOR rule IN SELECT r.pattern, r.replacement, r.flags, r.prefilter FROM ops.redaction_rules r ORDER BY r.position LOOP
        -- The prefilter spares the regex (and a slot in the 32-entry regex cache) on most messages.
        IF rule.prefilter IS NULL OR EXISTS (SELECT FROM unnest(rule.prefilter) f WHERE strpos(lowered, f) > 0) THEN
            result := regexp_replace(result, rule.pattern, rule.replacement, rule.flags);
        END IF;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops.redact(text) IS
    'Replaces secrets (tokens, keys, JWTs, passwords, credentials in URLs, PEM private keys) with [REDACTED:<rule>] markers, '
    'using ops.redaction_rules in order. Applied to every message, top frame and context before storage or hashing.';

CREATE FUNCTION ops.normalize_message(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN btrim(regexp_replace(
    regexp_replace(                                   -- numbers
    regexp_replace(                                   -- durations: 30s, 1.5 ms, 360 minutes
    regexp_replace(                                   -- hex ids with at least one digit and one letter
    regexp_replace(                                   -- 0x… literals
    regexp_replace(                                   -- IPv4 with optional port
    regexp_replace(                                   -- absolute paths
    regexp_replace(                                   -- e-mail addresses
    regexp_replace(                                   -- times of day
    regexp_replace(                                   -- timestamps and dates
    regexp_replace(                                   -- UUIDs
    regexp_replace(                                   -- URLs
        lower(message),
        '[a-z][a-z0-9+.-]*://[^[:space:]''"<>()]+', '<url>', 'g'),
        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
        '[0-9]{4}-[0-9]{2}-[0-9]{2}([t ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(z|[+-][0-9]{2}:?[0-9]{2})?)?', '<ts>', 'g'),
        '[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?', '<time>', 'g'),
        '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}', '<email>', 'g'),
        '(^|[[:space:]''"(=:])(/[^[:space:]/''"():]+){2,}/?', '\1<path>', 'g'),
        '[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?', '<ip>', 'g'),
        '0x[0-9a-f]+', '<hex>', 'g'),
        '(^|[^a-z0-9_])(?=[0-9]*[a-f])(?=[a-f]*[0-9])[0-9a-f]{7,}(?=[^a-z0-9_]|$)', '\1<hex>', 'g'),
        '[0-9]+(\.[0-9]+)?[[:space:]]?(ms|us|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)(?=[^a-z]|$)', '<dur>', 'g'),
        '[0-9]+', '<n>', 'g'),
    '[[:space:]]+', ' ', 'g'));
COMMENT ON FUNCTION ops.normalize_message(text) IS
    'Lower-cases a message and replaces volatile parts with placeholders (<url> <uuid> <ts> <time> <email> <path> <ip> <hex> <dur> <n>), '
    'collapsing white space, so that occurrences of one error group under one fingerprint.';

CREATE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN encode(sha256(convert_to(
    -- Each field is length-prefixed (NULL is "~"), so no choice of field values can collide.
    'fp1|' || concat_ws('|',
        coalesce(length(source) || ':' || source, '~'),
        coalesce(length(phase) || ':' || phase, '~'),
        coalesce(length(code) || ':' || code, '~'),
        coalesce(length(ops.normalize_message(message)) || ':' || ops.normalize_message(message), '~'),
        coalesce(length(ops.normalize_message(top_frame)) || ':' || ops.normalize_message(top_frame), '~')),
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over source, phase, code, normalized message and normalized top frame, each length-prefixed '
    '(fingerprint version 1). Pass the redacted message.';

CREATE FUNCTION ops.classify_error(source text, phase text, message text)
RETURNS TABLE (code text, confidence real, matched_pattern text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL rather than SQL: its plan is cached per session, which matters when the ingest
    -- trigger calls this once per row.
    RETURN QUERY
    WITH input AS (
        SELECT lower(classify_error.message) AS lowered
    ), matches AS (
        SELECT p.code, p.kind, p.pattern, p.priority, m.position AS code_position, p.position AS pattern_position,
               coalesce(p.phases, m.phases) IS NOT NULL AS by_phase,
               p.sources IS NOT NULL AS by_source
        FROM ops.failure_mode_patterns p
        JOIN ops.failure_modes m ON m.code = p.code
        CROSS JOIN input
        WHERE (p.sources IS NULL OR classify_error.source = ANY (p.sources))
          AND (coalesce(p.phases, m.phases) IS NULL OR classify_error.phase = ANY (coalesce(p.phases, m.phases)))
          AND CASE
                  WHEN p.kind = 'substring' THEN strpos(input.lowered, p.pattern_lower) > 0
                  -- CASE fixes the order: the cheap literal test guards the regex.
                  WHEN p.required_literals IS NOT NULL
                       AND NOT EXISTS (SELECT FROM unnest(p.required_literals) l WHERE strpos(input.lowered, l) > 0)
                  THEN false
                  ELSE classify_error.message ~* p.pattern
              END
    ), best AS (
        SELECT matches.*, (SELECT count(DISTINCT m2.code) FROM matches m2) AS codes_matched
        FROM matches
        ORDER BY (matches.by_phase::int * 2 + matches.by_source::int) DESC,
                 matches.priority DESC, matches.code_position, matches.pattern_position
        LIMIT 1
    )
    SELECT best.code,
           least(1.0,
                 CASE best.kind WHEN 'regex' THEN 0.9 ELSE 0.8 END
                 + 0.05 * best.by_phase::int + 0.05 * best.by_source::int
                 - CASE WHEN best.codes_matched > 1 THEN 0.1 ELSE 0 END)::real,
           best.pattern
    FROM best
    UNION ALL
    SELECT 'UNKNOWN.' || upper(classify_error.source), 0::real, NULL::text
    WHERE NOT EXISTS (SELECT FROM best);
END
$$;
COMMENT ON FUNCTION ops.classify_error(text, text, text) IS
    'Classifies one message: exactly one row (code, confidence, matched_pattern). Precedence: patterns restricted by '
    'phase and/or source first (phase weighs more), then higher priority, then YAML order. Confidence: 0.9 for a regex '
    'match, 0.8 for a substring, +0.05 per phase or source restriction that matched, -0.1 when other codes matched too; '
    'no match gives UNKNOWN.<SOURCE> with confidence 0 and a NULL pattern.';
