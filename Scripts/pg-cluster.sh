#!/usr/bin/env bash
# A PostgreSQL 15 cluster of Debian's postgresql-15 for the tests, the demo and the benchmarks,
# on a loopback port (PORT, else a free one), in a folder of its own (DIR, made reachable by the
# `postgres` user): `start DIR [PORT]` makes it (first time) and starts it, prints
# the URL of its database `poshub` (role `poshub`, password in DIR/password, given to the hub as
# PGPASSWORD or --password-file); `stop DIR` stops it. Run as root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
cmd="${1:?usage: pg-cluster.sh start DIR [PORT] | stop DIR}"
dir="${2:?data folder}"
bin=/usr/lib/postgresql/15/bin
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    port="${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      runuser -u postgres -- test -w "$dir" || { echo "pg-cluster.sh: the postgres user cannot reach $dir (a parent folder is closed to it)" >&2; exit 1; }
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
      chmod 600 "$dir/password"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/password"
      as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" start >/dev/null
    # The role and database, once.
    if ! as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -Atc "SELECT 1 FROM pg_roles WHERE rolname = 'poshub'" | grep -q 1; then
      as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -q \
        -c "CREATE ROLE poshub LOGIN CREATEDB PASSWORD '$(cat "$dir/password")'" \
        -c "CREATE DATABASE poshub OWNER poshub"
    fi
    echo "postgres://poshub@127.0.0.1:$port/poshub"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: pg-cluster.sh start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
