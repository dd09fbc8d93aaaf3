#!/usr/bin/env bats
# t/image.bats: the Dockerfile's images, built with podman by mk/image.sh: the cli image
# (FROM scratch: legion and a CA bundle, nothing else) and the spark image (legion, the
# helpers, Java 17, Spark from pyspark with numpy, pandas, pyarrow and the Hadoop Azure
# connector), and a real cluster of spark-image containers:
# a master running legion-master -> legion-jobd, a worker chain, a PySpark job through the job API;
# and one started as ACI starts them (the worker known by a public name it maps in
# /etc/hosts, the storage key as a secret) whose job reads a blob from Azurite over
# HTTPS (wasbs://, a test CA in the JVMs' trust store) and writes its result back, with
# every process running as the image's unprivileged user.
# LEGION_IMAGE_HELPERS=DIR mounts DIR's helpers over the image's in those containers.
# Those are skipped unless LEGION_IMAGE_TESTS=1: they need podman, root and a few
# minutes the first time (mk/image.sh installs and configures podman, makes a Debian
# base with debootstrap and builds both images; later runs reuse them and rebuild what
# changed). The first tests need no engine: what the Dockerfile must show (the
# connector's jars through mk/jars.sh, pinned libraries, every helper, no secrets in a
# layer), read from its text.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
bats_require_minimum_version 1.5.0 # run --separate-stderr
load azurite_helper

# (bats 1.8 cannot skip from setup_file: need_images skips each test instead.)
setup_file() {
	[ "${LEGION_IMAGE_TESTS:-}" = 1 ] || return 0
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	VERSION=$(sed -n 's/^#define LEGION_VERSION "\(.*\)"/\1/p' "$ROOT/legion.h")
	PYSPARK_VERSION=$(sed -n 's/^PYSPARK_VERSION = //p' "$ROOT/Makefile")
	CLI=legion/cli:$VERSION SPARK=legion/spark:$VERSION
	export ROOT VERSION PYSPARK_VERSION CLI SPARK
	sh "$ROOT/mk/image.sh" all
	# the cluster test's containers, named for this run
	export CT=legion-image-test-$$ IT=$BATS_FILE_TMPDIR
}

need_images() {
	[ "${LEGION_IMAGE_TESTS:-}" = 1 ] || skip "LEGION_IMAGE_TESTS=1 runs the image tests"
}

# stage NAME: the Dockerfile's instructions of stage NAME (FROM .. AS NAME up to the
# next FROM), comments dropped and continued lines joined, one instruction a line.
stage() {
	awk -v s="$1" '/^[ \t]*#/ {next}
		{ line = line $0; if (sub(/\\$/, "", line)) next }
		line ~ /^FROM / { on = (line ~ (" AS " s "$")) }
		on && line != "" { gsub(/[ \t]+/, " ", line); print line }
		{ line = "" }' "$ROOT/Dockerfile"
}

@test "Dockerfile: pyspark at the Makefile's version with mk/pylibs.txt's pinned numpy, pandas and pyarrow" {
	local spark want
	spark=$(stage spark)
	want=$(sed -n 's/^PYSPARK_VERSION = //p' "$ROOT/Makefile")
	echo "$spark" | grep -qx "ARG PYSPARK_VERSION=$want"
	echo "$spark" | grep -qx 'COPY mk/pylibs.txt /tmp/pylibs.txt'
	echo "$spark" | grep '^RUN python3 -m venv /opt/venv' | grep -qF '"pyspark==${PYSPARK_VERSION}" -r /tmp/pylibs.txt'
	# every library pinned to one version, the three pyspark's extras ask for among them
	run grep -vE '^(#|$)' "$ROOT/mk/pylibs.txt"
	[ "$status" -eq 0 ]
	[ -z "$(printf '%s\n' "${lines[@]}" | grep -vE '^[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*$')" ]
	for m in numpy pandas pyarrow; do
		printf '%s\n' "${lines[@]}" | grep -q "^$m=="
	done
}

