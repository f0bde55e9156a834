# SCD2: first load, no change, a change, a change outside check_cols, a delete, a late change.
P="--project project"
run() { $SLUICE model run --project project --threads 1 "$@"; }
show() { $SLUICE sql --format csv -e "SELECT user_id, email, country, tier, valid_from, valid_to, is_current FROM curated.dim_users ORDER BY user_id, valid_from"; }
$SLUICE sql -e "CREATE TABLE raw.users (user_id INT, email VARCHAR, country VARCHAR, tier VARCHAR, updated_at TIMESTAMP)"
$SLUICE sql -e "INSERT INTO raw.users VALUES (1, 'a@x.com', 'VN', 'gold', '2024-01-01 08:00:00'), (2, 'b@x.com', 'US', 'free', '2024-01-01 09:00:00'), (3, 'c@x.com', 'FR', 'free', '2024-01-01 10:00:00')"
echo "== first load"
run --ds 2024-01-01; show
echo "== no change (same rows again)"
run --ds 2024-01-02; show
echo "== user 1 moves to SG; user 2 changes tier only (not a tracked column)"
$SLUICE sql -e "UPDATE raw.users SET country = 'SG', updated_at = '2024-01-03 12:00:00' WHERE user_id = 1"
$SLUICE sql -e "UPDATE raw.users SET tier = 'gold', updated_at = '2024-01-03 13:00:00' WHERE user_id = 2"
run --ds 2024-01-03; show
echo "== user 3 is deleted at the source: its current row closes at the end of ds"
$SLUICE sql -e "DELETE FROM raw.users WHERE user_id = 3"
run --ds 2024-01-04; show
echo "== a late change: user 1 had changed email on 2024-01-02, before the SG move"
$SLUICE sql -e "UPDATE raw.users SET email = 'a2@x.com', country = 'VN', updated_at = '2024-01-02 07:00:00' WHERE user_id = 1"
run --ds 2024-01-05; show
echo "== re-running the same day changes nothing"
run --ds 2024-01-05; show
