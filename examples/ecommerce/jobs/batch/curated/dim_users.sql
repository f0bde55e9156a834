-- Users as a slowly changing dimension (type 2): a new version when the email or country changes.
-- config: materialized=scd2, unique_key=user_id, updated_at=updated_at, check_cols=[email, country]
SELECT user_id, name, email, phone, country, created_at, updated_at
FROM refined.users
