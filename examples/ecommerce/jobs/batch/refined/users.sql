-- Users: the latest version per user_id; emails trimmed and lower-cased, countries upper-cased.
-- PII: names and emails become salted hashes (still joinable), phones keep their last 4 digits.
-- config: materialized=table, pii=name:hash, email:hash, phone:mask
SELECT user_id, name, lower(trim(email)) AS email, phone, upper(trim(country)) AS country,
       created_at, updated_at
FROM raw.shop_users
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY updated_at DESC) = 1
