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
# --storage-auth sp|msi (OAuth, abfss://): a second Azurite serves HTTPS with OAuth
# checks on (`--oauth basic`: a bearer token's issuer, audience and lifetime, not its
# signature), t/fake-azure plays Entra ID and IMDS, and hadoop-azure's abfs client is
# pointed at Azurite's blob endpoint (fs.azure.abfs.endpoint, path-style URLs). Azurite
# has no DFS (Data Lake) API, so these jobs read (HEAD and ranged GET work the same on
# both) but do not write.

load test_helper
load fake_azure_helper
load azurite_helper

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
	oauth_start
}

# oauth_start: t/fake-azure (Entra ID and IMDS, HTTPS with its test CA), and Azurite on
# HTTPS with OAuth on a free port, using the emulator's certificate for 127.0.0.1; the
# JVM's trust store holds the emulator's CA.
oauth_start() {
	fake_azure_start --msi || return 1
	OAUTH_PORT=$(free_port)
	OAUTH_BLOB=https://127.0.0.1:$OAUTH_PORT
	TRUST=$BATS_FILE_TMPDIR/trust.p12
	export OAUTH_PORT OAUTH_BLOB TRUST
	keytool -importcert -noprompt -alias fake-azure -file "$FAKE_AZURE_CA" -keystore "$TRUST" \
		-storetype PKCS12 -storepass legion-test >/dev/null || return 1
	mkdir -p "$BATS_FILE_TMPDIR/azurite-oauth"
	(cd "$BATS_FILE_TMPDIR/azurite-oauth" && exec "$AZURITE" --skipApiVersionCheck \
		--disableTelemetry --inMemoryPersistence --blobHost 127.0.0.1 --blobPort "$OAUTH_PORT" \
		--oauth basic --cert "$FAKE_AZURE_DIR/server.pem" --key "$FAKE_AZURE_DIR/server.key" \
		>azurite.log 2>&1) &
	echo $! >"$BATS_FILE_TMPDIR/azurite-oauth.pid"
	wait_for -t 30 curl -s -o /dev/null --cacert "$FAKE_AZURE_CA" "$OAUTH_BLOB/" || {
		cat "$BATS_FILE_TMPDIR/azurite-oauth/azurite.log" >&2
		return 1
	}
}

