#!/usr/bin/env bats
# t/jobd.bats: the master's job daemon and the worker helpers as a user's cluster runs
# them: one legion-master -> legion-jobd with a real Spark master on 127.0.9.1 and a real worker chain
# (legion-worker -> legion-register -> legion-idle -> Spark worker) on 127.0.9.2, the
# job API over pinned TLS, real PySpark jobs; plus cheap daemons with a stand-in Spark
# for the idle and orphan exits. Leaves out the CLI (t/cli.bats and others).

load test_helper
load jobd_helper

setup_file() {
	jd_env
	[ -x "$SPARK_HOME/bin/spark-class" ] || skip "no Spark under $VENV (make spark)"
	[ -n "${JAVA_HOME:-}" ] || skip "no java"
	for h in legion-master legion-jobd legion-register legion-idle legion-worker; do
		[ -x "$HELPERS/$h" ] || {
			echo "missing $HELPERS/$h (make build)" >&2
			return 1
		}
	done
	export JD=$BATS_FILE_TMPDIR
	export JD_ADDR=127.0.9.1 JD_NAME=master.legion-0badcafe.legion
	JD_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	JD_SECRET=spark-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	JD_STORAGE_KEY=key-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	export JD_TOKEN JD_SECRET JD_STORAGE_KEY
	printf 'Authorization: Bearer %s\n' "$JD_TOKEN" >"$JD/auth.hdr"

	# the apps the tests submit, and a stand-in Spark for the cheap daemons
	cat >"$JD/fail.py" <<-'EOF'
		def main():
		    raise ValueError("this app fails on purpose")
		main()
	EOF
	cat >"$JD/slow.py" <<-'EOF'
		import time
		from pyspark.sql import SparkSession
		spark = SparkSession.builder.appName("slow").getOrCreate()
		print("slow job started", flush=True)
		spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(600) or x).collect()
	EOF
	mkdir -p "$JD/fakespark/bin"
	printf '#!/bin/sh\nwhile :; do sleep 1; done\n' >"$JD/fakespark/bin/spark-class"
	cp "$JD/fakespark/bin/spark-class" "$JD/fake-worker"
	chmod +x "$JD/fakespark/bin/spark-class" "$JD/fake-worker"

	LEGION_HOST=$JD_ADDR LEGION_TOKEN=$JD_TOKEN LEGION_SPARK_SECRET=$JD_SECRET \
		LEGION_TLS_NAME=$JD_NAME LEGION_CLUSTER=legion-0badcafe \
		AZURE_STORAGE_ACCOUNT_NAME=legiontest AZURE_STORAGE_ACCOUNT_KEY=$JD_STORAGE_KEY \
		bg_start jobd legion-master -i 600 -d "$JD/m"
	wait_for -t 20 test -s "$JD/m/tls.crt"
	wait_for -t 90 healthy
	LEGION_HOST=127.0.9.2 LEGION_MASTER=$JD_ADDR LEGION_TLS_CERT=$(cat "$JD/m/tls.crt") \
		LEGION_TLS_NAME=$JD_NAME LEGION_TOKEN=$JD_TOKEN LEGION_SPARK_SECRET=$JD_SECRET \
		LEGION_WORKER_NAME=w1 LEGION_WORKER_CORES=2 LEGION_WORKER_MEMORY=1024 \
		LEGION_IDLE_TIMEOUT=600 bg_start worker legion-worker -d "$JD/w" -u 30
	wait_for -t 120 spark_workers 1
}

teardown_file() {
	for n in worker jobd jobd2 jobd3 idle1 orphan1 idle3; do
		bg_stop "$n"
	done
}

healthy() {
	[ "$(api GET /v1/health 2>/dev/null | tail -n 1)" = 200 ]
}

spark_workers() {
	api GET /v1/status | head -n 1 | jq -e ".spark.aliveWorkers == $1" >/dev/null
}

# status_line TEXT: the first line of an HTTP answer, without its CR.
status_line() {
	local first=${1%%$'\n'*}
	echo "${first%$'\r'}"
}

