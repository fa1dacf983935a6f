#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing sparseclip need.
# Runs apt-get only when something is missing, so repeated runs are fast.
set -euo pipefail

PACKAGES=(
	build-essential
	postgresql-15
	postgresql-server-dev-15
	libopenblas-dev
	libturbojpeg0-dev
	libjpeg62-turbo-dev
	libpng-dev
	libwebp-dev
	libutf8proc-dev
	zlib1g-dev
	libipc-run-perl
	util-linux
	imagemagick
	gnuplot-nox
	wordnet-base
	nodejs
	wamerican
	fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

# npm fetches the demo's sample data (demo/run.sh, test/t/050_demo.pl); a
# Node.js that brings its own npm (NodeSource) needs no Debian npm.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
