-- Retention of the classification cache (ops_private.classification_cache): an entry is written once per new text
-- and nothing removed it, so texts that never repeat grew the table without bound. `ops db maintain` now prunes
-- entries written more than max_age ago; a text still arriving is classified once more and cached again.
CREATE FUNCTION ops.prune_classification_cache(max_age interval DEFAULT interval '7 days') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    pruned integer;
BEGIN
    IF max_age IS NULL OR max_age <= interval '0' THEN
        RAISE EXCEPTION 'max_age must be above zero, not %', max_age USING ERRCODE = 'OPD01', COLUMN = 'max_age';
    END IF;
    DELETE FROM ops_private.classification_cache c WHERE c.cached_at < now() - max_age;
    GET DIAGNOSTICS pruned = ROW_COUNT;
    RETURN pruned;
END
$$;
COMMENT ON FUNCTION ops.prune_classification_cache(interval) IS
    'Retention of the classification cache: deletes entries written more than max_age ago (default 7 days; an entry '
    'is not refreshed when read, so a text still arriving is classified once more and cached again). Returns how many '
    'entries it deleted. OPD01 for a max_age not above zero. Run by `ops db maintain`.';
REVOKE ALL ON FUNCTION ops.prune_classification_cache(interval) FROM PUBLIC;