@test "Dockerfile: the build stage copies every source and header the Makefile's rules need" {
	local copied f
	# the files the COPY lines of the build stage bring, as the build context has them
	copied=$(cd "$ROOT" && for src in $(stage build | grep -E '^COPY ' | grep -v -- '--from=' |
		awk '{ for (i = 2; i < NF; i++) print $i }'); do eval "ls -d $src"; done | sort -u)
	# every header an object depends on, every object's .c and the scripts the rules run
	for f in $(sed -n 's/^\$(B)\/%\.o: %\.c //p' "$ROOT/Makefile") \
		$(sed -n 's/^\(LEGION_OBJS\|CORE\|JOBD_OBJS\) +\?= //p' "$ROOT/Makefile" | tr ' ' '\n' |
			grep '\.o$' | sed 's/\.o$/.c/') \
		$(sed -n 's/^HELPERS = //p' "$ROOT/Makefile" | tr ' ' '\n' | sed 's/$/.c/') \
		helpers/common.c proc.c tls.c mk/roots.sh Makefile; do
		grep -qx "$f" <<<"$copied" || { echo "the build stage lacks $f"; false; }
	done
}

@test "Dockerfile: the Azure connector's jars come through mk/jars.sh (checksums) into SPARK_HOME/jars, and nothing else is downloaded" {
	stage jars | grep -qE '^RUN mkdir /jars && .*sh mk/jars\.sh install /jars$'
	stage spark | grep -qx 'COPY --from=jars /jars/ /opt/spark/jars/'
	stage spark | grep -qF 'SPARK_HOME=/opt/spark'
	# no ADD of a URL, no curl or wget in the runtime image
	! grep -qE '^ADD ' "$ROOT/Dockerfile"
	! stage spark | grep -qE '^RUN .*\b(curl|wget)\b'
}

@test "Dockerfile: legion and every helper the Makefile builds are on PATH; the role is the command's (legion-master)" {
	local copy h
	copy=$(stage spark | grep '^COPY --from=build ' | grep ' /usr/local/bin/$')
	[[ $copy == *" /src/legion "* ]]
	for h in $(sed -n 's/^HELPERS = //p' "$ROOT/Makefile"); do
		[[ $copy == *" /src/$h "* ]] || { echo "not in the image: $h"; false; }
	done
	stage spark | grep -qE '^ENV .*PATH=/usr/local/bin:'
	[ "$(stage spark | grep '^CMD ')" = 'CMD ["legion-master"]' ]
	# the cli image: scratch, legion and a CA bundle, nothing else
	[ "$(stage cli | sed 1d | grep -c '^COPY ')" -eq 2 ]
	stage cli | grep -qx 'FROM scratch AS cli'
}

