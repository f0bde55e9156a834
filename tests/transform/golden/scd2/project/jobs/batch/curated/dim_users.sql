-- config: materialized=scd2, unique_key=user_id, updated_at=updated_at, check_cols=[email, country]
SELECT user_id, email, country, tier, updated_at FROM raw.users