# worker_env NAME HOST MASTER-ADDR: the environment of a worker agent for the main cert.
worker_env() {
	export LEGION_WORKER_NAME=$1 LEGION_HOST=$2 LEGION_MASTER=$3
	export LEGION_TLS_CERT=$(cat "$JD/m/tls.crt") LEGION_TLS_NAME=$JD_NAME
	export LEGION_TOKEN=$JD_TOKEN
}

@test "the job API answers holders of the cluster token" {
	run --separate-stderr api GET /v1/health
	[ "$status" -eq 0 ]
	# the job API's version: the CLI warns when a master speaks another
	[ "${lines[0]}" = "{\"ok\":true,\"version\":\"$(legion version | cut -d' ' -f2)\",\"api\":1}" ]
	[ "${lines[1]}" = 200 ]
	run --separate-stderr api GET /v1/status
	echo "$output"
	[ "${lines[1]}" = 200 ]
	echo "${lines[0]}" | jq -e '.cluster == "legion-0badcafe" and .master.url == "spark://127.0.9.1:7077"
		and .spark.status == "ALIVE" and .stopping == false
		and (.workers | map(.name) | index("w1")) != null'
}

@test "a request without the token or with a wrong one gets 401 before its body is read" {
	run --separate-stderr curl -sS --cacert "$JD/m/tls.crt" --resolve "$JD_NAME:7090:$JD_ADDR" \
		-w '\n%{http_code}' "https://$JD_NAME:7090/v1/status"
	[ "${lines[1]}" = 401 ]
	echo "${lines[0]}" | jq -e '.error.code == "Unauthorized"'
	# a 50 MB body is announced and never sent: the answer must come anyway
	run --separate-stderr raw_tls hold 10 < <(printf 'POST /v1/jobs HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer %s\r\nContent-Length: 50000000\r\n\r\n' "wrong$JD_TOKEN")
	echo "$output"
	[ "$(status_line "$output")" = "HTTP/1.1 401 Unauthorized" ]
	run --separate-stderr raw_tls hold 10 < <(printf 'POST /v1/jobs HTTP/1.1\r\nHost: m\r\nContent-Length: 50000000\r\n\r\n')
	[ "$(status_line "$output")" = "HTTP/1.1 401 Unauthorized" ]
}

@test "bad JSON gets 400, unknown paths and jobs 404, wrong methods 405" {
	run --separate-stderr api POST /v1/jobs --data-binary '{"app": "x.py", '
	[ "${lines[1]}" = 400 ]
	echo "${lines[0]}" | jq -e '.error.code == "BadJson" and (.error.message | length) > 0'
	run --separate-stderr api POST /v1/jobs --data-binary '{"app":"../x.py","appData":"cHJpbnQoMSkK"}'
	[ "${lines[1]}" = 400 ]
	run --separate-stderr api POST /v1/jobs --data-binary '{"app":"x.py","appData":"cHJpbnQoMSkK","conf":{"spark.authenticate.secret":"mine"}}'
	[ "${lines[1]}" = 400 ]
	run --separate-stderr api POST /v1/workers --data-binary '{"name":"x"}'
	[ "${lines[1]}" = 400 ]
	run --separate-stderr api GET /v1/nothing-here
	[ "${lines[1]}" = 404 ]
	run --separate-stderr api GET /v1/jobs/job-999
	[ "${lines[1]}" = 404 ]
	echo "${lines[0]}" | jq -e '.error.code == "JobNotFound"'
	run --separate-stderr api GET /v1/jobs/job-999/log
	[ "${lines[1]}" = 404 ]
	run --separate-stderr api DELETE /v1/status
	[ "${lines[1]}" = 405 ]
	run --separate-stderr api PUT /v1/jobs
	[ "${lines[1]}" = 405 ]
}

