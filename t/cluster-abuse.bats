#!/usr/bin/env bats
# t/cluster-abuse.bats: a whole local cluster (real Spark, the CLI attached to its job)
# while a slow-client attacker (t/slowloris.py) holds hundreds of connections to its
# master's job API from the same loopback range: heartbeats, `legion status` and the
# CLI's log stream keep working, the worker stays, the job finishes. Leaves out the
# daemon-level cases and limits (t/jobd-abuse.bats) and timing targets (bench/abuse.sh).

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	[ -s attack.pid ] && kill "$(cat attack.pid)" 2>/dev/null || true
	[ -n "${cli:-}" ] && kill -INT "$cli" 2>/dev/null || true
	[ -n "${id:-}" ] && legion delete "$id" >/dev/null 2>&1 || true
}

# held N: the attacker holds at least N connections.
held() {
	[ -s attack.json ] && jq -e ".held >= $1" attack.json >/dev/null
}

@test "under a slowloris attack on the job API, status answers, the worker stays and the job finishes" {
	cat >steady.py <<'EOF'
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("steady").getOrCreate()
print("started", flush=True)
print("sum", spark.sparkContext.parallelize(range(4), 2).map(lambda x: time.sleep(12) or x).sum(), flush=True)
EOF
	# the worker stops itself after 30 s without an answer to its heartbeats (every 5 s):
	# the job (four 12 s tasks on one core) runs longer than that under attack
	legion submit --num-executors 1 --executor-memory 512m steady.py >job.out 2>job.err &
	cli=$!
	WAIT_FOR_TIMEOUT=120 wait_for grep -q '^started$' job.out
	id=$(grep -o 'starting cluster legion-[0-9a-f]\{8\}' job.err | head -n 1 | cut -d' ' -f3)
	local ip name
	ip=$(jq -r .ip "$LEGION_HOME/clusters/$id.json")
	name=$(jq -r .tlsName "$LEGION_HOME/clusters/$id.json")
	python3 "$ROOT/t/slowloris.py" --host "$ip" --name "$name" --conns 600 --secs 300 \
		--modes silent,trickle,half,head --gap 2 --status attack.json >attack.out 2>&1 &
	echo $! >attack.pid
	wait_for -t 30 held 500
	local checks=0 fails=0 out least=100000 h
	while kill -0 "$cli" 2>/dev/null; do
		if ! out=$(timeout 20 legion status "$id" 2>&1); then
			if kill -0 "$cli" 2>/dev/null; then # not an answer while the run is on
				fails=$((fails + 1))
				echo "status failed: $out"
			fi
		elif jq -e '.clusters[0].jobs[0].state == "RUNNING"' <<<"$out" >/dev/null; then
			# while the job runs, its worker must be there
			if jq -e '[.clusters[0].workers[] | select(.state == "Running")] | length == 1' \
				<<<"$out" >/dev/null; then
				checks=$((checks + 1))
				h=$(jq -r .held attack.json) && [ "$h" -lt "$least" ] && least=$h
			else
				fails=$((fails + 1))
				echo "no running worker while the job runs: $out"
			fi
		fi
		[ "$checks" -lt 200 ] || break
		sleep 1 # pacing the checks, not waiting for anything
	done
	local rc=0
	wait "$cli" || rc=$?
	cli=
	jq -c '{held, opened, closed}' attack.json
	echo "status checks passed: $checks, failed: $fails; the run exited $rc"
	grep '^legion:' job.err | tail -n 8
	[ "$rc" -eq 0 ]
	grep -qx 'sum 6' job.out
	[ "$checks" -ge 5 ]
	[ "$fails" -eq 0 ]
	echo "fewest connections held while the job ran: $least"
	[ "$least" -lt 100000 ] # seen while the job ran
	[ "$least" -ge 100 ] # the attack went on all along (the daemon closes slow ones at 10 s; the attacker reopens)
}