@test "Dockerfile: no secret in a layer: no ENV or ARG named for one, only sources copied, pip's CA mounted" {
	# names that hold secrets at run time never get a build-time value
	! grep -nE '^(ENV|ARG) .*(SECRET|PASSWORD|TOKEN|_KEY|CREDENTIAL)' "$ROOT/Dockerfile"
	# what COPY takes from the build context: tracked sources, never the whole context
	local src f
	for src in $(grep -E '^COPY ' "$ROOT/Dockerfile" | grep -v -- '--from=' |
		awk '{ for (i = 2; i < NF; i++) print $i }'); do
		[ "$src" != . ] || { echo "COPY of the whole context"; false; }
		# each pattern matches source files only (no keys, no state, no build output)
		for f in $(cd "$ROOT" && eval "ls -d $src"); do
			[ -f "$ROOT/$f" ] && [[ ${f##*/} =~ ^(Makefile|[A-Za-z0-9_.-]+\.(c|h|sh|txt))$ ]] || {
				echo "copied, and not a source file: $f"
				false
			}
		done
	done
	# PIP_CA is a path to a bundle mounted for the build (-v), never copied in
	! grep -E '^COPY .*PIP_CA' "$ROOT/Dockerfile"
	grep -qF -- '-v "$cert:/run/pip-ca.crt:ro"' "$ROOT/mk/image.sh"
}

# (no engine: the helper itself, as the image's entrypoint runs it as root)
@test "helpers: as root, legion-worker becomes LEGION_USER right after the address step; an unknown user is 78" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	id -u nobody >/dev/null 2>&1 || skip "no user nobody"
	local worker=$ROOT/helpers/legion-worker dir=$BATS_TEST_TMPDIR/root-only
	[ -x "$worker" ] || skip "helpers not built (make)"
	mkdir -m 0700 "$dir"
	local env=(env -i LEGION_SPARK_SECRET=s LEGION_MASTER=127.0.9.50 SPARK_HOME=/nonexistent
		LEGION_HOST=127.0.9.51)
	# as nobody, it cannot write where root could: it switched before writing anything
	run --separate-stderr "${env[@]}" LEGION_USER=nobody "$worker" -d "$dir/w"
	[ "$status" -eq 73 ]
	[ "$stderr" = "$(printf '%s\n' "legion-worker: running as nobody (uid $(id -u nobody))" \
		"legion-worker: fatal: unable to create $dir/w: Permission denied")" ]
	[ ! -e "$dir/w" ]
	run --separate-stderr "${env[@]}" LEGION_USER=legion-no-such-user "$worker" -d "$dir/w"
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion-worker: fatal: unable to find the user legion-no-such-user (LEGION_USER) in /etc/passwd" ]
	[ ! -e "$dir/w" ]
}

teardown_file() {
	[ -n "${CT:-}" ] || return 0
	# --ignore: without it, one name that is missing (a test that did not run) keeps
	# podman from removing the others
	podman rm -f -t 0 --ignore "$CT-master" "$CT-worker" "$CT-smaster" "$CT-sworker" \
		>/dev/null 2>&1 || true
	local pid
	pid=$(cat "$IT/azurite.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
}

# spark_owns DIR...: DIRs (bind-mounted work directories) owned by the image's
# unprivileged user, which the helpers switch to before they write anything.
# SPARK_UID: that user's uid.
spark_owns() {
	SPARK_UID=$(podman run --rm "$SPARK" id -u spark)
	[[ $SPARK_UID =~ ^[1-9][0-9]*$ ]]
	mkdir -p "$@"
	chown "$SPARK_UID:$SPARK_UID" "$@"
}

# HELPERS: with LEGION_IMAGE_HELPERS=DIR, podman flags mounting DIR's helpers over the
# image's (to try helpers without rebuilding the image, or the ones of an older tree).
helpers_over() {
	HELPERS=()
	local h
	for h in ${LEGION_IMAGE_HELPERS:+"$LEGION_IMAGE_HELPERS"/legion-*}; do
		[[ $h == *.[ch] ]] || HELPERS+=(-v "$h:/usr/local/bin/${h##*/}:ro")
	done
}

# users CONTAINER: the users of its processes (pid 1's helper chain, Spark's JVMs, the
# Python workers), one a line, sorted and unique.
users() {
	podman top "$1" user | sed 1d | sort -u
}

# api METHOD PATH [CURL ARGS]: the job API of the master container a test started: its
# folder $MD (tls.crt), TLS name $MNAME on address $MIP, the token's header in $MD.hdr.
api() {
	curl -sS --max-time 120 -X "$1" --cacert "$MD/tls.crt" --resolve "$MNAME:7090:$MIP" \
		-H @"$MD.hdr" "${@:3}" "https://$MNAME:7090$2"
}
healthy() { [ "$(api GET /v1/health -o /dev/null -w '%{http_code}' 2>/dev/null)" = 200 ]; }
one_worker() { [ "$(api GET /v1/status 2>/dev/null | jq .spark.aliveWorkers)" = 1 ]; }

# wait_until SECS CMD...: runs CMD every half second until it succeeds, SECS at most.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || {
			echo "gave up after waiting for: $*" >&2
			return 1
		}
		sleep 0.5
	done
}

