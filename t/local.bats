#!/usr/bin/env bats
# The local backend end to end with real Spark: what a user without a cloud account
# gets from `legion submit`. Each test starts JVMs, so they are few and each checks
# several things; all of them check that no process of the cluster is left.

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

# The pids of every process that carries the cluster's id in its environment.
cluster_pids() {
	local id=$1 p
	for p in /proc/[0-9]*; do
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "LEGION_CLUSTER=$id" && echo "${p#/proc/}"
	done
	return 0
}

no_cluster_process() {
	[ -z "$(cluster_pids "$1")" ]
}

@test "submit runs pi.py and a shuffle on two clusters at once, prints their output, leaves nothing" {
	legion submit --num-executors 2 --idle-timeout 60 "$ROOT/examples/pi.py" 4 \
		>pi.out 2>pi.err &
	local a=$!
	legion submit --num-executors 1 --executor-memory 512m --idle-timeout 60 \
		"$ROOT/examples/wordcount.py" >wc.out 2>wc.err &
	local b=$!
	local ra=0 rb=0
	wait $a || ra=$?
	wait $b || rb=$?
	echo "pi: $ra wordcount: $rb"
	[ "$ra" -eq 0 ] || { tail -40 pi.err; false; }
	[ "$rb" -eq 0 ] || { tail -40 wc.err; false; }
	grep -Eq '^Pi is roughly 3\.1[0-9]*$' pi.out
	grep -qx 'distinct words: 18' wc.out
	grep -qx 'spark: [0-9]*' wc.out
	# stdout is the driver's output only: no progress lines there
	! grep -q '^legion:' pi.out
	local ca cb
	ca=$(cluster_of pi.err)
	cb=$(cluster_of wc.err)
	[ -n "$ca" ] && [ -n "$cb" ] && [ "$ca" != "$cb" ]
	# each got its own addresses: the two masters never shared one
	grep -q "job job-1 SUCCEEDED" pi.err
	wait_for -t 20 no_cluster_process "$ca"
	wait_for -t 20 no_cluster_process "$cb"
	run legion status
	[ "$status" -eq 0 ]
	[ "$(jq '.clusters | length' <<<"$output")" -eq 0 ]
}

@test "an app that raises: the traceback is shown, submit fails and tears down" {
	cat >boom.py <<'EOF'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("boom").getOrCreate()
print("before the error")
raise ValueError("legion test failure")
EOF
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m boom.py
	echo "$stderr" | tail -20
	[ "$status" -ne 0 ]
	[ "$status" -lt 64 ]
	[[ $output == *"before the error"* ]]
	# spark-submit hands a Python driver's stderr to its stdout: look at both
	[[ "$output$stderr" == *"ValueError: legion test failure"* ]]
	[[ "$output$stderr" == *"Traceback"* ]]
	local id
	id=$(grep -o 'starting cluster legion-[0-9a-f]\{8\}' <<<"$stderr" | cut -d' ' -f3)
	wait_for -t 20 no_cluster_process "$id"
	[ -z "$(ls "$LEGION_HOME/groups")" ]
}

@test "Ctrl-C during a job kills it, deletes the cluster and exits 130" {
	cat >slow.py <<'EOF'
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("slow").getOrCreate()
print("started", flush=True)
spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(600)).count()
EOF
	legion submit --num-executors 1 --executor-memory 512m slow.py >slow.out 2>slow.err &
	local pid=$!
	WAIT_FOR_TIMEOUT=120 wait_for grep -q '^started$' slow.out
	local id
	id=$(cluster_of slow.err)
	[ -n "$(cluster_pids "$id")" ]
	kill -INT $pid
	local rc=0
	wait $pid || rc=$?
	cat slow.err | tail -5
	[ "$rc" -eq 130 ]
	grep -q "interrupted: killing job" slow.err
	wait_for -t 20 no_cluster_process "$id"
	[ -z "$(ls "$LEGION_HOME/groups")" ]
}

