-- item_content: TF-IDF weights of the terms of each catalog product, the input of the content
-- model. One row per (product_id, term) with a positive weight.
--
-- Parameters: none (reads products only).
--
-- A product's document is its title, description, category path and brand, lower-cased and
-- split on every character that is not a letter or a digit; tokens shorter than 2 characters
-- and the stop words below are dropped. tf = count of the term in the document / terms kept in
-- the document; idf = ln(N / df) with N = products in the catalog and df = products whose
-- document has the term; weight = tf * idf, L2-normalised per product. A term found in every
-- product has idf 0 and no row; a product whose terms all have idf 0 has no rows.
WITH tokens AS (
  SELECT product_id, unnest(regexp_split_to_array(
      lower(concat_ws(' ', title, description, category, brand)), '[^\p{L}\p{N}]+')) AS term
  FROM products
),
kept AS (
  SELECT product_id, term
  FROM tokens
  WHERE length(term) >= 2 AND term NOT IN (
    'about', 'above', 'after', 'again', 'against', 'all', 'am', 'an', 'and', 'any', 'are', 'as',
    'at', 'be', 'because', 'been', 'before', 'being', 'below', 'between', 'both', 'but', 'by',
    'can', 'could', 'did', 'do', 'does', 'doing', 'down', 'during', 'each', 'few', 'for',
    'from', 'further', 'had', 'has', 'have', 'having', 'he', 'her', 'here', 'hers', 'herself',
    'him', 'himself', 'his', 'how', 'if', 'in', 'into', 'is', 'it', 'its', 'itself', 'just',
    'me', 'more', 'most', 'my', 'myself', 'no', 'nor', 'not', 'now', 'of', 'off', 'on', 'once',
    'only', 'or', 'other', 'our', 'ours', 'ourselves', 'out', 'over', 'own', 'same', 'she',
    'should', 'so', 'some', 'such', 'than', 'that', 'the', 'their', 'theirs', 'them',
    'themselves', 'then', 'there', 'these', 'they', 'this', 'those', 'through', 'to', 'too',
    'under', 'until', 'up', 'very', 'was', 'we', 'were', 'what', 'when', 'where', 'which',
    'while', 'who', 'whom', 'why', 'will', 'with', 'would', 'you', 'your', 'yours', 'yourself',
    'yourselves')
),
tf AS (
  SELECT product_id, term,
         count(*) / sum(count(*)) OVER (PARTITION BY product_id) AS tf
  FROM kept
  GROUP BY product_id, term
),
idf AS (
  SELECT term, ln((SELECT count(*) FROM products) / count(*)) AS idf
  FROM tf
  GROUP BY term
),
raw AS (
  SELECT product_id, term, tf * idf AS w
  FROM tf JOIN idf USING (term)
  WHERE idf > 0
)
SELECT product_id, term, w / norm AS weight
FROM raw
JOIN (
  -- summed in ascending order, so the norm does not depend on DuckDB's threads
  SELECT product_id, sqrt(list_sum(list(w * w ORDER BY w * w))) AS norm
  FROM raw
  GROUP BY product_id
) USING (product_id)