@test "cli image: FROM scratch with legion and a CA bundle alone; prints its version" {
	need_images
	run podman run --rm "$CLI" version
	[ "$status" -eq 0 ]
	[ "$output" = "legion $VERSION" ]
	id=$(podman create "$CLI")
	files=$(podman export "$id" | tar -t | grep -v '/$' | sort)
	podman rm "$id" >/dev/null
	echo "$files"
	[ "$files" = "$(printf '%s\n' etc/ssl/certs/ca-certificates.crt legion)" ]
	[ "$(podman image inspect --format '{{.Size}}' "$CLI")" -lt 2000000 ]
}

@test "spark image: legion and the five helpers, static, on PATH" {
	need_images
	run podman run --rm "$SPARK" legion version
	[ "$status" -eq 0 ]
	[ "$output" = "legion $VERSION" ]
	for h in legion-master legion-jobd legion-worker legion-register legion-idle; do
		run podman run --rm "$SPARK" "$h" -h
		echo "$h: $status: $output"
		[ "$status" -eq 0 ]
		[[ ${lines[0]} == "usage: $h "* ]]
	done
	[ "$(podman image inspect --format '{{json .Config.Cmd}}' "$SPARK")" = '["legion-master"]' ]
}

@test "spark image: Java 17, and Spark at the Makefile's pyspark version under SPARK_HOME" {
	need_images
	run podman run --rm "$SPARK" java -version
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == 'openjdk version "17.'* ]]
	run podman run --rm "$SPARK" sh -c '"$SPARK_HOME/bin/spark-submit" --version 2>&1'
	[ "$status" -eq 0 ]
	[[ $output == *"version $PYSPARK_VERSION"* ]]
	# nothing of the build's pip settings is left in the image's environment
	! podman image inspect --format '{{json .Config.Env}}' "$SPARK" | grep -q PIP_
}

