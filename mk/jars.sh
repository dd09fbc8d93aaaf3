#!/bin/sh
# The Hadoop Azure connector and its runtime dependencies for Spark, from Maven Central
# by coordinates: each jar is checked against the .sha1 Maven Central publishes and
# against the SHA-256 pinned here, then put into Spark's jars/ folder. Used by the
# Makefile's `spark` target (the local venv) and by the Dockerfile (the image).
# Leaves out what pyspark's own jars already carry (hadoop-client-api/-runtime 3.3.4,
# hadoop-shaded-guava, httpclient, jackson 1.x and 2.x, commons-lang3, slf4j) and
# wildfly-openssl's native libraries (abfs falls back to the JDK's TLS without them).
# Usage: mk/jars.sh install DIR   fetch what DIR lacks, verify, install (idempotent)
#        mk/jars.sh list          the jar file names, one a line
# Environment: MAVEN_REPO (default https://repo1.maven.org/maven2), CURL_CA_BUNDLE.
set -eu

REPO=${MAVEN_REPO:-https://repo1.maven.org/maven2}

# group:artifact:version sha256 (hadoop-azure's version is pyspark 3.5.7's Hadoop)
JARS='
org.apache.hadoop:hadoop-azure:3.3.4 37adcc23d4db068834acf2b21b6931b609a43cf0a9b4926c440f472af7abad01
com.microsoft.azure:azure-storage:7.0.1 32249cf9b550e247e257c0a508f93526d35e072509aa637fd33b3d54e267b1e2
com.microsoft.azure:azure-keyvault-core:1.0.0 d8c6ca5bc1c50fd2c74d81b8731b67aa72fa5c9e086623439ba4e950138937a0
org.eclipse.jetty:jetty-util-ajax:9.4.43.v20210629 40db3ae087aeea91aa85d2b3d8fdbf40174d44d4c1cef25d2890e096b51d24f8
org.eclipse.jetty:jetty-util:9.4.43.v20210629 62786c3f838354a35fa7b66c8e9e7be968185ade18ed6b81c17f0e2e1ea225a0
org.wildfly.openssl:wildfly-openssl:1.0.7.Final 9f7058778978ec2ad90c7224401a4b0013d93e0dd3fa0f72b25244ffa3507ca8
'

say() { printf 'jars: %s\n' "$*" >&2; }

# each FN: calls FN COORDINATES SHA256 FILE-NAME PATH-IN-REPO for every jar.
each() {
	echo "$JARS" | while read -r coord sum; do
		[ -n "$coord" ] || continue
		g=${coord%%:*} rest=${coord#*:}
		a=${rest%%:*} v=${rest#*:}
		"$1" "$coord" "$sum" "$a-$v.jar" "$(echo "$g" | tr . /)/$a/$v/$a-$v.jar"
	done
}

list_one() { echo "$3"; }

install_one() {
	if [ -f "$dir/$3" ] && echo "$2  $dir/$3" | sha256sum -c - >/dev/null 2>&1; then
		return 0
	fi
	say "fetching $1"
	tmp=$dir/.$3.part
	rm -f "$tmp"
	curl -fsSL --retry 3 -o "$tmp" "$REPO/$4" || { say "fatal: cannot fetch $REPO/$4"; rm -f "$tmp"; exit 1; }
	sha1=$(curl -fsSL --retry 3 "$REPO/$4.sha1") ||
		{ say "fatal: cannot fetch $REPO/$4.sha1"; rm -f "$tmp"; exit 1; }
	sha1=$(echo "$sha1" | cut -c1-40)
	if ! echo "$sha1  $tmp" | sha1sum -c - >/dev/null 2>&1; then
		say "fatal: $3 does not match Maven Central's SHA-1 $sha1"
		rm -f "$tmp"
		exit 1
	fi
	if ! echo "$2  $tmp" | sha256sum -c - >/dev/null 2>&1; then
		say "fatal: $3 does not match the SHA-256 pinned in mk/jars.sh"
		rm -f "$tmp"
		exit 1
	fi
	mv "$tmp" "$dir/$3"
}

case ${1:-} in
list) each list_one ;;
install)
	[ $# -eq 2 ] || { echo "usage: mk/jars.sh install DIR" >&2; exit 64; }
	dir=$2
	[ -d "$dir" ] || { say "fatal: no folder $dir"; exit 1; }
	each install_one
	;;
*) echo "usage: mk/jars.sh install DIR | list" >&2; exit 64 ;;
esac