@test "a body over the limit gets 413 without being read" {
	run --separate-stderr raw_tls hold 10 < <(printf 'POST /v1/jobs HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer %s\r\nContent-Length: 200000000\r\n\r\n' "$JD_TOKEN")
	echo "$output"
	[ "$(status_line "$output")" = "HTTP/1.1 413 Content Too Large" ]
	head -c 70000 /dev/zero | tr '\0' 'x' >"$BATS_TEST_TMPDIR/big"
	run --separate-stderr api POST /v1/workers --data-binary @"$BATS_TEST_TMPDIR/big"
	[ "${lines[1]}" = 413 ]
	echo "${lines[0]}" | jq -e '.error.code == "PayloadTooLarge"'
}

@test "a request head over 8 KiB gets 431" {
	run --separate-stderr api GET /v1/health -H "X-Filler: $(head -c 9000 /dev/zero | tr '\0' 'a')"
	[ "${lines[1]}" = 431 ]
}

@test "truncated and silent requests do not hang the daemon" {
	exec 5<>"/dev/tcp/$JD_ADDR/7090" # connects and never says a word
	raw_tls close 5 < <(printf 'GET /v1/health HTTP/1.1\r\nHost: m\r\nAuthoriz')
	raw_tls close 5 < <(printf 'POST /v1/workers HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{"name":' "$JD_TOKEN")
	printf '\026\003\001\000\377garbage' >&5
	run --separate-stderr curl -sS --max-time 5 --cacert "$JD/m/tls.crt" --resolve "$JD_NAME:7090:$JD_ADDR" \
		-H @"$JD/auth.hdr" "https://$JD_NAME:7090/v1/health"
	exec 5>&-
	[ "$status" -eq 0 ]
	[ "$(jq -r .ok <<<"$output")" = true ]
}

@test "the certificate pins the master: right name and certificate accepted, others refused" {
	run openssl s_client -connect "$JD_ADDR:7090" -servername "$JD_NAME" -verify_hostname "$JD_NAME" \
		-CAfile "$JD/m/tls.crt" -verify_return_error </dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"Verify return code: 0 (ok)"* ]]
	run openssl s_client -connect "$JD_ADDR:7090" -servername other.legion -verify_hostname other.legion \
		-CAfile "$JD/m/tls.crt" -verify_return_error </dev/null
	[ "$status" -ne 0 ]
	# libcurl with BearSSL, as the helpers and the CLI use it
	worker_env pin-probe 127.0.9.7 "$JD_ADDR"
	run --separate-stderr legion-register -t 5 true
	echo "$stderr"
	[ "$status" -eq 0 ]
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$JD_NAME" \
		-addext "subjectAltName=DNS:$JD_NAME" -keyout "$BATS_TEST_TMPDIR/k" -out "$BATS_TEST_TMPDIR/c" 2>/dev/null
	LEGION_TLS_CERT=$(cat "$BATS_TEST_TMPDIR/c") run --separate-stderr legion-register -t 2 true
	echo "$stderr"
	[ "$status" -eq 111 ]
	LEGION_TLS_NAME=other.legion run --separate-stderr legion-register -t 2 true
	[ "$status" -eq 111 ]
	LEGION_TOKEN=wrong$JD_TOKEN run --separate-stderr legion-register -t 5 true
	[ "$status" -eq 77 ]
}

@test "a container's first process maps its public name to its own address in /etc/hosts" {
	[ "$(id -u)" = 0 ] && unshare -m -p -f true 2>/dev/null || skip "needs root, mount and pid namespaces"
	cp /etc/hosts "$BATS_TEST_TMPDIR/hosts"
	worker_env hosts-probe w1.legion-0badcafe.invalid "$JD_ADDR"
	export CONTAINER_IP=127.0.9.9
	# like a container: pid 1 in its own pid namespace, a private /etc/hosts
	run --separate-stderr unshare -m -p -f sh -c 'mount --bind "$1" /etc/hosts && exec legion-register -t 5 true' \
		sh "$BATS_TEST_TMPDIR/hosts"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/hosts")" = "$(printf '127.0.9.9\tw1.legion-0badcafe.invalid')" ]
	run --separate-stderr api GET /v1/status
	echo "${lines[0]}" | jq -e '.workers[] | select(.name == "hosts-probe") | .host == "w1.legion-0badcafe.invalid"'
}

