#!/bin/bash
# The official postgres image's contract, for a Debian-built image: POSTGRES_USER,
# POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), POSTGRES_DB, POSTGRES_INITDB_ARGS,
# POSTGRES_HOST_AUTH_METHOD and the scripts in /docker-entrypoint-initdb.d (*.sh, *.sql,
# *.sql.gz) on the first start of an empty PGDATA. The server runs as the postgres user.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(< "$POSTGRES_PASSWORD_FILE")
  fi
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" \
         "(or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of flags, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    $POSTGRES_INITDB_ARGS -D "$PGDATA" >/dev/null
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  shopt -s nullglob
  scripts=(/docker-entrypoint-initdb.d/*)
  if [ "$POSTGRES_DB" != postgres ] || [ ${#scripts[@]} -gt 0 ]; then
    # a temporary server on the unix socket only: nobody can connect before the scripts ran
    pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start
    export PGUSER="$POSTGRES_USER" PGHOST=/var/run/postgresql
    psql=(psql -v ON_ERROR_STOP=1 -X -q --no-password)
    if [ "$POSTGRES_DB" != postgres ]; then
      "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in "${scripts[@]}"; do
      case "$f" in
        *.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
        *.sql) "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
        *) echo "ignoring $f" >&2 ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w -s stop
    unset PGUSER PGHOST
  fi
fi

exec "$@"
