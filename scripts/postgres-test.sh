#!/usr/bin/env bash
# postgres-test.sh starts a throwaway PostgreSQL for the test suite and stops it.
#
#   eval "$(scripts/postgres-test.sh start)"   # exports WACHT_TEST_POSTGRES_DSN
#   go test ./...
#   scripts/postgres-test.sh stop
#
# start installs Debian's postgresql package when the server binaries are
# missing (needs root for apt-get), creates a cluster in a temporary data
# directory owned by an unprivileged user (the server refuses to run as root),
# listens on 127.0.0.1 only, creates the database and prints shell exports on
# stdout (everything else goes to stderr). It is idempotent: a second start
# reuses the running server. stop shuts it down and removes the data directory.
# status prints whether it runs.
#
# Environment: WACHT_PG_PORT (default 55432), WACHT_PG_DIR (default
# ${TMPDIR:-/tmp}/wacht-postgres-test), WACHT_PG_DB (default wacht_test),
# WACHT_PG_USER (OS user to run the server as when root, default postgres).
set -euo pipefail

PORT="${WACHT_PG_PORT:-55432}"
BASE="${WACHT_PG_DIR:-${TMPDIR:-/tmp}/wacht-postgres-test}"
DB="${WACHT_PG_DB:-wacht_test}"
RUN_AS="${WACHT_PG_USER:-postgres}"
DATA="$BASE/data"
SOCK="$BASE/sock"
LOG="$BASE/postgres.log"

log() { echo "postgres-test: $*" >&2; }
die() { log "$*"; exit 1; }

# find_bindir prints the directory holding initdb and pg_ctl, newest version first.
find_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	done
	if command -v pg_config >/dev/null 2>&1; then
		d="$(pg_config --bindir)"
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	fi
	return 1
}

install_server() {
	if [ "$(id -u)" -ne 0 ]; then
		die "PostgreSQL server binaries not found and not root: install the postgresql package (apt-get install -y postgresql)"
	fi
	log "installing postgresql from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	# The package's postinst creates and starts a default cluster on port 5432;
	# policy-rc.d keeps it from starting a service we do not want.
	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		created_policy=1
	fi
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
	if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
}

# as_user runs a command as the server's OS user when we are root.
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RUN_AS" -- "$@"
	else
		"$@"
	fi
}

dsn() {
	echo "postgres://wacht@127.0.0.1:$PORT/$DB?sslmode=disable"
}

running() {
	[ -f "$DATA/postmaster.pid" ] && as_user "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ready() {
	"$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U wacht -d postgres >/dev/null 2>&1
}

start() {
	BINDIR="$(find_bindir)" || { install_server; BINDIR="$(find_bindir)" || die "initdb not found after install"; }
	if [ "$(id -u)" -eq 0 ]; then
		id "$RUN_AS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
	fi
	mkdir -p "$BASE"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$RUN_AS" "$BASE"
		# the server user must be able to reach the folder
		chmod 0755 "$BASE"
	fi

	if running; then
		log "already running on 127.0.0.1:$PORT (data $DATA)"
	else
		if [ ! -f "$DATA/PG_VERSION" ]; then
			rm -rf "$DATA"
			log "initdb $DATA"
			as_user "$BINDIR/initdb" -D "$DATA" -U wacht --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >"$BASE/initdb.log" 2>&1 ||
				{ cat "$BASE/initdb.log" >&2; die "initdb failed"; }
		fi
		# a stale pid file from a killed server blocks the start
		if [ -f "$DATA/postmaster.pid" ]; then
			log "removing stale postmaster.pid"
			rm -f "$DATA/postmaster.pid"
		fi
		as_user mkdir -p "$SOCK"
		log "starting $BINDIR/postgres on 127.0.0.1:$PORT"
		as_user "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >&2 || { tail -n 30 "$LOG" >&2 || true; die "server did not start"; }
	fi

	for _ in $(seq 1 60); do
		ready && break
		sleep 0.5
	done
	ready || die "server on 127.0.0.1:$PORT is not ready"

	if ! "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U wacht -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
		"$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U wacht -d postgres -qc "CREATE DATABASE $DB" >&2
	fi
	log "ready: $(dsn)"
	echo "export WACHT_TEST_POSTGRES_DSN='$(dsn)'"
}

stop() {
	BINDIR="$(find_bindir)" || { log "no PostgreSQL installed; nothing to stop"; rm -rf "$BASE"; return 0; }
	if running; then
		as_user "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2
		log "stopped"
	else
		log "not running"
	fi
	rm -rf "$BASE"
}

status() {
	BINDIR="$(find_bindir)" || { echo "not installed"; return 1; }
	if running; then echo "running: $(dsn)"; else echo "not running"; return 1; fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
dsn) dsn ;;
*)
	echo "usage: $0 start|stop|status|dsn" >&2
	exit 2
	;;
esac