@test "outside a container an unresolvable public name is never written to /etc/hosts" {
	local before
	before=$(sha256sum /etc/hosts)
	worker_env hosts-probe2 w2.legion-0badcafe.invalid "$JD_ADDR"
	export CONTAINER_IP=127.0.9.8
	run --separate-stderr legion-register -t 5 true
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $stderr == *"advertising 127.0.9.8 instead"* ]]
	[ "$(sha256sum /etc/hosts)" = "$before" ]
	run --separate-stderr api GET /v1/status
	echo "${lines[0]}" | jq -e '.workers[] | select(.name == "hosts-probe2") | .host == "127.0.9.8"'
}

@test "each helper has one usage line and exits 64 on a bad command line" {
	for h in legion-master legion-jobd legion-register legion-idle legion-worker; do
		run --separate-stderr "$h" -Z
		echo "$h: $status $stderr"
		[ "$status" -eq 64 ]
		[ "${stderr_lines[0]}" = "$h: fatal: unable to use option -Z" ]
		[[ ${stderr_lines[1]} == "usage: $h "* ]]
		run --separate-stderr "$h" -h
		[ "$status" -eq 0 ]
		[[ ${lines[0]} == "usage: $h "* ]]
		[[ ${lines[1]} == "exit: "* ]]
	done
	run --separate-stderr legion-idle
	[ "$status" -eq 64 ]
}

@test "a PySpark job streams its output as NDJSON and ends SUCCEEDED with exit code 0" {
	id=$(submit "$ROOT/examples/pi.py" 4)
	[[ $id == job-* ]]
	run --separate-stderr api GET "/v1/jobs/$id/log?follow=1" -N
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = 200 ]
	unset 'lines[-1]'
	printf '%s\n' "${lines[@]}" | jq -e -s 'length > 1' >/dev/null # every line is JSON
	printf '%s\n' "${lines[@]}" | grep -E '^\{"stream":"stdout","line":"Pi is roughly 3\.[0-9]+"\}$'
	[ "${lines[-1]}" = '{"state":"SUCCEEDED","exitCode":0}' ]
	run --separate-stderr api GET "/v1/jobs/$id"
	echo "${lines[0]}" | jq -e --arg id "$id" '.id == $id and .state == "SUCCEEDED" and .exitCode == 0'
}

@test "a job's spark.local.dir is a 0700 folder inside its own job folder, gone when the job ends" {
	cat >"$JD/localdir.py" <<-'EOF'
		import os, sys
		from pyspark.sql import SparkSession
		spark = SparkSession.builder.appName("localdir").getOrCreate()
		d = spark.sparkContext.getConf().get("spark.local.dir", "unset")
		spark.sparkContext.broadcast(list(range(1000)))  # a block in the driver's local dir
		print("local dir", d, flush=True)
		if os.path.isdir(d):
		    print("mode", oct(os.stat(d).st_mode & 0o777), "job folder", oct(os.stat(os.path.dirname(d)).st_mode & 0o777), flush=True)
		    print("entries", " ".join(sorted(n.split("-")[0] for n in os.listdir(d))), flush=True)
		sys.stdout.flush()
	EOF
	id=$(submit "$JD/localdir.py")
	wait_for -t 120 job_is "$id" SUCCEEDED FAILED KILLED
	run --separate-stderr api GET "/v1/jobs/$id/log"
	printf '%s\n' "${lines[@]}" | grep stdout
	printf '%s\n' "${lines[@]}" | grep -Fx "{\"stream\":\"stdout\",\"line\":\"local dir $JD/m/jobs/$id/local\"}"
	printf '%s\n' "${lines[@]}" | grep -Fx '{"stream":"stdout","line":"mode 0o700 job folder 0o700"}'
	printf '%s\n' "${lines[@]}" | grep -E '^\{"stream":"stdout","line":"entries .*blockmgr' # Spark uses it
	[ "${lines[-2]}" = '{"state":"SUCCEEDED","exitCode":0}' ]
	[ ! -e "$JD/m/jobs/$id/local" ] # removed with the job's files
	[ "$(ls "$JD/m/jobs/$id")" = log.ndjson ]
	# and a job cannot move it elsewhere
	body=$(jq -n --arg d "$(base64 -w0 "$JD/localdir.py")" \
		'{app: "a.py", appData: $d, conf: {"spark.local.dir": "/tmp"}}')
	run --separate-stderr api POST /v1/jobs -d "$body" -H 'Content-Type: application/json'
	[ "${lines[1]}" = 400 ]
	echo "${lines[0]}" | jq -e '.error.message == "conf: spark.local.dir is set by legion"'
}

