-- depends: product_analytics, interactions
--
-- hybrid_features: one row per catalog product with the side features the hybrid model blends:
-- category, top-level category (first part of the path), brand, price, price band, stock and
-- catalog state, popularity and trending.
--
-- Parameters: none directly (trending_score comes from product_analytics).
--
-- price_band: ntile(5) of price within the top category (1 = cheapest fifth); equal prices take
-- the lowest band of their group; NULL without a price. in_stock: stock > 0 (NULL when the stock
-- is unknown). popularity: the product's share of the rows of interactions (users who interacted
-- with it / all user-product pairs), 0 without interactions.
SELECT
  c.product_id,
  c.category,
  c.top_category,
  c.brand,
  c.price,
  CAST(b.price_band AS INTEGER) AS price_band,
  c.stock > 0 AS in_stock,
  coalesce(c.discontinued, false) AS discontinued,
  coalesce(pop.popularity, 0) AS popularity,
  coalesce(pa.trending_score, 0) AS trending_score,
  c.created_at
FROM (
  SELECT product_id, category, nullif(trim(split_part(category, '>', 1)), '') AS top_category,
         brand, price, stock, discontinued, created_at
  FROM products
) c
LEFT JOIN (
  SELECT product_id, min(tile) OVER (PARTITION BY top_category, price) AS price_band
  FROM (
    SELECT product_id, price, nullif(trim(split_part(category, '>', 1)), '') AS top_category,
           ntile(5) OVER (PARTITION BY nullif(trim(split_part(category, '>', 1)), '')
                          ORDER BY price) AS tile
    FROM products
    WHERE price IS NOT NULL
  )
) b USING (product_id)
LEFT JOIN (
  SELECT product_id, count(*) / sum(count(*)) OVER () AS popularity
  FROM interactions
  GROUP BY product_id
) pop USING (product_id)
LEFT JOIN product_analytics pa USING (product_id)
