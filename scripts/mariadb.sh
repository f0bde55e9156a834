#!/usr/bin/env bash
# Starts, stops or reports a local MariaDB 10.11 configured like a CDC-ready production source:
#   scripts/mariadb.sh start|stop|status [DATA_DIR]   (DATA_DIR default: var/mariadb)
#
# - listens on 127.0.0.1 only, port $SLUICE_MYSQL_PORT (default 53306, never 3306);
# - binary log on, binlog_format=ROW, binlog_row_image=FULL, server_id=1, GTIDs in strict mode
#   and binlogs kept 7 days (for CDC: `sluice cdc`, docs/cdc.md);
# - database `inventory`, written by `shop_owner` (password $SLUICE_MYSQL_OWNER_PASSWORD,
#   default "shop_owner"; ALL on inventory.* only);
# - account `sluice` (password $SLUICE_MYSQL_PASSWORD, default "sluice"): SELECT on inventory.*
#   (the consistent-snapshot copy: START TRANSACTION WITH CONSISTENT SNAPSHOT needs no more),
#   REPLICATION SLAVE (read the binlog) and BINLOG MONITOR, the old REPLICATION CLIENT (binlog
#   positions, SHOW BINARY LOGS), nothing else: no RELOAD, no global lock, no SUPER;
# - root has no TCP account; it connects through the Unix socket in DATA_DIR (mode 0700).
# As root the server runs with --user=root. SLUICE_MYSQL_FAST=1 relaxes durability (tests only).
# Idempotent: `start` on a running server only re-applies the accounts.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"
dir="${2:-var/mariadb}"
port="${SLUICE_MYSQL_PORT:-53306}"
sluice_pw="${SLUICE_MYSQL_PASSWORD:-sluice}"
owner_pw="${SLUICE_MYSQL_OWNER_PASSWORD:-shop_owner}"
case "$cmd" in start | stop | status) ;; *)
  echo "usage: scripts/mariadb.sh start|stop|status [DATA_DIR]" >&2
  exit 2
  ;;
esac
for b in mariadbd mariadb-install-db mariadb mariadb-admin; do
  if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
    echo "mariadb.sh: $b not found (run scripts/setup.sh: mariadb-server)" >&2
    exit 1
  fi
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"
sock="$dir/mysqld.sock"
pidf="$dir/mysqld.pid"
userflag=()
if [ "$(id -u)" -eq 0 ]; then userflag=(--user=root); fi
server=/usr/sbin/mariadbd
[ -x "$server" ] || server="$(command -v mariadbd)"

is_up() {
  [ -S "$sock" ] && mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

case "$cmd" in
  status)
    if is_up; then
      echo "mariadb: running on 127.0.0.1:$port (data $data)"
    else
      echo "mariadb: stopped (data $data)"
      exit 3
    fi
    ;;
  stop)
    if is_up; then
      mariadb-admin --no-defaults --socket="$sock" -uroot shutdown
      for _ in $(seq 1 100); do [ -f "$pidf" ] || break; sleep 0.1; done
      echo "mariadb: stopped"
    else
      echo "mariadb: not running"
    fi
    ;;
  start)
    chmod 700 "$dir"
    # Its own temporary folder: two servers bootstrapping at once in /tmp collide on temporary
    # table names ("Could not remove temporary table").
    mkdir -p "$dir/tmp"
    if [ ! -d "$data/mysql" ]; then
      mariadb-install-db --no-defaults --datadir="$data" --tmpdir="$dir/tmp" "${userflag[@]}" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
        { cat "$dir/install.log" >&2; exit 1; }
    fi
    if ! is_up; then
      durability=(--innodb-flush-log-at-trx-commit=1 --sync-binlog=1)
      if [ "${SLUICE_MYSQL_FAST:-0}" = 1 ]; then
        durability=(--innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0)
      fi
      setsid "$server" --no-defaults --datadir="$data" --tmpdir="$dir/tmp" "${userflag[@]}" \
        --bind-address=127.0.0.1 --port="$port" --socket="$sock" --pid-file="$pidf" \
        --log-error="$dir/mariadb.log" --skip-name-resolve \
        --log-bin="$data/binlog" --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
        --gtid-strict-mode=ON --binlog-checksum=CRC32 --binlog-expire-logs-seconds=604800 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --default-time-zone=+00:00 --local-infile=1 --innodb-buffer-pool-size=256M \
        "${durability[@]}" </dev/null >/dev/null 2>&1 &
      for _ in $(seq 1 300); do
        is_up && break
        sleep 0.1
      done
      if ! is_up; then
        echo "mariadb.sh: server did not start; last lines of $dir/mariadb.log:" >&2
        tail -20 "$dir/mariadb.log" >&2 || true
        exit 1
      fi
    fi
    mariadb --no-defaults --socket="$sock" -uroot <<EOF
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');
FLUSH PRIVILEGES;
CREATE DATABASE IF NOT EXISTS inventory CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'sluice'@'127.0.0.1';
ALTER USER 'sluice'@'127.0.0.1' IDENTIFIED BY $(sql_quote "$sluice_pw");
GRANT SELECT ON inventory.* TO 'sluice'@'127.0.0.1';
GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'sluice'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'shop_owner'@'127.0.0.1';
ALTER USER 'shop_owner'@'127.0.0.1' IDENTIFIED BY $(sql_quote "$owner_pw");
GRANT ALL ON inventory.* TO 'shop_owner'@'127.0.0.1';
EOF
    echo "mariadb: running on 127.0.0.1:$port (data $data; accounts sluice, shop_owner)"
    ;;
esac