@test "an app that raises ends FAILED with its traceback in the log" {
	id=$(submit "$JD/fail.py")
	wait_for -t 120 job_is "$id" SUCCEEDED FAILED KILLED
	run --separate-stderr api GET "/v1/jobs/$id"
	echo "${lines[0]}" | jq -e '.state == "FAILED" and .exitCode == 1'
	run --separate-stderr api GET "/v1/jobs/$id/log"
	# spark-submit merges a Python driver's stderr into its stdout
	printf '%s\n' "${lines[@]}" | grep -E '^\{"stream":"std(out|err)","line":"Traceback \(most recent call last\):"\}$'
	printf '%s\n' "${lines[@]}" | grep -E '^\{"stream":"std(out|err)","line":"ValueError: this app fails on purpose"\}$'
	[ "${lines[-2]}" = '{"state":"FAILED","exitCode":1}' ]
}

@test "a running job can be killed; meanwhile no secret is on a command line" {
	id=$(submit "$JD/slow.py")
	started() { api GET "/v1/jobs/$id/log" | grep -Fqx '{"stream":"stdout","line":"slow job started"}'; }
	wait_for -t 120 started
	executors() { api GET /v1/status | head -n 1 | jq -e '.spark.coresUsed > 0' >/dev/null; }
	wait_for -t 60 executors
	run cmdlines_with "$JD_TOKEN" "$JD_SECRET" "$JD_STORAGE_KEY"
	echo "$output"
	[ -z "$output" ]
	[ "$(stat -c %a "$JD/m/spark.properties")" = 600 ]
	[ "$(stat -c %a "$JD/m/jobs/$id/spark.properties")" = 600 ]
	[ "$(stat -c %a "$JD/w/spark.properties")" = 600 ]
	grep -qx "spark.hadoop.fs.azure.account.key.legiontest.dfs.core.windows.net=$JD_STORAGE_KEY" "$JD/m/spark.properties"
	w=$(pgrep -s "$(bg_pid worker)" -f '/java .*org\.apache\.spark\.deploy\.worker\.Worker')
	[ -n "$w" ]
	[ -z "$(tr '\0' '\n' <"/proc/$w/environ" | grep -E '^LEGION_(TOKEN|SPARK_SECRET)=')" ]
	# (the daemon's memory while a job runs is a target of bench/spark.sh, not a test)

	run --separate-stderr api DELETE "/v1/jobs/$id"
	echo "$output"
	[ "${lines[1]}" = 200 ]
	echo "${lines[0]}" | jq -e '.state == "KILLED" and .exitCode > 128'
	wait_for -t 20 test -z "$(procs_under "$JD/m/jobs/$id")"
	[ "$(ls "$JD/m/jobs/$id")" = log.ndjson ] # the app and its secret are gone
	run --separate-stderr api GET "/v1/jobs/$id/log?follow=1"
	printf '%s\n' "${lines[@]}" | grep -Fx '{"stream":"stdout","line":"slow job started"}'
	[[ ${lines[-2]} == '{"state":"KILLED","exitCode":'* ]]
}

