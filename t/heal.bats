#!/usr/bin/env bats
# t/heal.bats: clocks that fit the cloud and self-healing, with real Spark through the aci
# backend: ARM calls against t/fake-azure, whose exec mode runs each container group's
# command (the real legion-jobd and legion-worker beside the legion under test) as local
# processes. A short idle timeout outlives a slow provisioning; a worker group killed
# mid-job is replaced and the job's result is right; the master killed mid-job is named.
# Plus legion-register giving up on a master that is gone. Leaves out the ARM lifecycle
# (t/aci.bats) and the job daemon's own API (t/jobd.bats).

load test_helper
load fake_azure_helper

setup_file() {
	export HELPERS=$(dirname "$LEGION")/helpers # beside the legion under test
	fake_azure_start_spark "$HELPERS"
	[ -n "${FAKE_AZURE_PID:-}" ] || return 0
	cat >"$BATS_FILE_TMPDIR/squares.py" <<-'EOF'
		# sum of squares over many short tasks: long enough to lose a container mid-job
		import sys, time
		from pyspark.sql import SparkSession
		spark = SparkSession.builder.appName("squares").getOrCreate()
		n = int(sys.argv[1])
		print("squares job started", flush=True)
		rdd = spark.sparkContext.parallelize(range(n), n)
		total = rdd.map(lambda x: (time.sleep(0.5), x * x)[1]).sum()
		print("sum of squares below %d: %d" % (n, total), flush=True)
		spark.stop()
	EOF
}

teardown_file() {
	fake_azure_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	case $BATS_TEST_DESCRIPTION in
	legion-register*) return 0 ;; # no emulator, no Spark
	esac
	[ -n "${FAKE_AZURE_PID:-}" ] || skip "helpers or the Spark venv missing (make; make spark)"
	fake_azure_reset >/dev/null
	export LEGION_BACKEND=aci LEGION_IMAGE=registry.test/legion/spark:test
}

bg_legion() { # OUT ARGS...: legion in the background, output in OUT.{out,err}
	local out=$1
	shift
	"$LEGION" "$@" >"$out.out" 2>"$out.err" 3>&- &
	BG_PID=$!
}

bg_wait() { # BG_RC: the exit status of the last bg_legion (deadline 300 s)
	wait_for -t 300 eval '! kill -0 "$BG_PID" 2>/dev/null' || kill -TERM "$BG_PID"
	BG_RC=0
	wait "$BG_PID" || BG_RC=$?
}

cluster_of() {
	grep -o 'starting cluster legion-[0-9a-f]\{8\}' "$1" | head -n1 | cut -d' ' -f3
}

group_names() {
	fake_azure_groups | jq -r '.value | map(.name)[]'
}

no_groups_left() {
	[ -z "$(group_names)" ]
}

# Every process a container group started (the emulator puts CONTAINER_GROUP in their
# environment): what dies when ACI loses the container.
group_pids() {
	local f
	for f in /proc/[0-9]*/environ; do
		{ tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qx "CONTAINER_GROUP=$1" || continue
		f=${f#/proc/}
		echo "${f%/environ}"
	done
}

kill_group() {
	local pids
	pids=$(group_pids "$1")
	[ -n "$pids" ]
	kill -KILL $pids
}

put_of() { # NAME: ARM was asked to create container group NAME
	jq -se --arg n "$1" 'map(select(.method == "PUT" and
		(.path | split("?")[0] | endswith("/containerGroups/" + $n)))) | length > 0' \
		"$FAKE_AZURE_LOG" >/dev/null
}

not() { # `! cmd` does not fail a bats test; `not cmd` does
	! "$@"
}

no_cluster_process() { # ID: nothing of cluster ID runs any more
	! cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -qx "LEGION_CLUSTER=$1"
}

@test "an idle timeout shorter than the workers' provisioning does not stop the master early" {
	fake_azure_config '{"provision_delay": 8}' >/dev/null
	# (timeout: a run whose workers idled out before the job would wait for them forever)
	run --separate-stderr timeout 300 "$LEGION" submit --num-executors 1 --idle-timeout 5 \
		"$ROOT/examples/pi.py" 2
	echo "$stderr" | grep '^legion'
	[ "$status" -eq 0 ]
	[[ $output =~ Pi\ is\ roughly\ 3\.1 ]]
	[[ $stderr == *"1 of 1 workers registered"* ]]
	no_groups_left
}

