-- Users as a slowly changing dimension (type 2): a new version when the email, country or
-- status changes. Built from refined.users, so names and emails are already hashed.
-- config: materialized=scd2, unique_key=user_id, updated_at=updated_at, check_cols=[email, country, status]
SELECT user_id, external_id, full_name, email, email_masked, email_domain, country, status,
       lang, marketing_opt_in, signup_at, updated_at
FROM refined.users