@test "a worker with no executors stops itself after its idle timeout" {
	worker_env idle1 127.0.9.5 "$JD_ADDR"
	bg_start idle1 legion-idle -n 1 -i 2 -w - "$JD/fake-worker" idle1
	run bg_rc idle1 120 # before a first executor or job, a worker waits at least 60 s
	cat "$JD/idle1.err"
	[ "$output" = 0 ]
	grep -F "legion-idle: stopping $JD/fake-worker: idle" "$JD/idle1.err"
	[ -z "$(procs_under "$JD/fake-worker idle1")" ]
}

@test "a worker whose master went away stops after -u seconds" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=m2.legion" \
		-addext "subjectAltName=DNS:m2.legion" -keyout "$JD/m2.key" -out "$JD/m2.crt" 2>/dev/null
	LEGION_HOST=127.0.9.3 LEGION_TOKEN=$JD_TOKEN LEGION_SPARK_SECRET=$JD_SECRET LEGION_TLS_NAME=m2.legion \
		LEGION_TLS_CERT=$(cat "$JD/m2.crt") LEGION_TLS_KEY=$(cat "$JD/m2.key") SPARK_HOME=$JD/fakespark \
		bg_start jobd2 legion-master -i 0 -d "$JD/m2"
	worker_env orphan1 127.0.9.6 127.0.9.3
	export LEGION_TLS_CERT=$(cat "$JD/m2.crt") LEGION_TLS_NAME=m2.legion
	bg_start orphan1 legion-idle -n 1 -u 2 -i 0 -w - "$JD/fake-worker" orphan1
	registered() { grep -q "worker orphan1 registered" "$JD/jobd2.err"; }
	wait_for -t 20 registered
	pkill -KILL -s "$(bg_pid jobd2)" # the daemon and its stand-in master, without warning
	run bg_rc orphan1 30
	cat "$JD/orphan1.err"
	[ "$output" = 0 ]
	grep -F "legion-idle: stopping $JD/fake-worker: the master is unreachable" "$JD/orphan1.err"
	[ -z "$(procs_under "$JD/fake-worker orphan1")" ]
}

@test "an idle daemon stops its master, tells heartbeating workers to stop, and exits 0" {
	LEGION_HOST=127.0.9.4 LEGION_TOKEN=$JD_TOKEN LEGION_SPARK_SECRET=$JD_SECRET LEGION_TLS_NAME=$JD_NAME \
		SPARK_HOME=$JD/fakespark bg_start jobd3 legion-master -i 5 -d "$JD/m3"
	wait_for -t 20 test -s "$JD/m3/tls.crt"
	worker_env idle3 127.0.9.8 127.0.9.4
	export LEGION_TLS_CERT=$(cat "$JD/m3/tls.crt")
	bg_start idle3 legion-idle -n 1 -i 0 -w - "$JD/fake-worker" idle3
	run bg_rc jobd3 120 # before a first job, a master waits at least 60 s
	cat "$JD/jobd3.err"
	[ "$output" = 0 ]
	run bg_rc idle3 30
	cat "$JD/idle3.err"
	[ "$output" = 0 ]
	grep -F "legion-idle: stopping $JD/fake-worker: the master says stop" "$JD/idle3.err"
	[ -z "$(procs_under "$JD/m3")" ]
	[ -z "$(procs_under "$JD/fake-worker idle3")" ]
	[ ! -e "$JD/m3/spark.properties" ] # the secret does not outlive the daemon
	[ ! -e "$JD/m3/tls.key" ]          # nor the TLS key: legion-jobd removes it once loaded
}

@test "SIGTERM stops the worker chain and the daemon (exit 143) and leaves no process behind" {
	kill -TERM "$(bg_pid worker)"
	run bg_rc worker 30
	grep '^legion-' "$JD/worker.err"
	echo "exit status $output"
	[ "$output" = 143 ]
	kill -TERM "$(bg_pid jobd)"
	run bg_rc jobd 30
	[ "$output" = 143 ]
	wait_for -t 20 test -z "$(procs_under "$JD")"
	[ ! -e "$JD/m/spark.properties" ]
}
