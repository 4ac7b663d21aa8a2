-- interactions: one row per (user_id, product_id) with an implicit-feedback weight; the input of
-- every collaborative model.
--
-- Parameters: the one-row table `params` the runner makes from GoldOptions (weight_view,
-- weight_click, weight_cart, weight_purchase, interaction_half_life_days, and as_of = the latest
-- event_time in silver).
--
-- An event's weight by type: product_view = weight_view, or the rating when the view carries one
-- (an explicit rating replaces the implicit weight); recommendation_click = weight_click;
-- add_to_cart = weight_cart; purchase = weight_purchase. Other types (page views, searches,
-- removals, impressions) are not interactions. Each weight is decayed by its age from as_of:
-- w * 0.5 ^ (age_days / interaction_half_life_days), so a purchase one half-life old counts 2.5.
SELECT
  user_id,
  product_id,
  -- summed in ascending order: a plain sum of doubles depends on how DuckDB splits the work
  -- between threads, and rebuilding from the same silver must give the same bits
  list_sum(list(contribution ORDER BY contribution)) AS weight,
  count(*) AS events,
  max(event_time) AS last_time
FROM (
  SELECT
    c.user_id,
    c.product_id,
    c.event_time,
    CASE c.event_type
      WHEN 'product_view' THEN coalesce(c.rating, p.weight_view)
      WHEN 'recommendation_click' THEN p.weight_click
      WHEN 'add_to_cart' THEN p.weight_cart
      WHEN 'purchase' THEN p.weight_purchase
    END
    * pow(0.5, (epoch_ms(p.as_of) - epoch_ms(c.event_time)) / 86400000.0
               / p.interaction_half_life_days) AS contribution
  FROM clickstream c CROSS JOIN params p
  WHERE c.user_id IS NOT NULL AND c.product_id IS NOT NULL
    AND c.event_type IN ('product_view', 'recommendation_click', 'add_to_cart', 'purchase')
)
GROUP BY user_id, product_id
