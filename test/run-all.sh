#!/usr/bin/env bash
# Runs every sparseclip test: the README's test command, and what .ci/run calls.
#
# On a fresh Debian 12 machine, as root: installs the packages, builds with
# warnings as errors, installs the extension, runs the C unit tests, starts a
# throwaway cluster as the postgres user on a unix socket in a temporary
# directory, runs pg_regress and the TAP tests, and always stops the cluster
# and cleans up.  Exits non-zero on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SHARED_DATA=${SPARSECLIP_SHARED_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
export SPARSECLIP_SHARED_DATA=$SHARED_DATA
export OPENBLAS_NUM_THREADS=1

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all.sh: run as root (it installs packages and the extension)" >&2
	exit 2
fi

bash "$ROOT/test/install-deps.sh" || { echo "run-all.sh: package installation failed" >&2; exit 1; }

# Installing the extension is machine-wide: one test run at a time.
exec 9>/tmp/sparseclip-test.lock
flock 9

BINDIR=$("$PG_CONFIG" --bindir)
PGXS_DIR=$("$PG_CONFIG" --pkglibdir)/pgxs
PG_REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
TMP=$(mktemp -d /tmp/sparseclip-test.XXXXXX)
chmod 755 "$TMP"

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); }

cleanup() {
	if [ -f "$TMP/data/postmaster.pid" ]; then
		runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build"
if ! make -C "$ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" >"$TMP/build.log" 2>&1 ||
   ! make -C "$ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" install >>"$TMP/build.log" 2>&1 ||
   ! make -C "$ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" tools >>"$TMP/build.log" 2>&1; then
	cat "$TMP/build.log"
	echo "run-all.sh: build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# The extension opens OpenBLAS itself on first use (src/blas_loader.c) and
# defines the one BLAS function the shared core calls; any other would be an
# undefined symbol that only shows when the library is loaded.
echo "== the extension's BLAS symbols"
if undefined=$(nm -D --undefined-only "$ROOT/sparseclip.so" | grep -E ' (cblas_|openblas_|gotoblas)'); then
	echo "$undefined"
	echo "run-all.sh: sparseclip.so needs BLAS symbols that src/blas_loader.c does not provide"
	fail "build/blas-symbols"
else
	pass
fi

echo "== C unit tests"
for src in "$ROOT"/test/unit/test_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	if ! make -C "$ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" "test/unit/bin/$name" >"$TMP/unit-$name.log" 2>&1; then
		cat "$TMP/unit-$name.log"
		fail "unit/$name (build)"
		continue
	fi
	if (cd "$ROOT" && timeout 600 "test/unit/bin/$name"); then pass; else fail "unit/$name"; fi
done

echo "== script tests"
for t in "$ROOT"/training/test.sh "$ROOT"/training/test_*.sh "$ROOT"/training/data/test_*.sh; do
	[ -e "$t" ] || continue
	if timeout 300 bash "$t"; then pass; else fail "script/${t#$ROOT/}"; fi
done

# Everything the server side or the postgres user reads is copied where
# postgres can read it, whatever the permissions of the checkout.
mkdir -p "$TMP/src" "$TMP/sock" "$TMP/regress" "$TMP/tap"
cp -r "$ROOT/sql" "$ROOT/expected" "$ROOT/test" "$ROOT/demo" "$TMP/src/"
# the default model the checkout ships, if any (013_default_model.pl compares it with the installed one)
if [ -d "$ROOT/models" ]; then cp -r "$ROOT/models" "$TMP/src/"; fi
chown -R postgres: "$TMP"

echo "== start a throwaway cluster"
runuser -u postgres -- "$BINDIR/initdb" -D "$TMP/data" -A trust -E UTF8 --locale=C --no-sync >"$TMP/initdb.log" 2>&1 ||
	{ cat "$TMP/initdb.log"; echo "0 passed, 1 failed"; exit 1; }
PORT=$((20000 + RANDOM % 20000))
runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 "$BINDIR/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w \
	-o "-k $TMP/sock -p $PORT -c listen_addresses='' -c fsync=off" start >/dev/null ||
	{ cat "$TMP/server.log"; echo "0 passed, 1 failed"; exit 1; }

echo "== pg_regress"
tests=$(cd "$ROOT/sql" && ls *.sql 2>/dev/null | sed 's/\.sql$//' | sort)
if [ -n "$tests" ]; then
	runuser -u postgres -- env PGOPTIONS="-c sparseclip_test.fixtures=$TMP/src/test/fixtures -c sparseclip_test.shared_data=$SHARED_DATA" \
		timeout 900 "$PG_REGRESS" --inputdir="$TMP/src" --outputdir="$TMP/regress" \
		--bindir="$BINDIR" --host="$TMP/sock" --port="$PORT" --user=postgres \
		--load-extension=sparseclip --dbname=contrib_regression $tests 2>&1 | tee "$TMP/regress.log"
	regress_status=${PIPESTATUS[0]}
	# For writing expected files: keep the actual outputs where asked.
	if [ -n "${SPARSECLIP_RESULTS_DIR:-}" ]; then
		mkdir -p "$SPARSECLIP_RESULTS_DIR" && cp "$TMP"/regress/results/*.out "$SPARSECLIP_RESULTS_DIR/" 2>/dev/null
	fi
	while read -r line; do
		name=$(echo "$line" | sed -E 's/^(test)? *([^ ]+) +\.\.\..*/\2/')
		case "$line" in
			*"... ok"*) pass ;;
			*) fail "regress/$name" ;;
		esac
	done < <(grep -E ' \.\.\. (ok|FAILED|failed)' "$TMP/regress.log")
	[ -f "$TMP/regress/regression.diffs" ] && cat "$TMP/regress/regression.diffs"
	if [ "$regress_status" -ne 0 ] && ! grep -qE ' \.\.\. (FAILED|failed)' "$TMP/regress.log"; then
		fail "regress (pg_regress exit $regress_status)"
	fi
fi

echo "== TAP tests"
for f in "$ROOT"/test/t/*.pl; do
	[ -e "$f" ] || continue
	name=$(basename "$f")
	runuser -u postgres -- env PATH="$BINDIR:$PATH" \
		PERL5LIB="$PGXS_DIR/src/test/perl" PG_REGRESS="$PG_REGRESS" \
		TESTDIR="$TMP/tap/$name" SPARSECLIP_SHARED_DATA="$SHARED_DATA" \
		SPARSECLIP_FIXTURES="$TMP/src/test/fixtures" SPARSECLIP_TOOLS="$TMP/src/test/tools/bin" \
		OPENBLAS_NUM_THREADS=1 bash -c "mkdir -p '$TMP/tap/$name' && cd '$TMP/src/test' && timeout 900 prove -v 't/$name'" >"$TMP/prove.log" 2>&1
	status=$?
	grep -vE '^ok [0-9]' "$TMP/prove.log" | grep -vE '^(All tests successful|Files=|Result: PASS)' | tail -n 40
	if [ $status -eq 0 ]; then
		echo "tap/$name ... ok"
		pass
	else
		echo "tap/$name ... FAILED"
		for log in "$TMP/tap/$name"/tmp_check/log/*; do
			[ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
		done
		fail "tap/$name"
	fi
done

echo
if [ $failed -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
