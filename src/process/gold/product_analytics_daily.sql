-- product_analytics_daily: per product and UTC day, the funnel counts, revenue, conversion rates
-- and the day's share of the trending score.
--
-- Parameters: the one-row table `params` the runner makes from GoldOptions (weight_view,
-- weight_click, weight_cart, weight_purchase, trending_half_life_days, and as_of = the latest
-- event_time in silver).
--
-- views, carts, purchases count product_view, add_to_cart and purchase events; units and revenue
-- sum quantity (1 when missing) and price * quantity of purchases. Rates are ratios of those
-- counts, NULL when the denominator is 0 (cart_to_purchase can exceed 1: a purchase needs no
-- cart event). trending_score sums the event weights (view, recommendation click, cart,
-- purchase; a rated view counts as a view: trending measures attention, not liking) each
-- decayed by 0.5 ^ (age_days / trending_half_life_days) from as_of. A row exists for each day a
-- product had at least one of those events.
SELECT
  product_id,
  date,
  views,
  carts,
  purchases,
  units,
  revenue,
  carts / nullif(views, 0) AS view_to_cart,
  purchases / nullif(carts, 0) AS cart_to_purchase,
  purchases / nullif(views, 0) AS view_to_purchase,
  trending_score
FROM (
  SELECT
    product_id,
    date,
    CAST(count_if(event_type = 'product_view') AS BIGINT) AS views,
    CAST(count_if(event_type = 'add_to_cart') AS BIGINT) AS carts,
    CAST(count_if(event_type = 'purchase') AS BIGINT) AS purchases,
    CAST(coalesce(sum(coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
         AS BIGINT) AS units,
    CAST(coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
         AS DECIMAL(18, 2)) AS revenue,
    -- summed in ascending order so that the result does not depend on DuckDB's threads
    list_sum(list(trend ORDER BY trend)) AS trending_score
  FROM (
    SELECT
      c.product_id,
      CAST(c.event_time AS DATE) AS date,
      c.event_type,
      c.quantity,
      c.price,
      CASE c.event_type
        WHEN 'product_view' THEN p.weight_view
        WHEN 'recommendation_click' THEN p.weight_click
        WHEN 'add_to_cart' THEN p.weight_cart
        WHEN 'purchase' THEN p.weight_purchase
      END
      * pow(0.5, (epoch_ms(p.as_of) - epoch_ms(c.event_time)) / 86400000.0
                 / p.trending_half_life_days) AS trend
    FROM clickstream c CROSS JOIN params p
    WHERE c.product_id IS NOT NULL
      AND c.event_type IN ('product_view', 'recommendation_click', 'add_to_cart', 'purchase')
  )
  GROUP BY product_id, date
)
