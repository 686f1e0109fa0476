#!/usr/bin/env bash
# test.sh runs every test of wacht on a fresh Debian machine: it installs
# what the tests use (PostgreSQL, rsyslog, syslog-ng, pinned Go tools),
# starts the services, runs `go test` on both modules and stops the services.
# `make test` and .ci/run call it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export WACHT_SHARED="${WACHT_SHARED:-$root/../shared}"
export GOTOOLCHAIN="${GOTOOLCHAIN_OVERRIDE:-auto}"  # the toolchain go.mod names

log() { echo "test.sh: $*" >&2; }

# Debian packages the tests drive as real peers.
need=()
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
updated=
apt_update() { [ -n "$updated" ] || { apt-get update -qq >&2 || true; updated=1; }; }
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	if [ "$(id -u)" = 0 ]; then
		apt_update
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
	else
		log "not root: cannot install ${need[*]}; tests that need them will fail"
	fi
fi
# syslog-ng conflicts with rsyslog as a package: unpack it beside instead.
sng="${TMPDIR:-/tmp}/wacht-syslog-ng"
if [ ! -x "$sng/usr/sbin/syslog-ng" ]; then
	log "unpacking syslog-ng into $sng"
	rm -rf "$sng" && mkdir -p "$sng/debs"
	apt_update
	( cd "$sng/debs" && apt-get download syslog-ng-core libivykis0 libnet1 libpcre3 libwrap0 >/dev/null 2>&1 ) || log "could not download syslog-ng; its test will fail"
	for d in "$sng"/debs/*.deb; do [ -f "$d" ] && dpkg -x "$d" "$sng"; done
fi
export WACHT_TEST_SYSLOG_NG="$sng"
export WACHT_REQUIRE_SHIPPERS=1

# Peers for the scaled-out shape, built at pinned versions from the Go
# module proxy (cached between runs).
VICTORIALOGS_VERSION=v1.52.1
NATS_SERVER_VERSION=v2.15.2
bin="${XDG_CACHE_HOME:-$HOME/.cache}/wacht-test-bin"
mkdir -p "$bin"
if [ ! -x "$bin/victoria-logs-$VICTORIALOGS_VERSION" ]; then
	log "building VictoriaLogs $VICTORIALOGS_VERSION"
	GOBIN="$bin/tmp" go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VICTORIALOGS_VERSION"
	mv "$bin/tmp/victoria-logs" "$bin/victoria-logs-$VICTORIALOGS_VERSION"
fi
if [ ! -x "$bin/nats-server-$NATS_SERVER_VERSION" ]; then
	log "building nats-server $NATS_SERVER_VERSION"
	GOBIN="$bin/tmp" go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
	mv "$bin/tmp/nats-server" "$bin/nats-server-$NATS_SERVER_VERSION"
fi
export WACHT_TEST_VICTORIALOGS="$bin/victoria-logs-$VICTORIALOGS_VERSION"
export WACHT_TEST_NATS_SERVER="$bin/nats-server-$NATS_SERVER_VERSION"
export WACHT_REQUIRE_VICTORIALOGS=1 WACHT_REQUIRE_SCALEOUT=1

# The console's browser bundle (npm, pinned by web/package-lock.json),
# embedded by the builds below; the browser test drives Debian's chromium.
log "bundling the console (make web)"
make -s web >&2
export WACHT_REQUIRE_CHROMIUM=1

eval "$(scripts/postgres-test.sh start)"
export WACHT_REQUIRE_POSTGRES=1
trap 'scripts/postgres-test.sh stop >/dev/null 2>&1 || true' EXIT

status=0
log "go test ./... (product module)"
go test -count=1 -timeout 25m ./... || status=1
log "go test ./... (bench module)"
(cd bench && go test -count=1 -timeout 10m ./...) || status=1
exit $status