# session_pids ID: every process in the sessions of cluster ID's groups (each group's
# supervisor leads one: the first field of its pid file).
session_pids() {
	local sids="" f
	for f in "$LEGION_HOME"/groups/"$1"-*/pid; do
		[ -s "$f" ] && sids="$sids $(cut -d' ' -f1 "$f")"
	done
	ps -e -o pid=,sid= | awk -v s="$sids" 'BEGIN { n = split(s, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		($2 in want) { print $1 }'
}

@test "no secret stays in the environment of a running cluster's processes: supervisors, each group's first process, Spark" {
	cat >slow.py <<'EOF'
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("slow").getOrCreate()
print("started", flush=True)
spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(600)).count()
EOF
	# secrets the CLI's own environment holds, which its forks inherit
	local key csec
	key=key-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	csec=csec-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	AZURE_STORAGE_ACCOUNT_NAME=legiontest AZURE_STORAGE_ACCOUNT_KEY=$key AZURE_CLIENT_SECRET=$csec \
		legion submit --num-executors 1 --executor-memory 512m slow.py >slow.out 2>slow.err &
	local pid=$!
	WAIT_FOR_TIMEOUT=120 wait_for grep -q '^started$' slow.out
	local id token spark
	id=$(cluster_of slow.err)
	token=$(jq -r .token "$LEGION_HOME/clusters/$id.json")
	spark=$(jq -r .sparkSecret "$LEGION_HOME/clusters/$id.json")
	[ ${#token} -ge 32 ] && [ ${#spark} -ge 16 ]
	# an executor runs: every process of the cluster is there
	executor() { [ -n "$(cmdlines "$id" | grep CoarseGrainedExecutorBackend)" ]; }
	wait_for -t 60 executor
	local p n=0 bad="" found
	for p in $(session_pids "$id"); do
		found=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
			grep -F -e "$token" -e "$spark" -e "$key" -e "$csec" | cut -d= -f1) || true
		[ -r "/proc/$p/environ" ] || continue
		n=$((n + 1))
		# Spark's worker hands an executor the secret as _SPARK_AUTH_SECRET: it needs it
		if grep -q CoarseGrainedExecutorBackend "/proc/$p/cmdline" 2>/dev/null; then
			found=$(grep -vx _SPARK_AUTH_SECRET <<<"$found") || true
		fi
		[ -z "$found" ] || bad="$bad
$p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-100): $(echo $found)"
	done
	echo "checked $n processes; with secrets:$bad"
	# 2 supervisors, legion-jobd, Spark's master, the driver, legion-idle, the worker, the executor
	[ "$n" -ge 8 ]
	[ -z "$bad" ]
	kill -INT $pid
	wait $pid || true
	wait_for -t 20 no_cluster_process "$id"
}

