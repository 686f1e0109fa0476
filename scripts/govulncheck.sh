#!/usr/bin/env bash
# govulncheck.sh runs govulncheck against an offline vulnerability database
# built from the golang.org/x/vulndb module (pinned below), so `make check`
# needs no network beyond the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
db="${TMPDIR:-/tmp}/wacht-vulndb-$VULNDB_VERSION"
if [ ! -f "$db/index/db.json" ]; then
	src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	[ -d "$src/data/osv" ] || { echo "govulncheck.sh: no OSV data in golang.org/x/vulndb@$VULNDB_VERSION" >&2; exit 1; }
	rm -rf "$db.tmp"
	GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
fi
exec go tool govulncheck -db "file://$db" ./...
