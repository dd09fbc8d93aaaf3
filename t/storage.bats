#!/usr/bin/env bats
# Azure Blob storage from a Spark job, end to end against Azurite (the Azure Storage
# emulator, `make spark` installs it from npm): the test makes a container and a blob,
# `legion submit` on the local backend runs a PySpark job that reads the blob through
# wasb:// and writes its result back, and the test reads the result blob. Also: the
# Hadoop Azure connector's jars are in the venv's Spark, and mk/jars.sh refuses a jar
# whose checksum does not match.
# The connector's emulator mode (fs.azure.storage.emulator.account.name) always talks
# to http://127.0.0.1:10000, so Azurite listens there: like the Spark ports, one run at
# a time (the test lock).

load test_helper

EMULATOR_CONF=spark.hadoop.fs.azure.storage.emulator.account.name=devstoreaccount1.blob.core.windows.net
BLOB=http://127.0.0.1:10000

setup_file() {
	local version
	version=$(sed -n 's/^AZURITE_VERSION = //p' "$ROOT/Makefile")
	AZURITE=${LEGION_AZURITE:-$(dirname "$LEGION_CACHE_VENV")/azurite-$version/node_modules/.bin/azurite-blob}
	export AZURITE
	[ -x "$AZURITE" ] && [ -d "$LEGION_CACHE_VENV" ] || return 0
	if curl -s -o /dev/null "$BLOB/"; then
		echo "127.0.0.1:10000 is taken: the connector's emulator mode needs it for Azurite" >&2
		return 1
	fi
	mkdir -p "$BATS_FILE_TMPDIR/azurite"
	# no telemetry (it would leave the machine), nothing kept on disk
	(cd "$BATS_FILE_TMPDIR/azurite" && exec "$AZURITE" --skipApiVersionCheck \
		--disableTelemetry --inMemoryPersistence --blobHost 127.0.0.1 --blobPort 10000 \
		>azurite.log 2>&1) &
	echo $! >"$BATS_FILE_TMPDIR/azurite.pid"
	wait_for -t 30 curl -s -o /dev/null "$BLOB/" || {
		cat "$BATS_FILE_TMPDIR/azurite/azurite.log" >&2
		return 1
	}
}

teardown_file() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/azurite.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait_for -t 10 eval "! kill -0 $pid 2>/dev/null"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

need_spark() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	[ -x "$AZURITE" ] || skip "no Azurite at $AZURITE (make spark)"
}

pyspark_jars() {
	echo "$("$LEGION_CACHE_VENV/bin/python3" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/jars"
}

@test "a job reads a blob through wasb:// and writes its result blob back" {
	need_spark
	printf 'the cat and the dog\nthe end\n' >words.txt
	"$ROOT/t/blob" "$BLOB" mkcontainer books
	"$ROOT/t/blob" "$BLOB" put books in/words.txt words.txt
	local url=wasb://books@devstoreaccount1.blob.core.windows.net
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		--conf "$EMULATOR_CONF" "$ROOT/examples/storage_wordcount.py" \
		"$url/in/words.txt" "$url/out"
	echo "$stderr" | grep -E '^legion:|Exception' | head -20
	[ "$status" -eq 0 ]
	local want
	want=$(printf '%s\n' 'the 3' 'and 1' 'cat 1' 'dog 1' 'end 1')
	[ "$output" = "$want" ]
	# the result, read back from the storage account rather than from the job
	run "$ROOT/t/blob" "$BLOB" ls books out/
	[ "$status" -eq 0 ]
	echo "$output"
	[[ $output == *"out/_SUCCESS 0"* ]]
	local part
	part=$(grep -o '^out/part-[^ ]*' <<<"$output")
	[ "$(wc -l <<<"$part")" -eq 1 ]
	run "$ROOT/t/blob" "$BLOB" get books "$part"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}

@test "a wasb:// read of a blob that does not exist fails the job with the path" {
	need_spark
	"$ROOT/t/blob" "$BLOB" mkcontainer empty
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		--conf "$EMULATOR_CONF" "$ROOT/examples/storage_wordcount.py" \
		wasb://empty@devstoreaccount1.blob.core.windows.net/nothing.txt \
		wasb://empty@devstoreaccount1.blob.core.windows.net/out
	[ "$status" -ne 0 ]
	[ "$status" -lt 64 ]
	[[ "$output$stderr" == *"Path does not exist: wasb://empty@devstoreaccount1.blob.core.windows.net/nothing.txt"* ]]
	run "$ROOT/t/blob" "$BLOB" ls empty
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the venv's Spark has the Hadoop Azure connector of its own Hadoop version" {
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	local jars j
	jars=$(pyspark_jars)
	# hadoop-azure matches pyspark's own Hadoop client jars
	ls "$jars" | grep -qx 'hadoop-client-api-3.3.4.jar'
	run sh "$ROOT/mk/jars.sh" list
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = hadoop-azure-3.3.4.jar ]
	for j in "${lines[@]}"; do
		[ -f "$jars/$j" ] || { echo "missing: $j"; false; }
	done
}

# fake_repo DIR CONTENT SHA1: a Maven layout holding hadoop-azure with CONTENT and a
# published .sha1 of SHA1 (default: CONTENT's own).
fake_repo() {
	local d=$1/org/apache/hadoop/hadoop-azure/3.3.4
	mkdir -p "$d"
	printf '%s' "$2" >"$d/hadoop-azure-3.3.4.jar"
	printf '%s  hadoop-azure-3.3.4.jar\n' "${3:-$(sha1sum <"$d/hadoop-azure-3.3.4.jar" | cut -c1-40)}" \
		>"$d/hadoop-azure-3.3.4.jar.sha1"
}

@test "mk/jars.sh refuses a jar that does not match Maven Central's SHA-1 or the pinned SHA-256" {
	mkdir out
	fake_repo "$PWD/repo" "not the real jar" 0000000000000000000000000000000000000000
	MAVEN_REPO=file://$PWD/repo run --separate-stderr sh "$ROOT/mk/jars.sh" install out
	[ "$status" -eq 1 ]
	[ "$stderr" = "$(printf '%s\n' 'jars: fetching org.apache.hadoop:hadoop-azure:3.3.4' \
		"jars: fatal: hadoop-azure-3.3.4.jar does not match Maven Central's SHA-1 0000000000000000000000000000000000000000")" ]
	[ -z "$(ls -A out)" ]

	rm -rf repo
	fake_repo "$PWD/repo" "not the real jar either"
	MAVEN_REPO=file://$PWD/repo run --separate-stderr sh "$ROOT/mk/jars.sh" install out
	[ "$status" -eq 1 ]
	[ "${stderr##*$'\n'}" = "jars: fatal: hadoop-azure-3.3.4.jar does not match the SHA-256 pinned in mk/jars.sh" ]
	[ -z "$(ls -A out)" ]

	run sh "$ROOT/mk/jars.sh" install
	[ "$status" -eq 64 ]
	[ "$output" = "usage: mk/jars.sh install DIR" ]
}