# cmdlines ID: the command lines of the processes in cluster ID's sessions.
cmdlines() {
	local p
	for p in $(session_pids "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null && echo
	done
}

@test "deploy-master, then submit --master, status with jobs, logs, delete" {
	run --separate-stderr legion deploy-master --idle-timeout 120
	[ "$status" -eq 0 ]
	local id
	id=$(jq -r .cluster <<<"$output")
	[[ $id =~ ^legion-[0-9a-f]{8}$ ]]
	[ "$(jq -r .master.name <<<"$output")" = "$id-master" ]
	[[ $(jq -r .master.ip <<<"$output") =~ ^127\.1\.[0-9]+\.[0-9]+$ ]]
	# the credentials stay private to this user
	[ "$(stat -c %a "$LEGION_HOME/clusters/$id.json")" = 600 ]

	run --separate-stderr legion submit --master "$id" --num-executors 1 \
		--executor-memory 512m "$ROOT/examples/pi.py"
	echo "$stderr" | tail -5
	[ "$status" -eq 0 ]
	[[ $output == *"Pi is roughly 3.1"* ]]

	# the master stays; its workers are gone
	run --separate-stderr legion status "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.clusters[0].master.state' <<<"$output")" = Running ]
	[ "$(jq -r '.clusters[0].jobs[0].state' <<<"$output")" = SUCCEEDED ]
	[ "$(jq '[.clusters[0].workers[] | select(.state == "Running")] | length' <<<"$output")" -eq 0 ]

	run --separate-stderr legion logs "$id"
	[ "$status" -eq 0 ]
	[[ $output == *"Pi is roughly 3.1"* ]]

	run --separate-stderr legion logs "$id" --container "$id-master" --tail 5
	[ "$status" -eq 0 ]
	[ "$(wc -l <<<"$output")" -le 5 ]

	run legion status -o table
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == CLUSTER* ]]
	[[ $output == *"$id-master"*master*Running* ]]

	# --follow keeps printing the container's output and ends when the container does
	legion logs "$id" --container "$id-master" --follow >follow.out 2>follow.err &
	local follower=$!
	wait_for -t 20 test -s follow.out

	run legion delete "$id"
	[ "$status" -eq 0 ]
	wait_for -t 20 eval "! kill -0 $follower 2>/dev/null"
	grep -q "legion-jobd" follow.out
	wait_for -t 20 no_cluster_process "$id"
	[ ! -e "$LEGION_HOME/clusters/$id.json" ]
	run legion delete "$id" # idempotent
	[ "$status" -eq 0 ]
}

@test "workers do not idle out while a job is starting, even with a short idle timeout" {
	cat >late.py <<'EOF2'
import time
time.sleep(8)  # a slow start: longer than the idle timeout, before any executor exists
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("late").getOrCreate()
print("sum", spark.sparkContext.parallelize(range(10), 2).sum())
EOF2
	run --separate-stderr timeout 180 legion submit --num-executors 1 --executor-memory 512m \
		--idle-timeout 3 late.py
	echo "$stderr" | grep '^legion:'
	[ "$status" -eq 0 ]
	[ "$output" = "sum 45" ]
}

@test "the master's UI does not kill a running app: spark.ui.killEnabled is off" {
	cat >steady.py <<'EOF2'
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("steady").getOrCreate()
print("started", flush=True)
spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(15)).count()
print("done", flush=True)
EOF2
	legion submit --num-executors 1 --executor-memory 512m steady.py >steady.out 2>steady.err &
	local pid=$!
	WAIT_FOR_TIMEOUT=120 wait_for grep -q '^started$' steady.out
	local id ip app
	id=$(cluster_of steady.err)
	ip=$(jq -r .ip "$LEGION_HOME/clusters/$id.json")
	app=$(curl -sf "http://$ip:8080/json/" | jq -r '.activeapps[0].id')
	[[ $app == app-* ]]
	# what an attacker who reached the UI would send
	curl -s -o /dev/null -X POST "http://$ip:8080/app/kill/?id=$app&terminate=true" || true
	sleep 2
	[ "$(curl -sf "http://$ip:8080/json/" | jq -r '.activeapps[0].id')" = "$app" ]
	local rc=0
	wait $pid || rc=$?
	tail -5 steady.err
	[ "$rc" -eq 0 ]
	grep -q '^done$' steady.out
	wait_for -t 20 no_cluster_process "$id"
}

@test "a job starts with the executors it asked for (spark.cores.max, minRegisteredResourcesRatio)" {
	cat >count.py <<'EOF2'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("count").getOrCreate()
sc = spark.sparkContext
# executors and the driver, as the job sees them at its first line
print("executors", sc._jsc.sc().getExecutorMemoryStatus().size() - 1, flush=True)
print("cores", sc.getConf().get("spark.cores.max"), flush=True)
EOF2
	run --separate-stderr legion submit --num-executors 2 --executor-memory 512m count.py
	echo "$stderr" | tail -5
	[ "$status" -eq 0 ]
	[[ $output == *"executors 2"* ]]
	[[ $output == *"cores 2"* ]]
}
