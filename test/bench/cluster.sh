# test/bench/cluster.sh - source this to get a throwaway PostgreSQL cluster
# for a benchmark: run as root; the server runs as postgres on a unix socket
# in a temporary directory and is stopped when the calling script exits.
#
#   source "$(dirname "$0")/cluster.sh"
#   bench_start_cluster [extra postgres -c settings...]
#   psql -c 'SELECT 1'           # PGHOST, PGPORT, PGUSER, PGDATABASE are set
#
# BENCH_TMP is the cluster's directory (readable by postgres), for data files.
# BENCH_PORT (default 5433) lets two benchmarks run at once.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BENCH_BINDIR=$("$PG_CONFIG" --bindir)
export PATH="$BENCH_BINDIR:$PATH"

# bench_install_build DIR NAME [keep]: the build in DIR (sparseclip.so,
# sparseclip.control, sparseclip--*.sql, as `make` leaves them) installed
# as the extension NAME, so that other installs do not swap it during the
# run; bench_stop_cluster removes it, unless keep (a cluster that outlives
# the script: inverted_profile.sh).
BENCH_INSTALLED=()
bench_install_build() {
	local dir=$1 name=$2 keep=${3:-} sql libdir extdir
	libdir=$("$PG_CONFIG" --pkglibdir)
	extdir=$("$PG_CONFIG" --sharedir)/extension
	sql=$(cd "$dir" && ls sparseclip--*.sql | head -n 1)
	[ -f "$dir/sparseclip.so" ] && [ -n "$sql" ] || { echo "$dir: no built sparseclip.so and sparseclip--*.sql" >&2; exit 2; }
	[ "$keep" = keep ] || BENCH_INSTALLED+=("$libdir/$name.so" "$extdir/$name.control" "$extdir/${sql/sparseclip/$name}")
	install -m 755 "$dir/sparseclip.so" "$libdir/$name.so"
	sed "s|\\\$libdir/sparseclip'|\$libdir/$name'|" "$dir/sparseclip.control" > "$extdir/$name.control"
	install -m 644 "$dir/$sql" "$extdir/${sql/sparseclip/$name}"
}

bench_stop_cluster() {
	local f
	for f in "${BENCH_INSTALLED[@]}"; do rm -f "$f"; done
	if [ -n "${BENCH_TMP:-}" ] && [ -f "$BENCH_TMP/data/postmaster.pid" ]; then
		runuser -u postgres -- "$BENCH_BINDIR/pg_ctl" -D "$BENCH_TMP/data" -m fast stop >/dev/null 2>&1 || true
	fi
	[ -n "${BENCH_TMP:-}" ] && rm -rf "$BENCH_TMP"
}

bench_start_cluster() {
	BENCH_TMP=$(mktemp -d /tmp/sparseclip-bench.XXXXXX)
	chmod 755 "$BENCH_TMP"
	mkdir -p "$BENCH_TMP/sock"
	chown -R postgres: "$BENCH_TMP"
	trap bench_stop_cluster EXIT
	runuser -u postgres -- "$BENCH_BINDIR/initdb" -D "$BENCH_TMP/data" -A trust -E UTF8 --locale=C --no-sync >/dev/null
	local opts="-k $BENCH_TMP/sock -p ${BENCH_PORT:-5433} -c listen_addresses='' -c shared_buffers=2GB -c max_wal_size=8GB -c maintenance_work_mem=1GB -c work_mem=64MB -c checkpoint_timeout=30min"
	for o in "$@"; do opts="$opts -c $o"; done
	# BENCH_SERVER_ENV: the server's environment (OPENBLAS_NUM_THREADS=1
	# unless set; empty: a server's own, as a service manager starts it)
	runuser -u postgres -- env ${BENCH_SERVER_ENV-OPENBLAS_NUM_THREADS=1} "$BENCH_BINDIR/pg_ctl" -D "$BENCH_TMP/data" \
		-l "$BENCH_TMP/server.log" -w -o "$opts" start >/dev/null
	export PGHOST="$BENCH_TMP/sock" PGPORT=${BENCH_PORT:-5433} PGUSER=postgres PGDATABASE=postgres
}
