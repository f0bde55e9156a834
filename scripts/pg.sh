#!/usr/bin/env bash
# Starts, stops or reports a local PostgreSQL 15 configured like a CDC-ready production source:
#   scripts/pg.sh start|stop|status [DATA_DIR]        (DATA_DIR default: var/pg)
#
# - listens on 127.0.0.1 only, port $SLUICE_PG_PORT (default 55432, never 5432);
# - wal_level=logical, max_replication_slots and max_wal_senders > 0 (for CDC);
#   logical_decoding_work_mem=64kB (the minimum), so a transaction above 64 kB is streamed to
#   logical replication while in progress (pgoutput streaming; docs/cdc.md);
# - database `shop` owned by `shop_owner` (password $SLUICE_PG_OWNER_PASSWORD, default
#   "shop_owner"), the account `sluice gen` writes with;
# - account `sluice` (password $SLUICE_PG_PASSWORD, default "sluice"): LOGIN REPLICATION, not a
#   superuser, SELECT on the tables of schema public (now and future) and nothing else;
# - publication `sluice_shop` FOR TABLES IN SCHEMA public (tables created later included), the
#   one `sluice cdc start shop` streams (docs/cdc.md): creating a publication needs table
#   ownership or superuser, so it is made here and the sluice account only reads it; REPLICATION
#   lets sluice create and use its own replication slot, and SELECT covers the bootstrap copy;
# - the Unix socket lives in DATA_DIR (mode 0700), where only the server's OS user may connect
#   (as the `postgres` superuser, trust); TCP needs a password (scram-sha-256).
# As root the server runs as the `postgres` OS user (PostgreSQL refuses root). SLUICE_PG_FAST=1
# turns fsync off (tests only). Idempotent: `start` on a running server only re-applies accounts.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"
dir="${2:-var/pg}"
port="${SLUICE_PG_PORT:-55432}"
sluice_pw="${SLUICE_PG_PASSWORD:-sluice}"
owner_pw="${SLUICE_PG_OWNER_PASSWORD:-shop_owner}"
case "$cmd" in start | stop | status) ;; *)
  echo "usage: scripts/pg.sh start|stop|status [DATA_DIR]" >&2
  exit 2
  ;;
esac

bin="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)"
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "pg.sh: PostgreSQL 15 server not found in /usr/lib/postgresql/15/bin (run scripts/setup.sh)" >&2
  exit 1
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"

# Runs a command as the server's OS user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_up() {
  [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

psql_admin() {
  as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}

case "$cmd" in
  status)
    if is_up; then
      echo "pg: running on 127.0.0.1:$port (data $data)"
    else
      echo "pg: stopped (data $data)"
      exit 3
    fi
    ;;
  stop)
    if is_up; then
      as_pg "$bin/pg_ctl" stop -D "$data" -m fast -w >/dev/null
      echo "pg: stopped"
    else
      echo "pg: not running"
    fi
    ;;
  start)
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        echo "pg.sh: the postgres OS user cannot write $dir; make its parent folders" \
          "world-executable (chmod o+x) or pick another DATA_DIR" >&2
        exit 1
      fi
    fi
    chmod 700 "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
      cat >>"$data/postgresql.conf" <<EOF

# --- Sluice: a CDC-ready source on loopback (scripts/pg.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
logical_decoding_work_mem = 64kB
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
EOF
      cat >"$data/pg_hba.conf" <<EOF
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
    fi
    # The port and durability are per start, so tests can pick a free port for a copy.
    sed -i '/^port = /d; /^fsync = /d; /^synchronous_commit = /d' "$data/postgresql.conf"
    echo "port = $port" >>"$data/postgresql.conf"
    if [ "${SLUICE_PG_FAST:-0}" = 1 ]; then
      printf 'fsync = off\nsynchronous_commit = off\n' >>"$data/postgresql.conf"
    fi
    if ! is_up; then
      as_pg "$bin/pg_ctl" start -D "$data" -l "$dir/postgres.log" -w -t 60 >/dev/null ||
        { tail -20 "$dir/postgres.log" >&2; exit 1; }
    fi
    # Accounts and grants, re-applied on every start (idempotent).
    psql_admin -d postgres <<EOF
SELECT 'CREATE ROLE sluice' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice')
\gexec
SELECT 'CREATE ROLE shop_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_owner')
\gexec
ALTER ROLE sluice WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  PASSWORD $(sql_quote "$sluice_pw");
ALTER ROLE shop_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD $(sql_quote "$owner_pw");
SELECT 'CREATE DATABASE shop OWNER shop_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shop')
\gexec
REVOKE ALL ON DATABASE shop FROM PUBLIC;
GRANT CONNECT ON DATABASE shop TO sluice;
EOF
    psql_admin -d shop <<EOF
GRANT USAGE ON SCHEMA public TO sluice;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sluice;
ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA public GRANT SELECT ON TABLES TO sluice;
SELECT 'CREATE PUBLICATION sluice_shop FOR TABLES IN SCHEMA public'
  WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'sluice_shop')
\gexec
EOF
    echo "pg: running on 127.0.0.1:$port (data $data; accounts sluice, shop_owner)"
    ;;
esac
