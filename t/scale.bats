#!/usr/bin/env bats
# t/scale.bats: --max-executors on the local backend with real Spark: workers come when
# the driver wants executors and go when Spark releases them (down to none in a
# driver-only phase), a shuffle still referenced survives scale-in, a worker stopped
# mid-job is decommissioned (its shuffle blocks move), and the options' usage errors.
# The worker count is sampled from `legion status` in the background.

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

cluster_pids() { # every process that carries the cluster's id in its environment
	local id=$1 p
	for p in /proc/[0-9]*; do
		tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "LEGION_CLUSTER=$id" && echo "${p#/proc/}"
	done
	return 0
}

# sample FILE: one line per second, the number of workers `legion status` shows
# (clusters summed; nothing while there is no cluster), until STOP exists.
sample() {
	while [ ! -e STOP ]; do
		legion status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d["clusters"]:
    print(sum(len(c["workers"]) for c in d["clusters"]))' >>"$1" || true
		sleep 1
	done
}

# The app: a wide stage, a driver-only pause, a wide stage; each stage's sum is 4000.
phases_app() {
	cp "$ROOT/t/fixtures/phases.py" .
}

@test "--max-executors: workers come for a wide stage, go to none in a driver-only pause, come again; right result; nothing left" {
	phases_app
	sample counts &
	local sampler=$!
	run --separate-stderr timeout 400 legion submit --force --min-executors 0 \
		--max-executors 4 --executor-memory 512m --idle-timeout 120 \
		--conf spark.dynamicAllocation.executorIdleTimeout=5s \
		--conf spark.cleaner.periodicGC.interval=5s phases.py 40
	touch STOP
	wait "$sampler"
	echo "$stderr" | grep '^legion:'
	echo "samples: $(uniq counts | tr '\n' ' ')"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'phase1 4000\nphase2 4000')" ]
	# the steps were said, up from none, down to none, up again
	grep -q '^legion: starting 0 workers$' <<<"$stderr"
	[ "$(grep -c '^legion: scaling to [1-4] workers\? (Spark wants [1-4], 0 running)$' <<<"$stderr")" -ge 2 ]
	grep -q '^legion: scaling to 0 workers (Spark wants 0, [1-4] running)$' <<<"$stderr"
	grep -q '^legion: worker-seconds: [0-9]* (peak [1-4] workers\?, [0-9]* created)$' <<<"$stderr"
	# what status showed: workers, then none, then workers again
	local shape
	shape=$(uniq counts | awk '{ s = $1 > 0 ? "W" : "0"; if (s != last) printf "%s", s; last = s }')
	echo "shape: $shape"
	[[ $shape == *W*0*W* ]]
	# nothing is left
	local id
	id=$(grep -o 'starting cluster legion-[0-9a-f]\{8\}' <<<"$stderr" | cut -d' ' -f3)
	[ -z "$(cluster_pids "$id")" ]
	run legion status
	[ "$output" = '{"clusters":[]}' ]
}

@test "--max-executors: a shuffle still referenced survives scale-in (no stage recomputed)" {
	# a 20 s pause, longer than executorIdleTimeout: only the shuffle keeps the executors
	run --separate-stderr timeout 400 legion submit --force --min-executors 0 \
		--max-executors 2 --executor-memory 512m --idle-timeout 120 \
		--conf spark.dynamicAllocation.executorIdleTimeout=3s "$ROOT/t/fixtures/shuffle_twice.py" 20
	echo "$stderr" | grep '^legion:'
	[ "$status" -eq 0 ]
	# the second action read the shuffle the first wrote: the map side ran once
	[ "$output" = "$(printf 'first 2000\nagain 2000 maps 2000')" ]
	grep -q '^legion: scaling to [12] workers\? (Spark wants [12], 0 running)$' <<<"$stderr"
	# the executors holding the shuffle were not released: no worker went
	! grep -q '^legion: scaling to 0 workers' <<<"$stderr"
}

@test "--max-executors: a worker stopped mid-job is decommissioned: its shuffle blocks move, no stage is recomputed" {
	timeout 400 legion submit --force --min-executors 2 --max-executors 2 \
		--executor-memory 512m --idle-timeout 120 "$ROOT/t/fixtures/shuffle_twice.py" "$PWD/GO" \
		2 >out 2>err & # both executors hold some of the shuffle: the first worker's too
	local submit=$!
	wait_for -t 300 grep -q '^first 2000$' out
	# the first worker's agent gets what a platform sends a container it stops
	local id w pid p
	id=$(cluster_of err)
	for p in $(cluster_pids "$id"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = legion-idle ] || continue
		w=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | sed -n 's/^LEGION_WORKER_NAME=//p')
		[[ $w == *-w1 ]] && pid=$p && break
	done
	[ -n "$pid" ]
	kill -TERM "$pid"
	gone() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
	wait_for -t 60 gone "$pid"
	# its log, before the run's end deletes the group
	grep -i 'decommission' "$LEGION_HOME/groups/$w/log" | cut -c1-200 >decommission.log
	cat decommission.log
	touch GO
	wait "$submit" || { cat err; false; }
	grep '^legion:' err
	# the second action read the blocks the stopped worker's executor had moved away
	[ "$(cat out)" = "$(printf 'first 2000\nagain 2000 maps 2000')" ]
	grep -q '^legion-idle: decommissioning the worker (1 executor)$' decommission.log
	grep -q 'INFO Worker: Decommission worker ' decommission.log
}

@test "--max-executors: usage errors name both values (64) before anything starts" {
	echo 'print(1)' >app.py
	run --separate-stderr legion submit --max-executors 2 --min-executors 3 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--max-executors 2 is below --min-executors 3"* ]]
	run --separate-stderr legion submit --max-executors 2 --num-executors 3 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--max-executors 2 is below --num-executors 3"* ]]
	run --separate-stderr legion submit --max-executors 4 --min-executors 3 --num-executors 2 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--num-executors 2 is below --min-executors 3"* ]]
	run --separate-stderr legion submit --min-executors 1 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--min-executors 1 needs --max-executors"* ]]
	run --separate-stderr legion submit --max-executors 2 --detach app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--max-executors 2 needs an attached submit"* ]]
	run --separate-stderr legion submit --max-executors 2 --total-executor-cores 2 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--total-executor-cores 2"*"--max-executors 2"* ]]
	run --separate-stderr legion submit --max-executors 0 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--max-executors: '0' is not a whole number from 1 to 256"* ]]
	# the local backend's quota: this machine's cores
	local n=$(($(nproc) + 1))
	run --separate-stderr legion submit --max-executors "$n" app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--max-executors $n x 1 cores = $n cores is above the $(nproc) this machine has"* ]]
	[ ! -d "$LEGION_HOME/groups" ] || [ -z "$(ls "$LEGION_HOME/groups")" ]
}
