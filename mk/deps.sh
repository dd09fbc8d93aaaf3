#!/bin/sh
# Installs what Legion's build and tests need, from Debian's archive only, and builds
# the static third-party libraries (BearSSL, libcurl) with musl-gcc into a cache
# folder, once. Leaves alone: anything already built (delete $LEGION_DEPS to rebuild).
# Usage: mk/deps.sh [packages|libs|all|fuzz]
set -eu

DEPS=${LEGION_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/deps}
CURL_VERSION=8.14.1
what=${1:-all}

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

PKGS="build-essential musl-tools bats jq openssl ca-certificates libjsmn-dev dpkg-dev
      pkg-config libbearssl-dev libcurl4-openssl-dev valgrind hyperfine clang-format
      python3 python3-venv openjdk-17-jre-headless procps iproute2 xz-utils file bc time
      util-linux curl mandoc zsh parallel"

# `make fuzz` only: clang and its libFuzzer and sanitizer runtimes.
FUZZ_PKGS="clang libclang-rt-14-dev"

say() { printf 'deps: %s\n' "$*" >&2; }

packages() {
	missing=
	for p in ${1:-$PKGS}; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing="$missing $p"
	done
	if [ -n "$missing" ] || ! sources_ok; then
		add_sources
		say "apt-get install$missing"
		$SUDO apt-get update -qq
		[ -z "$missing" ] || $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
}

# deb-src lines: bookworm for BearSSL, trixie for curl 8.14.1 (bookworm's 7.88.1 stalls
# every BearSSL handshake for about a second).
SRCLIST=/etc/apt/sources.list.d/legion-src.sources
sources_ok() { [ -f "$SRCLIST" ]; }
add_sources() {
	sources_ok && return 0
	say "adding deb-src lines in $SRCLIST"
	printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
		'Suites: bookworm trixie' 'Components: main' \
		'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
		$SUDO tee "$SRCLIST" >/dev/null
}

# fetch_source PKG VERSION-PREFIX: apt-get source into $DEPS/src, newest revision first.
# The archive's index can run ahead of its pool (the newest .dsc 404s): then older
# revisions are tried, and last the upstream tarball that all revisions share, checked
# against the index's SHA256.
fetch_source() {
	cd "$DEPS/src"
	unpacked() { ls -d "$1"-*/ >/dev/null 2>&1; }
	unpacked "$1" && return 0
	for v in $(apt-cache showsrc "$1" | sed -n 's/^Version: //p' | grep "^$2" | sort -r -V); do
		apt-get source -qq "$1=$v" >/dev/null 2>&1 || true
		unpacked "$1" && return 0
		say "apt-get source $1=$v did not unpack; trying an older revision"
	done
	file=$(ls "$1"_"$2"*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1)
	if [ -z "$file" ]; then
		v=$(apt-cache showsrc "$1" | sed -n 's/^Version: //p' | grep "^$2" | sort -r -V | head -n 1)
		line=$(apt-get source --print-uris -qq "$1=$v" | grep "/$1_[^/']*\.orig\.tar\.[a-z]*'" | head -n 1)
		[ -n "$line" ] || { say "fatal: no source of $1 $2 in Debian's archive"; exit 1; }
		file=$(echo "$line" | cut -d' ' -f2)
		sum=$(echo "$line" | sed -n 's/.*SHA256:\([0-9a-f]*\).*/\1/p')
		curl -fsSL -o "$file" "$(echo "$line" | cut -d"'" -f2)"
		echo "$sum  $file" | sha256sum -c - >/dev/null
	fi
	say "unpacking $file"
	tar -xf "$file"
	unpacked "$1" || { say "fatal: $file did not unpack to $1-*"; exit 1; }
}

bearssl() {
	[ -f "$DEPS/lib/libbearssl.a" ] && return 0
	fetch_source bearssl 0.6
	dir=$(ls -d "$DEPS"/src/bearssl-*/ | head -n 1)
	say "building BearSSL with musl-gcc in $dir"
	make -C "$dir" -s lib CONF=Unix CC=musl-gcc LD=musl-gcc \
		CFLAGS='-W -Wall -Os -fPIC -ffunction-sections -fdata-sections' >/dev/null
	mkdir -p "$DEPS/lib" "$DEPS/include/bearssl"
	cp "$dir/build/libbearssl.a" "$DEPS/lib/"
	cp "$dir"/inc/*.h "$DEPS/include/bearssl/"
}

libcurl() {
	[ -f "$DEPS/lib/libcurl.a" ] && return 0
	fetch_source curl "$CURL_VERSION"
	dir=$(ls -d "$DEPS"/src/curl-*/ | head -n 1)
	say "building libcurl $CURL_VERSION with musl-gcc and BearSSL in $dir"
	cd "$dir"
	CC=musl-gcc CFLAGS='-Os -ffunction-sections -fdata-sections' \
	CPPFLAGS="-I$DEPS/include/bearssl" LDFLAGS="-L$DEPS/lib" \
	./configure -q --prefix="$DEPS" --disable-shared --enable-static \
		--with-bearssl --without-libpsl --without-zlib --without-brotli \
		--without-zstd --without-libidn2 --without-nghttp2 --without-libssh2 \
		--without-librtmp --disable-ldap --disable-ldaps --disable-rtsp \
		--disable-dict --disable-telnet --disable-tftp --disable-pop3 \
		--disable-imap --disable-smtp --disable-gopher --disable-mqtt \
		--disable-smb --disable-file --disable-ftp --disable-manual --disable-docs \
		--disable-alt-svc --disable-hsts --disable-cookies --disable-mime \
		--disable-form-api --disable-netrc --disable-dnsshuffle \
		--disable-get-easy-options --disable-doh --disable-ntlm \
		--disable-kerberos-auth --disable-negotiate-auth --disable-aws \
		--disable-websockets --disable-headers-api --disable-bindlocal \
		--disable-unix-sockets --disable-ipfs --disable-sha512-256 \
		--disable-progress-meter --disable-digest-auth --disable-libcurl-option \
		--disable-verbose --without-ca-bundle --without-ca-path \
		--enable-ipv6 --enable-threaded-resolver >/dev/null
	make -s -C lib -j"$(nproc)" >/dev/null
	make -s -C lib install >/dev/null
	make -s -C include install >/dev/null
}

libs() {
	mkdir -p "$DEPS/src"
	bearssl
	libcurl
	# jsmn.h beside our private headers: musl-gcc must never see /usr/include.
	cp /usr/include/jsmn.h "$DEPS/include/jsmn.h"
}

case $what in
packages) packages ;;
libs) libs ;;
all) packages; libs ;;
fuzz) packages "$FUZZ_PKGS" ;;
*) echo "usage: mk/deps.sh [packages|libs|all|fuzz]" >&2; exit 64 ;;
esac
