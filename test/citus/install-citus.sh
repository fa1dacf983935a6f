#!/usr/bin/env bash
# Builds Citus from the shared source tarball and installs it into the local
# PostgreSQL 15, for test/citus/run.sh.  Citus is a test tool: nothing of it
# is part of sparseclip.  Run as root; it takes 10 to 30 minutes on two cores.
#
#   bash test/citus/install-citus.sh [BUILD_DIR]
#
# The tarball is looked for in $CITUS_SRC_TAR, else ../shared/tools/citus/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TAR=${CITUS_SRC_TAR:-$(cd "$ROOT/.." && pwd)/shared/tools/citus/citus-13.2.2.tar.gz}
SHA256=dd2453caec20a830e5e63f1def5c5a98cb6f57ae510407cdcd800916fcdab430
BUILD=${1:-$(mktemp -d /tmp/citus-build.XXXXXX)}

if [ "$(id -u)" -ne 0 ]; then
	echo "install-citus.sh: run as root" >&2
	exit 2
fi
if [ ! -f "$TAR" ]; then
	echo "install-citus.sh: no Citus source at $TAR" >&2
	exit 1
fi
echo "$SHA256  $TAR" | sha256sum -c --quiet - || { echo "install-citus.sh: checksum mismatch" >&2; exit 1; }

# Debian packages Citus needs beyond what sparseclip needs.
missing=()
for p in postgresql-server-dev-15 libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-citus: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$BUILD"
tar -xzf "$TAR" -C "$BUILD"
SRC=$(find "$BUILD" -maxdepth 1 -type d -name 'citus-*' | head -n1)
cd "$SRC"

# PostgreSQL 15.20's headers declare have_createdb_privilege(); Citus 13.2.2
# defines its own static copy for versions before 16.  Rename Citus's copy.
compat=src/include/pg_version_compat.h
perl -0pi -e 's/static inline bool\nhave_createdb_privilege\(void\)/#define have_createdb_privilege citus_compat_have_createdb_privilege\nstatic inline bool\nhave_createdb_privilege(void)/ unless /citus_compat_have_createdb_privilege/' "$compat"
# The configure script is pre-generated: keep make from running autoreconf.
touch configure

./configure PG_CONFIG="$PG_CONFIG" >configure.log 2>&1 || { tail -n 40 configure.log; exit 1; }
# with_llvm=no: skip the JIT bitcode, the slow part, which tests do not need.
make -j2 with_llvm=no >make.log 2>&1 || { tail -n 60 make.log; exit 1; }
make with_llvm=no install >install.log 2>&1 || { tail -n 40 install.log; exit 1; }
echo "install-citus: installed $(basename "$SRC") into $("$PG_CONFIG" --pkglibdir)"
