-- Issue 12, ninth ingest pass: ops.fold_text in PL/pgSQL, its expression unchanged.
--
-- As LANGUAGE sql it is not inlined (STRICT, and its CASE body is not provably strict), so every execution of a
-- calling query parsed its body again: ops.grouping_text calls it twice per query, ~18 times for a text new to the
-- classification cache. Interleaved (bench/_ingest_ab.py --kind varied, 5 rounds): backend CPU per event of a
-- 500-row INSERT of such texts 0.74-0.83 of before in every round, single-row statements 0.64-0.88; repeated texts
-- (cache hits) unchanged within noise. Outputs are identical (the same expression; compared on every corpus text),
-- so no version changes. bench/README.md, "Real producers' text".

CREATE OR REPLACE FUNCTION ops.fold_text(message text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
-- PL/pgSQL since the ninth ingest pass: as LANGUAGE sql (never inlined: STRICT with a CASE body) its body was parsed
-- again on every execution of a calling query, 18 calls per text new to the cache; the expression is unchanged.
-- ASCII text (as many bytes as characters in a UTF8 database) is its own fold: NFKC keeps every ASCII character
-- and the characters deleted or mapped below are all non-ASCII. Most messages are ASCII; NFKC costs tens of µs.
AS $fn$
BEGIN
RETURN CASE WHEN octet_length(message) = length(message) AND length(message) <= 65536 THEN message ELSE translate(
    -- zero-width space/joiners, word joiner, BOM, soft hyphen; bidi embeddings, overrides, isolates: deleted by
    -- translate (no regex: PostgreSQL caches only 32 compiled regexes per session).
    translate(normalize(left(message, 65536), NFKC),
              U&'\200B\200C\200D\2060\FEFF\00AD\202A\202B\202C\202D\202E\2066\2067\2068\2069\200E\200F', ''),
    -- Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
    U&'\0410\0412\0415\041A\041C\041D\041E\0420\0421\0422\0425\0423\0430\0435\043E\0440\0441\0443\0445\0456\0458\0455\0501\051B\051D\0406\0408\0405\04CF'
    || U&'\0391\0392\0395\0396\0397\0399\039A\039C\039D\039F\03A1\03A4\03A5\03A7\03BF',
    'ABEKMHOPCTXYaeopcyxijsdqwIJSl'
    || 'ABEZHIKMNOPTYXo')
    || CASE WHEN length(message) > 65536
            THEN format(E'\n[… %s characters cut before folding …]', length(message) - 65536) ELSE '' END END;
END
$fn$;

COMMENT ON FUNCTION ops.fold_text(text) IS
    'Folds text before classification and normalization: Unicode NFKC (full-width and compatibility forms), removes '
    'zero-width characters, soft hyphens and bidi controls, and maps the Cyrillic and Greek letters that look like '
    'Latin ones to Latin (a subset of Unicode TR39 confusables). Case is kept. Reads at most 65536 characters; a longer '
    'argument is cut there and ends with a "[… N characters cut before folding …]" marker. text -> text; NULL for NULL. '
    'PL/pgSQL since the ninth ingest pass (its body is no longer parsed again per calling query).';
