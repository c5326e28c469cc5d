-- Search terms are normalised and cut into bigrams by immutable functions of the query parameters, so the
-- planner folds them into constants and the GIN index on grams is used. (Computing them in a CTE joined to
-- the table hid them from the planner: it scanned every row; measured in bench/archive-drain-search.ts.)
CREATE FUNCTION kaiwa_norm_terms(terms text[]) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT coalesce(array_agg(kaiwa_norm(t)), '{}') FROM unnest(terms) AS t $$;

CREATE FUNCTION kaiwa_query_grams(terms text[]) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT coalesce(array_agg(DISTINCT g), '{}') FROM unnest(terms) AS t, unnest(kaiwa_grams(t)) AS g $$;
