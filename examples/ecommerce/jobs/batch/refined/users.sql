-- Users: the latest version per user_id (raw keeps every version an incremental load brought);
-- emails trimmed and lower-cased, countries and statuses normalized, preferences (jsonb) typed.
-- PII: full names and emails become salted hashes (still joinable), `email_masked` keeps the
-- first letter and the domain for support screens. external_id is the conformed user key shared
-- with other systems.
-- config: materialized=table, pii=full_name:hash, email:hash, email_masked:mask
SELECT user_id, CAST(external_id AS VARCHAR) AS external_id, full_name,
       lower(trim(email)) AS email, lower(trim(email)) AS email_masked,
       split_part(lower(trim(email)), '@', 2) AS email_domain,
       coalesce(nullif(upper(trim(country)), ''), 'XX') AS country,
       lower(trim(status)) AS status,
       coalesce(array_to_string(tags, ','), '') AS tags,
       json_extract_string(preferences, '$.lang') AS lang,
       coalesce(TRY_CAST(json_extract_string(preferences, '$.marketing') AS BOOLEAN), false) AS marketing_opt_in,
       signup_at, updated_at
FROM raw.shop_users
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY updated_at DESC, _ingested_at DESC) = 1
