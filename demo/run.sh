#!/usr/bin/env bash
# The main job in one command: on a fresh Debian 12 machine, as root, from
# the repository root:
#
#   bash demo/run.sh
#
# installs what it needs (Debian packages; npm for the sample data), builds
# and installs the extension, starts a throwaway cluster (or uses the one
# named by PGHOST / PGPORT / PGDATABASE when any is set), loads the Twemoji
# sample table, embeds it with the bulk embedder, builds the inverted index,
# searches it by text, explains the matches, and writes a page and a contact
# sheet (demo/demo.sh does all of that; see doc/demo.md).  The throwaway
# cluster is stopped on exit, failed or not.
#
# It uses the installed default model (models/default.safetensors, which
# make install installs); SPARSECLIP_MODEL=/path/to/model.safetensors uses
# another model file.  Other settings: see demo/demo.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# The model file that make install installs as the default.
DEFAULT_MODEL=models/default.safetensors
start=$(date +%s)
say() { echo "run.sh: $*"; }
die() { echo "run.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and the extension)"

# Fail before minutes of installing when there is no model to show.
if [ -n "${SPARSECLIP_MODEL:-}" ]; then
	[ -r "$SPARSECLIP_MODEL" ] || die "SPARSECLIP_MODEL=$SPARSECLIP_MODEL: no such readable file"
	SPARSECLIP_MODEL=$(cd "$(dirname "$SPARSECLIP_MODEL")" && pwd)/$(basename "$SPARSECLIP_MODEL")
elif [ ! -f "$ROOT/$DEFAULT_MODEL" ]; then
	die "this checkout has no default model ($DEFAULT_MODEL), so there is nothing to install and show;
set SPARSECLIP_MODEL=/path/to/model.safetensors to run the demo with another model file"
fi

say "installing the Debian packages it needs"
bash "$ROOT/test/install-deps.sh"

say "building the extension"
built=$(date +%s)
make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" >/dev/null
say "built in $(( $(date +%s) - built )) s"

# Installing is machine-wide, and so is using the install: one at a time
# with the tests (test/run-all.sh takes the same lock).
exec 9>/tmp/sparseclip-test.lock
if ! flock -n 9; then
	say "waiting for /tmp/sparseclip-test.lock (a test run or another demo holds it)"
	waited=$(date +%s)
	flock 9
	say "waited $(( $(date +%s) - waited )) s for the lock"
fi
say "installing the extension"
make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null

BINDIR=$("$PG_CONFIG" --bindir)
export PATH="$BINDIR:$PATH"
TMP=
cleanup() {
	if [ -n "$TMP" ]; then
		if [ -f "$TMP/data/postmaster.pid" ]; then
			runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -m fast stop >/dev/null 2>&1 ||
				runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
		fi
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}" ]; then
	say "using the cluster at ${PGHOST:-(default socket)} port ${PGPORT:-5432}, database ${PGDATABASE:-(default)} to connect"
else
	say "starting a throwaway cluster"
	TMP=$(mktemp -d /tmp/sparseclip-demo.XXXXXX)
	chmod 755 "$TMP"
	mkdir -p "$TMP/sock"
	chown -R postgres: "$TMP"
	runuser -u postgres -- "$BINDIR/initdb" -D "$TMP/data" -A trust -E UTF8 --locale=C --no-sync >"$TMP/initdb.log" 2>&1 ||
		{ cat "$TMP/initdb.log"; die "initdb failed"; }
	port=$((20000 + RANDOM % 20000))
	runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w \
		-o "-k $TMP/sock -p $port -c listen_addresses='' -c fsync=off -c shared_buffers=256MB" start >/dev/null ||
		{ cat "$TMP/server.log"; die "the cluster did not start"; }
	export PGHOST=$TMP/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres
	# The server reads the model file as postgres.
	if [ -n "${SPARSECLIP_MODEL:-}" ] && ! runuser -u postgres -- test -r "$SPARSECLIP_MODEL"; then
		cp "$SPARSECLIP_MODEL" "$TMP/model.safetensors"
		chown postgres: "$TMP/model.safetensors"
		SPARSECLIP_MODEL=$TMP/model.safetensors
	fi
fi
export SPARSECLIP_MODEL

status=0
bash "$ROOT/demo/demo.sh" || status=$?
if [ $status -ne 0 ] && [ -n "$TMP" ]; then
	echo "--- server log (last lines)"
	tail -n 20 "$TMP/server.log"
fi
say "finished in $(( $(date +%s) - start )) s, status $status"
exit $status
