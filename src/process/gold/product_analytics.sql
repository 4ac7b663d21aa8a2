-- depends: product_analytics_daily
--
-- product_analytics: per product over all time, the totals of product_analytics_daily (the
-- trending score is the sum of the daily ones, all decayed from the same as_of), the rates
-- recomputed from the totals (NULL when the denominator is 0), and the catalog's category, brand
-- and current price. Every catalog product has a row (zeros when it had no events), and so does
-- every product with events that the catalog does not know (category, brand, price NULL).
--
-- Parameters: none directly (see product_analytics_daily).
SELECT
  product_id,
  coalesce(t.views, 0) AS views,
  coalesce(t.carts, 0) AS carts,
  coalesce(t.purchases, 0) AS purchases,
  coalesce(t.units, 0) AS units,
  CAST(coalesce(t.revenue, 0) AS DECIMAL(18, 2)) AS revenue,
  t.carts / nullif(t.views, 0) AS view_to_cart,
  t.purchases / nullif(t.carts, 0) AS cart_to_purchase,
  t.purchases / nullif(t.views, 0) AS view_to_purchase,
  coalesce(t.trending_score, 0) AS trending_score,
  p.category,
  p.brand,
  p.price
FROM (
  SELECT
    product_id,
    CAST(sum(views) AS BIGINT) AS views,
    CAST(sum(carts) AS BIGINT) AS carts,
    CAST(sum(purchases) AS BIGINT) AS purchases,
    CAST(sum(units) AS BIGINT) AS units,
    sum(revenue) AS revenue,
    -- in ascending order, so the sum does not depend on DuckDB's threads
    list_sum(list(trending_score ORDER BY trending_score)) AS trending_score
  FROM product_analytics_daily
  GROUP BY product_id
) t
FULL OUTER JOIN products p USING (product_id)