@test "spark image: numpy, pandas and pyarrow at mk/pylibs.txt's versions; the Azure connector's jars" {
	need_images
	local want
	want=$(grep -E '^(numpy|pandas|pyarrow)==' "$ROOT/mk/pylibs.txt" | sort)
	run podman run --rm "$SPARK" python3 -c 'import numpy, pandas, pyarrow
for m in (numpy, pandas, pyarrow): print(f"{m.__name__}=={m.__version__}")'
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$want" ]
	run podman run --rm "$SPARK" sh -c 'ls "$SPARK_HOME/jars"'
	[ "$status" -eq 0 ]
	local j
	for j in $(sh "$ROOT/mk/jars.sh" list) hadoop-client-api-3.3.4.jar; do
		printf '%s\n' "${lines[@]}" | grep -qx "$j" || { echo "missing: $j"; false; }
	done
	# the connector's classes load in Spark's JVM: wasb and abfss have a FileSystem
	run podman run --rm "$SPARK" sh -c 'cd /tmp && python3 -c "
from pyspark.sql import SparkSession
s = SparkSession.builder.master(\"local[1]\").getOrCreate()
h = s.sparkContext._jvm.org.apache.hadoop.fs.FileSystem
c = s.sparkContext._jsc.hadoopConfiguration()
for scheme in (\"wasb\", \"wasbs\", \"abfs\", \"abfss\"):
    print(scheme, h.getFileSystemClass(scheme, c).getName())
" 2>/dev/null'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "wasb org.apache.hadoop.fs.azure.NativeAzureFileSystem" ]
	[ "${lines[1]}" = "wasbs org.apache.hadoop.fs.azure.NativeAzureFileSystem\$Secure" ]
	[ "${lines[2]}" = "abfs org.apache.hadoop.fs.azurebfs.AzureBlobFileSystem" ]
	[ "${lines[3]}" = "abfss org.apache.hadoop.fs.azurebfs.SecureAzureBlobFileSystem" ]
}

@test "spark image: a master and a worker container run a PySpark job to SUCCEEDED" {
	need_images
	local m=127.0.9.21 name=master.legion-0badcafe.legion token secret id
	token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	secret=spark-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	spark_owns "$IT/m" "$IT/w"
	MD=$IT/m MNAME=$name MIP=$m
	printf 'Authorization: Bearer %s\n' "$token" >"$MD.hdr"

	# netns=host (containers.conf): each container on its own loopback address
	podman run -d --name "$CT-master" -v "$IT/m:/work/m" -e LEGION_HOST=$m \
		-e LEGION_TOKEN="$token" -e LEGION_SPARK_SECRET="$secret" -e LEGION_TLS_NAME=$name \
		-e LEGION_CLUSTER=legion-0badcafe "$SPARK" legion-master -i 600 -d /work/m
	wait_until 20 test -s "$IT/m/tls.crt"
	wait_until 90 healthy
	podman run -d --name "$CT-worker" -v "$IT/w:/work/w" -e LEGION_HOST=127.0.9.22 \
		-e LEGION_MASTER=$m -e LEGION_TLS_CERT="$(cat "$IT/m/tls.crt")" -e LEGION_TLS_NAME=$name \
		-e LEGION_TOKEN="$token" -e LEGION_SPARK_SECRET="$secret" -e LEGION_WORKER_NAME=w1 \
		-e LEGION_WORKER_CORES=2 -e LEGION_WORKER_MEMORY=1024 -e LEGION_IDLE_TIMEOUT=600 \
		"$SPARK" legion-worker -d /work/w -u 30
	wait_until 120 one_worker

	jq -n --arg data "$(base64 -w0 "$ROOT/examples/pi.py")" \
		'{name: "pi.py", app: "pi.py", appData: $data, args: ["4"]}' >"$IT/body.json"
	id=$(api POST /v1/jobs --data-binary @"$IT/body.json" -H 'Content-Type: application/json' |
		jq -r .id)
	[[ $id == job-* ]]
	run api GET "/v1/jobs/$id/log?follow=1" -N
	[ "$status" -eq 0 ]
	printf '%s\n' "${lines[@]}" | grep -E '^\{"stream":"stdout","line":"Pi is roughly 3\.[0-9]+"\}$'
	[ "${lines[-1]}" = '{"state":"SUCCEEDED","exitCode":0}' ]

	# numpy, pandas and pyarrow on the worker container's executors too
	jq -n --arg data "$(base64 -w0 "$ROOT/examples/pandas_udf.py")" \
		'{name: "pandas_udf.py", app: "pandas_udf.py", appData: $data, args: []}' >"$IT/body.json"
	id=$(api POST /v1/jobs --data-binary @"$IT/body.json" -H 'Content-Type: application/json' |
		jq -r .id)
	run api GET "/v1/jobs/$id/log?follow=1" -N
	[ "$status" -eq 0 ]
	printf '%s\n' "${lines[@]}" | grep -x '{"stream":"stdout","line":"mean by parity: 0=40 1=50"}'
	[ "${lines[-1]}" = '{"state":"SUCCEEDED","exitCode":0}' ]
}

# azurite_https: Azurite's Blob service on https://127.0.9.30 (port 443, as a storage
# account's), with a certificate for devstoreaccount1.blob.core.windows.net and
# 127.0.9.30 from a test CA made here ($IT/ca.crt); $IT/cacerts: the image's own Java
# trust store (/etc/ssl/certs/java/cacerts, which every JVM of the image reads) plus that CA.
azurite_https() {
	local version azurite
	version=$(sed -n 's/^AZURITE_VERSION = //p' "$ROOT/Makefile")
	azurite=${LEGION_AZURITE:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/azurite-$version/node_modules/.bin/azurite-blob}
	[ -x "$azurite" ] || skip "no Azurite at $azurite (make spark)"
	! curl -s -o /dev/null -k https://127.0.9.30/ || {
		echo "127.0.9.30:443 is taken" >&2
		return 1
	}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$IT/ca.key" -out "$IT/ca.crt" -subj /CN=legion-image-test-ca \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=azurite \
		-keyout "$IT/blob.key" -out "$IT/blob.csr" 2>/dev/null
	printf '%s\n' 'subjectAltName=DNS:devstoreaccount1.blob.core.windows.net,IP:127.0.9.30' \
		'extendedKeyUsage=serverAuth' >"$IT/blob.ext"
	openssl x509 -req -in "$IT/blob.csr" -CA "$IT/ca.crt" -CAkey "$IT/ca.key" -days 2 \
		-CAcreateserial -extfile "$IT/blob.ext" -out "$IT/blob.crt" 2>/dev/null
	podman run --rm "$SPARK" cat /etc/ssl/certs/java/cacerts >"$IT/cacerts"
	keytool -importcert -noprompt -alias legion-image-test -file "$IT/ca.crt" \
		-keystore "$IT/cacerts" -storepass changeit >/dev/null
	chmod 644 "$IT/cacerts"
	mkdir -p "$IT/azurite"
	# no telemetry (it would leave the machine), nothing kept on disk
	(cd "$IT/azurite" && exec "$azurite" --skipApiVersionCheck --disableTelemetry \
		--inMemoryPersistence --blobHost 127.0.9.30 --blobPort 443 \
		--cert "$IT/blob.crt" --key "$IT/blob.key" >azurite.log 2>&1) &
	echo $! >"$IT/azurite.pid"
	wait_until 30 curl -s -o /dev/null --cacert "$IT/ca.crt" https://127.0.9.30/ || {
		cat "$IT/azurite/azurite.log" >&2
		return 1
	}
}

