-- depends: interactions
--
-- user_features: one row per user_id seen in the clickstream (guests included): RFM with
-- quintile scores and a named segment, activity counts, top categories and device mix.
--
-- Parameters: the one-row table `params` the runner makes from GoldOptions; only as_of (the
-- latest event_time in silver) is used here.
--
-- Recency, frequency, monetary. Buyers (at least one purchase event): recency_days = days from
-- the last purchase to as_of, frequency = distinct orders (a purchase without order_id is an
-- order of its own), monetary = sum of price * quantity (quantity 1 when missing). Browsers (no
-- purchase): recency_days from their last event of any kind, frequency 0, monetary 0.
--
-- Scores (INTEGER 1-5, 5 best): ntile(5) over the buyers ordered by the measure (recency
-- descending, so the most recent score 5); browsers get r_score from the same ntile among
-- browsers and f_score = m_score = 1. Tie rule: a group of equal values takes the lowest ntile
-- of its members, so equal values always score the same and a tie never lifts a score.
WITH activity AS (
  SELECT
    user_id,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    max(event_time) FILTER (WHERE event_type = 'purchase') AS last_purchase,
    count(DISTINCT coalesce(order_id, event_id)) FILTER (WHERE event_type = 'purchase')
      AS frequency,
    CAST(coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
         AS DECIMAL(18, 2)) AS monetary,
    CAST(count_if(event_type = 'product_view') AS BIGINT) AS product_views,
    CAST(count_if(event_type = 'add_to_cart') AS BIGINT) AS add_to_carts,
    CAST(count_if(event_type = 'purchase') AS BIGINT) AS purchases,
    -- device mix: shares of the events whose device is known (0 when none is)
    count(device) AS with_device,
    CAST(count_if(device = 'mobile') AS BIGINT) AS mobile,
    CAST(count_if(device = 'desktop') AS BIGINT) AS desktop,
    CAST(count_if(device = 'tablet') AS BIGINT) AS tablet
  FROM clickstream
  WHERE user_id IS NOT NULL
  GROUP BY user_id
),
-- top_categories: up to 3 top-level categories (the first part of the category path) by the
-- user's interaction weights, heaviest first, ties by name
top_categories AS (
  SELECT user_id, list(top_category ORDER BY w DESC, top_category)[1:3] AS top_categories
  FROM (
    -- in ascending order, so the sum does not depend on DuckDB's threads
    SELECT i.user_id, pr.top_category, list_sum(list(i.weight ORDER BY i.weight)) AS w
    FROM interactions i
    JOIN (SELECT product_id, nullif(trim(split_part(category, '>', 1)), '') AS top_category
          FROM products) pr USING (product_id)
    WHERE pr.top_category IS NOT NULL
    GROUP BY i.user_id, pr.top_category
  )
  GROUP BY user_id
),
base AS (
  SELECT
    a.user_id,
    a.first_seen,
    a.last_seen,
    (epoch_ms(p.as_of) - epoch_ms(coalesce(a.last_purchase, a.last_seen))) / 86400000.0
      AS recency_days,
    a.frequency,
    a.monetary,
    a.frequency > 0 AS buyer,
    coalesce(s.sessions, 0) AS sessions,
    a.product_views,
    a.add_to_carts,
    a.purchases,
    CAST(CASE WHEN a.frequency > 0 THEN a.monetary / a.frequency ELSE 0 END AS DECIMAL(18, 2))
      AS avg_order_value,
    coalesce(tc.top_categories, CAST([] AS VARCHAR[])) AS top_categories,
    coalesce(a.mobile / nullif(a.with_device, 0), 0) AS mobile_share,
    coalesce(a.desktop / nullif(a.with_device, 0), 0) AS desktop_share,
    coalesce(a.tablet / nullif(a.with_device, 0), 0) AS tablet_share,
    u.country,
    u.age_band
  FROM activity a
  CROSS JOIN params p
  LEFT JOIN (SELECT user_id, count(*) AS sessions FROM sessions GROUP BY user_id) s USING (user_id)
  LEFT JOIN users u USING (user_id)
  LEFT JOIN top_categories tc USING (user_id)
),
tiles AS (
  SELECT
    *,
    ntile(5) OVER (PARTITION BY buyer ORDER BY recency_days DESC) AS r_tile,
    ntile(5) OVER (PARTITION BY buyer ORDER BY frequency) AS f_tile,
    ntile(5) OVER (PARTITION BY buyer ORDER BY monetary) AS m_tile
  FROM base
),
scores AS (
  SELECT
    *,
    CAST(min(r_tile) OVER (PARTITION BY buyer, recency_days) AS INTEGER) AS r_score,
    CAST(CASE WHEN buyer THEN min(f_tile) OVER (PARTITION BY buyer, frequency) ELSE 1 END
         AS INTEGER) AS f_score,
    CAST(CASE WHEN buyer THEN min(m_tile) OVER (PARTITION BY buyer, monetary) ELSE 1 END
         AS INTEGER) AS m_score
  FROM tiles
)
SELECT
  user_id,
  first_seen,
  last_seen,
  recency_days,
  frequency,
  monetary,
  r_score,
  f_score,
  m_score,
  CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR) AS rfm_score,
  -- Segments over r_score and fm = (f_score + m_score) / 2; the first matching rule wins and
  -- together the rules cover every (r, fm):
  --            fm: 1-1.5      2-2.5               3-3.5     4-5
  --   r = 5        New        Potential Loyalist  Loyal     Champions
  --   r = 4        Promising  Potential Loyalist  Loyal     Champions
  --   r = 3        Need Attention                 Loyal     Loyal
  --   r = 2        Hibernating                    At Risk   At Risk
  --   r = 1        Lost                           At Risk   At Risk
  CASE
    -- never bought
    WHEN frequency = 0 THEN 'Browsers'
    -- bought lately, often and a lot
    WHEN r_score >= 4 AND (f_score + m_score) / 2.0 >= 4 THEN 'Champions'
    -- buy regularly and well
    WHEN r_score >= 3 AND (f_score + m_score) / 2.0 >= 3 THEN 'Loyal'
    -- recent, average so far
    WHEN r_score >= 4 AND (f_score + m_score) / 2.0 >= 2 THEN 'Potential Loyalist'
    -- a first, small order just now
    WHEN r_score = 5 THEN 'New'
    -- recent, little so far
    WHEN r_score = 4 THEN 'Promising'
    -- middling recency, little value
    WHEN r_score = 3 THEN 'Need Attention'
    -- bought much, but not lately
    WHEN (f_score + m_score) / 2.0 >= 3 THEN 'At Risk'
    -- little, long ago
    WHEN r_score = 2 THEN 'Hibernating'
    -- least recent and little
    ELSE 'Lost'
  END AS segment,
  sessions,
  product_views,
  add_to_carts,
  purchases,
  avg_order_value,
  top_categories,
  mobile_share,
  desktop_share,
  tablet_share,
  country,
  age_band
FROM scores