@test "a worker group killed mid-job is replaced, the job's result is right, nothing is left" {
	bg_legion run submit --num-executors 2 --idle-timeout 60 "$BATS_FILE_TMPDIR/squares.py" 60
	wait_for -t 180 grep -q "squares job started" run.out
	local cluster w1
	cluster=$(cluster_of run.err)
	w1=$(group_names | grep -- '-w1$')
	[ -n "$w1" ]

	kill_group "$w1"
	bg_wait
	cat run.err
	[ "$BG_RC" -eq 0 ]
	grep -qx "sum of squares below 60: 70210" run.out
	grep -qx "legion: worker $w1 stopped (Failed, exit 137): replacing it (1 of 2)" run.err
	# the replacement is a new group of the same run, created through ARM and deleted
	put_of "${w1%1}3"
	no_groups_left
	wait_for -t 60 no_cluster_process "$cluster"
}

@test "--max-replacements 0: a worker killed mid-job is named, not replaced" {
	bg_legion run submit --num-executors 2 --max-replacements 0 --idle-timeout 60 \
		"$BATS_FILE_TMPDIR/squares.py" 40
	wait_for -t 180 grep -q "squares job started" run.out
	local cluster w2
	cluster=$(cluster_of run.err)
	w2=$(group_names | grep -- '-w2$')
	kill_group "$w2"
	bg_wait
	cat run.err
	[ "$BG_RC" -eq 0 ]
	grep -qx "sum of squares below 40: 20540" run.out
	grep -qx "legion: worker $w2 stopped (Failed, exit 137): not replacing it (--max-replacements 0)" run.err
	not put_of "${w2%2}3"
	no_groups_left
	wait_for -t 60 no_cluster_process "$cluster"
}

@test "the master killed mid-job is named as such: exit 69, nothing is left" {
	bg_legion run submit --num-executors 1 --idle-timeout 60 "$BATS_FILE_TMPDIR/squares.py" 200
	wait_for -t 180 grep -q "squares job started" run.out
	local cluster
	cluster=$(cluster_of run.err)
	kill_group "$cluster-master"
	bg_wait
	cat run.err
	[ "$BG_RC" -eq 69 ]
	grep -q "^legion: the master $cluster-master stopped (Failed, exit 137)" run.err
	no_groups_left
	wait_for -t 60 no_cluster_process "$cluster"
}

@test "legion-register gives up on a master that refuses connections after -g seconds: exit 111" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=gone.legion" -addext "subjectAltName=DNS:gone.legion" \
		-keyout gone.key -out gone.crt 2>/dev/null
	# nothing listens on 127.0.23.1: a master whose container ended
	run --separate-stderr env LEGION_TOKEN=0123456789abcdef0123456789abcdef \
		LEGION_TLS_CERT="$(cat gone.crt)" LEGION_TLS_NAME=gone.legion LEGION_MASTER=127.0.23.1 \
		LEGION_HOST=127.0.23.2 LEGION_WORKER_NAME=w1 \
		timeout 120 "$HELPERS/legion-register" -g 2 -t 3600 true
	echo "$stderr"
	[ "$status" -eq 111 ]
	[[ $stderr == *"legion-register: fatal: unable to register: the master 127.0.23.1 is gone (it refuses connections for 2s)"* ]]
}

@test "local backend: a worker killed mid-job is replaced, the job's result is right, nothing is left" {
	export LEGION_BACKEND=local
	bg_legion run submit --num-executors 2 --idle-timeout 60 "$BATS_FILE_TMPDIR/squares.py" 60
	wait_for -t 180 grep -q "squares job started" run.out
	local cluster w1 sid pids
	cluster=$(cluster_of run.err)
	w1=$(basename "$(ls -d "$LEGION_HOME"/groups/*-w1)")
	# the group's session leader is its supervisor: everything else in the session is
	# what the container ran (the worker chain and Spark's JVMs)
	read -r sid _ <"$LEGION_HOME/groups/$w1/pid"
	pids=$(ps -o pid= --sid "$sid" | awk -v s="$sid" '$1 != s')
	[ -n "$pids" ]
	kill -KILL $pids
	bg_wait
	cat run.err
	[ "$BG_RC" -eq 0 ]
	grep -qx "sum of squares below 60: 70210" run.out
	grep -qx "legion: worker $w1 stopped (Failed, exit 137): replacing it (1 of 2)" run.err
	grep -q "deleting 4 container groups" run.err # the master, two workers and the new one
	[ -z "$(ls "$LEGION_HOME/groups" 2>/dev/null)" ]
	wait_for -t 60 no_cluster_process "$cluster"
}