@test "spark image: master and worker containers, as ACI starts them, read a blob over wasbs:// and write the result blob; Spark runs as the unprivileged user" {
	need_images
	azurite_https
	local m=127.0.9.41 w=127.0.9.42 name=master.legion-0badf00d.legion token secret id
	# the worker's public name, as ACI's FQDN: peers resolve it (their DNS: --add-host),
	# the worker itself does not, so its legion-worker (pid 1, root) maps it in /etc/hosts
	local wname=w1.legion-0badf00d.image.test
	local blob=devstoreaccount1.blob.core.windows.net
	local key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
	token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	secret=spark-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	spark_owns "$IT/sm" "$IT/sw"
	MD=$IT/sm MNAME=$name MIP=$m
	printf 'Authorization: Bearer %s\n' "$token" >"$MD.hdr"

	printf 'the cat and the dog\nthe end\n' >"$IT/words.txt"
	export SSL_CERT_FILE=$IT/ca.crt
	"$ROOT/t/blob" https://127.0.9.30 mkcontainer books
	"$ROOT/t/blob" https://127.0.9.30 put books in/words.txt "$IT/words.txt"

	# the environment submit.c gives each group (secrets as ACI's secureValue: here
	# from podman's environment, not its command line); the JVMs trust the test CA
	helpers_over
	local trust=(-v "$IT/cacerts:/etc/ssl/certs/java/cacerts:ro" --add-host "$blob:127.0.9.30"
		"${HELPERS[@]}")
	LEGION_TOKEN=$token LEGION_SPARK_SECRET=$secret AZURE_STORAGE_ACCOUNT_KEY=$key \
		podman run -d --name "$CT-smaster" -v "$IT/sm:/work/m" "${trust[@]}" \
		--add-host "$wname:$w" -e LEGION_HOST=$m -e LEGION_TOKEN -e LEGION_SPARK_SECRET \
		-e LEGION_TLS_NAME=$name -e LEGION_CLUSTER=legion-0badf00d -e LEGION_IDLE_TIMEOUT=600 \
		-e AZURE_STORAGE_ACCOUNT_NAME=devstoreaccount1 -e AZURE_STORAGE_ACCOUNT_KEY \
		"$SPARK" legion-master -i 600 -d /work/m
	wait_until 20 test -s "$IT/sm/tls.crt"
	wait_until 90 healthy
	LEGION_TOKEN=$token LEGION_SPARK_SECRET=$secret \
		podman run -d --name "$CT-sworker" -v "$IT/sw:/work/w" "${trust[@]}" \
		-e LEGION_HOST=$wname -e CONTAINER_IP=$w -e LEGION_MASTER=$m \
		-e LEGION_TLS_CERT="$(cat "$IT/sm/tls.crt")" -e LEGION_TLS_NAME=$name \
		-e LEGION_TOKEN -e LEGION_SPARK_SECRET -e LEGION_CLUSTER=legion-0badf00d \
		-e LEGION_WORKER_NAME=w1 -e LEGION_WORKER_CORES=2 -e LEGION_WORKER_MEMORY=1024 \
		-e LEGION_IDLE_TIMEOUT=600 "$SPARK" legion-worker -d /work/w -u 30
	wait_until 120 one_worker

	local url=wasbs://books@$blob
	jq -n --arg data "$(base64 -w0 "$ROOT/examples/storage_wordcount.py")" \
		--arg in "$url/in/words.txt" --arg out "$url/out" \
		'{name: "wordcount", app: "storage_wordcount.py", appData: $data, args: [$in, $out]}' \
		>"$IT/sbody.json"
	id=$(api POST /v1/jobs --data-binary @"$IT/sbody.json" -H 'Content-Type: application/json' |
		jq -r .id)
	[[ $id == job-* ]]
	run api GET "/v1/jobs/$id/log?follow=1" -N
	[ "$status" -eq 0 ]
	printf '%s\n' "${lines[@]}" | grep -E 'Exception|"stdout"' | head -20
	[ "${lines[-1]}" = '{"state":"SUCCEEDED","exitCode":0}' ]
	local want
	want=$(printf '%s\n' 'the 3' 'and 1' 'cat 1' 'dog 1' 'end 1')
	local joblog=$output
	[ "$(jq -r 'select(.stream == "stdout") | .line' <<<"$joblog")" = "$want" ]
	wordcount_result_is https://127.0.9.30 "$want"

	# root did only the /etc/hosts step: every process of both containers (the helper
	# chain at pid 1, Spark's master, worker, driver and executor JVMs, Python) is spark's
	podman logs "$CT-sworker" 2>&1 | grep -x "legion-worker: mapped $wname to $w in /etc/hosts"
	podman exec "$CT-sworker" cat /etc/hosts | grep -xP "$w\\t$wname"
	podman logs "$CT-sworker" 2>&1 | grep -qx 'legion-worker: running as spark (uid [0-9]*)'
	podman logs "$CT-smaster" 2>&1 | grep -qx 'legion-master: running as spark (uid [0-9]*)'
	local c f
	for c in smaster sworker; do
		podman top "$CT-$c" user args
		[ "$(users "$CT-$c")" = spark ]
		podman top "$CT-$c" args | grep -q '/bin/java .*org\.apache\.spark\.deploy\.'
	done
	# the job's JVMs (gone with the job) were spark's: Spark logs the user it runs as
	jq -r 'select(.stream == "stderr") | .line' <<<"$joblog" | grep -q 'SecurityManager: Changing view acls to: spark$'
	f=$(echo "$IT"/sw/work/app-*/0/stderr)
	[ -f "$f" ]
	grep -q 'SecurityManager: Changing view acls to: spark$' "$f"
	# what the helpers and Spark wrote is spark's, the secrets' file still 0600
	[ "$(stat -c %u:%a "$IT/sm/spark.properties")" = "$SPARK_UID:600" ]
	[ "$(stat -c %u "$IT/sw/spark.properties" "$f" | sort -u)" = "$SPARK_UID" ]
}