teardown_file() {
	local pid f
	fake_azure_stop || true
	for f in azurite azurite-oauth; do
		pid=$(cat "$BATS_FILE_TMPDIR/$f.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null || true
		wait_for -t 10 eval "! kill -0 $pid 2>/dev/null"
	done
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() { # a cluster a failed test kept
	local c
	for c in $(legion status 2>/dev/null | jq -r '.clusters[].cluster' 2>/dev/null); do
		legion delete "$c" >/dev/null 2>&1 || true
	done
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
	wordcount_result_is "$BLOB" "$want"
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

# What points hadoop-azure's abfs client at the OAuth Azurite, and the JVMs at the trust
# store: test plumbing, not what --storage-auth writes.
oauth_confs() {
	local jvm="-Djavax.net.ssl.trustStore=$TRUST -Djavax.net.ssl.trustStorePassword=legion-test"
	OAUTH_CONFS=(--conf "spark.hadoop.fs.azure.abfs.endpoint=127.0.0.1:$OAUTH_PORT"
		--conf spark.hadoop.fs.azure.account.hns.enabled=false
		--conf spark.hadoop.fs.azure.ssl.channel.mode=Default_JSSE
		--conf spark.hadoop.fs.azure.io.retry.max.retries=2
		--conf spark.hadoop.fs.azure.oauth.token.fetch.retry.max.retries=2
		--conf "spark.driver.extraJavaOptions=$jvm" --conf "spark.executor.extraJavaOptions=$jvm")
}

# oauth_blob NAME: a container NAME with in/words.txt on the OAuth Azurite (Shared Key).
oauth_blob() {
	printf 'the cat and the dog\nthe end\n' >words.txt
	"$ROOT/t/blob" "$OAUTH_BLOB" mkcontainer "$1"
	"$ROOT/t/blob" "$OAUTH_BLOB" put "$1" in/words.txt words.txt
	cat >count.py <<-'EOF'
	import sys
	from pyspark import SparkContext
	sc = SparkContext(appName="abfss-count")
	counts = (sc.textFile(sys.argv[1]).flatMap(str.split).map(lambda w: (w, 1))
	          .reduceByKey(lambda a, b: a + b).collect())
	for w, n in sorted(counts, key=lambda c: (-c[1], c[0])):
	    print(w, n)
	EOF
}

# token_requests PATH: the emulator's answers to PATH, "status body.resource client"
# lines (the client: client_id, from the form or the query).
token_requests() {
	jq -r --arg p "$1" 'select(.path == $p) |
		"\(.status) \(.body.resource // .query.resource) \(.body.client_id // .query.client_id // "-")"' \
		"$FAKE_AZURE_LOG"
}

@test "--storage-auth sp: abfss:// reads a blob with a token Entra ID issued to the CLI's service principal" {
	need_spark
	oauth_blob spbooks
	oauth_confs
	local url=abfss://spbooks@devstoreaccount1.dfs.core.windows.net/in/words.txt
	AZURE_STORAGE_ACCOUNT_NAME=devstoreaccount1 run --separate-stderr legion submit \
		--storage-auth sp --keep-alive --num-executors 1 --executor-memory 512m \
		"${OAUTH_CONFS[@]}" count.py "$url"
	echo "$stderr" | grep -E '^legion:|Exception|AADSTS' | head -20
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'the 3' 'and 1' 'cat 1' 'dog 1' 'end 1')" ]
	# the emulated Entra ID issued storage tokens to that client, and nothing else asked
	run token_requests "/$FAKE_AZURE_TENANT/oauth2/token"
	echo "$output"
	[ "${#lines[@]}" -ge 1 ]
	[ -z "$(printf '%s\n' "${lines[@]}" | grep -vx "200 https://storage.azure.com/ $FAKE_AZURE_CLIENT")" ]
	# the client secret: in the master's 0600 Spark properties alone, never in output,
	# logs, or the workers' or anyone's environment
	[[ $output$stderr != *"$FAKE_AZURE_SECRET"* ]]
	local f files=() cluster
	files=($(grep -rlF -- "$FAKE_AZURE_SECRET" "$LEGION_HOME" || true))
	echo "holding the secret: ${files[*]}"
	[ "${#files[@]}" -eq 1 ]
	[[ ${files[0]} == */spark.properties ]]
	[ "$(stat -c %a "${files[0]}")" = 600 ]
	[[ ${files[0]} == *-master/* ]]
	grep -qxF 'spark.hadoop.fs.azure.account.auth.type.devstoreaccount1.dfs.core.windows.net=OAuth' "${files[0]}"
	# the cluster's processes (master and worker chains, Spark's JVMs) do not have it
	cluster=$(legion status | jq -r '.clusters[0].cluster')
	[[ $cluster == legion-* ]]
	local n=0
	for f in /proc/[0-9]*/environ; do
		grep -qzx "LEGION_CLUSTER=$cluster" "$f" 2>/dev/null || continue
		n=$((n + 1))
		! grep -qF -- "$FAKE_AZURE_SECRET" "$f" || {
			echo "in the environment of: $(tr '\0' ' ' <"${f%/environ}/cmdline")"
			false
		}
	done
	echo "$n processes of $cluster"
	[ "$n" -ge 2 ]
	legion delete "$cluster"
}

@test "--storage-auth msi: abfss:// reads a blob with a token from the managed identity endpoint" {
	need_spark
	oauth_blob msibooks
	oauth_confs
	local url=abfss://msibooks@devstoreaccount1.dfs.core.windows.net/in/words.txt
	run --separate-stderr env -u AZURE_CLIENT_ID -u AZURE_CLIENT_SECRET legion submit \
		--storage-auth msi --num-executors 1 --executor-memory 512m \
		"${OAUTH_CONFS[@]}" count.py "$url"
	echo "$stderr" | grep -E '^legion:|Exception' | head -20
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'the 3' 'and 1' 'cat 1' 'dog 1' 'end 1')" ]
	run token_requests /metadata/identity/oauth2/token
	echo "$output"
	[ "${#lines[@]}" -ge 1 ]
	[ -z "$(printf '%s\n' "${lines[@]}" | grep -vx '200 https://storage.azure.com/ -')" ]
}

@test "--storage-auth: a bad value is 64; a missing credential is 78 with what to set" {
	echo 'print(1)' >app.py
	run --separate-stderr legion submit --storage-auth password app.py
	[ "$status" -eq 64 ]
	[ "${stderr%%$'\n'*}" = "legion: submit: --storage-auth: 'password' is not key, sp or msi" ]
	run --separate-stderr env -u AZURE_STORAGE_ACCOUNT_KEY legion submit --storage-auth key app.py
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: --storage-auth key: set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (the account's access key)" ]
	run --separate-stderr env -u AZURE_CLIENT_SECRET LEGION_CREDENTIAL=msi legion submit --storage-auth sp app.py
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: --storage-auth sp: no service principal with a client secret (set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID"* ]]
	run --separate-stderr legion deploy-master --backend aci --image r.test/legion/spark:1 --storage-auth msi
	[ "$status" -eq 64 ]
	[[ ${stderr%%$'\n'*} == "legion: deploy-master: --storage-auth msi: the master's container needs a managed identity: give --identity IDENTITY_ID"* ]]
	AZURE_STORAGE_ACCOUNT_NAME=Not_An_Account run --separate-stderr legion submit --storage-auth sp app.py
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: AZURE_STORAGE_ACCOUNT_NAME: 'Not_An_Account' is not a storage account name"* ]]
}
