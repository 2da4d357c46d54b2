-- The 5 texts nearest to text $QUERY_ID by cosine similarity, over an
-- embeddings run's Parquet output (run it with `nightshift sql "$(cat ...)"`
-- after replacing $QUERY_ID, or paste it into any DuckDB). The Parquet column
-- is a list of FLOAT of the same length in every row; the cast to the fixed
-- size array FLOAT[384] gives DuckDB's array functions. The model's
-- embeddings are L2-normalised, so the inner product is the cosine;
-- array_cosine_similarity works for vectors that are not.
WITH e AS (
  SELECT id, package, embedding::FLOAT[384] AS v FROM read_parquet('out/*/part-*.parquet')
), q AS (
  SELECT v FROM e WHERE id = $QUERY_ID
)
SELECT e.id, e.package, array_cosine_similarity(e.v, q.v) AS cosine
FROM e, q
ORDER BY cosine DESC, e.id
LIMIT 5
