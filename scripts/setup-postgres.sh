#!/usr/bin/env bash
# Installs and starts PostgreSQL for the sync server's PostgreSQL backend and its tests,
# idempotently: Debian's `postgresql` package when absent, its cluster started (created when
# missing), a `gridwalk` role allowed to create databases (the tests make one per test) and a
# `gridwalk` database for `gridwalk-server serve --database …`.
#
#   scripts/setup-postgres.sh              set up, say what was done on stderr
#   scripts/setup-postgres.sh --print-url  also print the connection URL (only it) on stdout
#
# The role's password is made once and kept in /var/cache/gridwalk/postgres-password (mode 600);
# the URL carries it, so treat the printed URL as a secret. Connections are over TCP on
# 127.0.0.1 without TLS (the server and the database on one host or a private network).
set -euo pipefail

print_url=0
for arg in "$@"; do
    case "$arg" in
        --print-url) print_url=1 ;;
        *) echo "usage: $0 [--print-url]" >&2; exit 2 ;;
    esac
done
say() { echo "setup-postgres: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing Debian's postgresql"
    as_root apt-get update -qq >&2
    # The package's own service start fails harmlessly where there is no init system.
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
cluster=main
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c' | grep -q .; then
    say "creating cluster $version/$cluster"
    as_root pg_createcluster "$version" "$cluster" >&2
fi
status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }')
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')
if [ "$status" != online ]; then
    say "starting cluster $version/$cluster on port $port"
    as_root pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
    sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$port" || { say "PostgreSQL does not answer on port $port"; exit 1; }

secret_dir=/var/cache/gridwalk
secret="$secret_dir/postgres-password"
as_root mkdir -p "$secret_dir"
if ! as_root test -s "$secret"; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | as_root tee "$secret" >/dev/null)
fi
password=$(as_root cat "$secret")

psql_admin() { as_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }
# A role allowed to create (and drop its own) databases; its password follows the file.
psql_admin -d postgres >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridwalk') THEN
        CREATE ROLE gridwalk LOGIN CREATEDB;
    END IF;
END
\$\$;
ALTER ROLE gridwalk WITH LOGIN CREATEDB PASSWORD '$password';
SQL
if ! psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = 'gridwalk'" | grep -q 1; then
    psql_admin -d postgres -c "CREATE DATABASE gridwalk OWNER gridwalk" >&2
fi
say "PostgreSQL $version ready on 127.0.0.1:$port (role and database gridwalk)"
if [ "$print_url" = 1 ]; then
    echo "postgres://gridwalk:${password}@127.0.0.1:${port}/gridwalk"
fi
