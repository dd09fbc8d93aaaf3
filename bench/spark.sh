#!/usr/bin/env bash
# bench/spark.sh: the local backend with real Spark (run by bench/run.sh). Prints
# Markdown: pi.py through `legion submit` vs the same cluster started by hand, the time
# from a job's end to the last worker process gone (idle exit), and the resident
# memory of each helper while a job runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/venv}
SPARK_HOME=$(ls -d "$VENV"/lib/python3*/site-packages/pyspark | head -n 1)
export SPARK_HOME PYSPARK_PYTHON=$VENV/bin/python3
work=$(mktemp -d)
export LEGION_HOME=$work/home
RUNS=${RUNS:-3}
by_hand_pids=()
cleanup() {
	for p in "${by_hand_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

# The same cluster by hand: a master and two workers, each on its own address like
# legion's, then spark-submit in client mode.
by_hand() {
	local m=127.1.250.1 secret
	secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	printf 'spark.authenticate=true\nspark.authenticate.secret=%s\nspark.network.crypto.enabled=true\nspark.master.rest.enabled=false\n' \
		"$secret" >"$work/spark.conf"
	chmod 600 "$work/spark.conf"
	by_hand_pids=()
	SPARK_LOCAL_IP=$m "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
		--host $m --port 7077 --webui-port 8080 --properties-file "$work/spark.conf" \
		>"$work/master.log" 2>&1 &
	by_hand_pids+=($!)
	for w in 2 3; do
		SPARK_LOCAL_IP=127.1.250.$w "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
			spark://$m:7077 --host 127.1.250.$w --cores 1 --memory 1024m --webui-port 8081 \
			--work-dir "$work/w$w" --properties-file "$work/spark.conf" >"$work/worker$w.log" 2>&1 &
		by_hand_pids+=($!)
	done
	until curl -fsS "http://$m:8080/json/" 2>/dev/null | jq -e '[.workers[] | select(.state == "ALIVE")] | length == 2' >/dev/null; do
		sleep 0.2
	done
	SPARK_LOCAL_IP=127.1.250.4 "$SPARK_HOME/bin/spark-submit" --master spark://$m:7077 \
		--properties-file "$work/spark.conf" --conf spark.executor.memory=1024m \
		--conf spark.driver.host=127.1.250.4 examples/pi.py >"$work/hand.out" 2>"$work/hand.err"
	grep -q 'Pi is roughly' "$work/hand.out"
	for p in "${by_hand_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${by_hand_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	by_hand_pids=()
}

with_legion() {
	./legion submit --num-executors 2 examples/pi.py >"$work/legion.out" 2>"$work/legion.err"
	grep -q 'Pi is roughly' "$work/legion.out"
}

echo "## pi.py with two workers: \`legion submit\` vs the same cluster by hand"
echo
echo "| run | by hand (s) | legion submit (s) |"
echo "| --- | --- | --- |"
hand_total=0 legion_total=0
for i in $(seq "$RUNS"); do
	t0=$(now); by_hand; t1=$(now); with_legion; t2=$(now)
	h=$(echo "$t1 - $t0" | bc) l=$(echo "$t2 - $t1" | bc)
	hand_total=$(echo "$hand_total + $h" | bc) legion_total=$(echo "$legion_total + $l" | bc)
	printf '| %d | %.1f | %.1f |\n' "$i" "$h" "$l"
done
printf '| mean | %.1f | %.1f |\n' "$(echo "$hand_total / $RUNS" | bc -l)" "$(echo "$legion_total / $RUNS" | bc -l)"
printf '\nOverhead of legion: %.1f%% (target: at most 10%%)\n\n' \
	"$(echo "($legion_total - $hand_total) * 100 / $hand_total" | bc -l)"

# Idle exit and helper memory: a detached job on a cluster with a 10 s idle timeout.
idle=10
out=$(./legion submit --num-executors 2 --idle-timeout $idle --detach examples/pi.py 200 2>"$work/detach.err")
cluster=$(jq -r .cluster <<<"$out") job=$(jq -r .job <<<"$out")
pids_of() { # helper processes of this cluster, by name
	local p
	for p in /proc/[0-9]*; do
		tr "\\0" "\\n" 2>/dev/null <"$p/environ" | grep -qx "LEGION_CLUSTER=$cluster" || continue
		[ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}
declare -A peak=()
state=RUNNING
while [ "$state" = RUNNING ] || [ "$state" = QUEUED ]; do
	for h in legion-jobd legion-idle; do
		for p in $(pids_of $h); do
			kb=$(awk '/VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
			[ "${kb:-0}" -gt "${peak[$h]:-0}" ] && peak[$h]=$kb
		done
	done
	state=$(./legion status "$cluster" 2>/dev/null | jq -r --arg j "$job" '.clusters[0].jobs[]? | select(.id == $j) | .state' || echo RUNNING)
	[ -n "$state" ] || state=RUNNING
	sleep 0.5
done
t_end=$(now)
while [ -n "$(pids_of java)$(pids_of legion-idle)" ]; do sleep 0.1; done
t_gone=$(now)
echo "## Idle exit and helper memory (detached job, --idle-timeout ${idle}s)"
echo
printf -- '- job end (seen by polling every 0.5 s) to the last worker process gone: %.1f s (target: at most idle-timeout + 2 s = %d s)\n' \
	"$(echo "$t_gone - $t_end" | bc)" $((idle + 2))
for h in legion-jobd legion-idle; do
	printf -- '- peak resident memory of %s while the job ran: %d KiB (target: at most 2048 KiB)\n' "$h" "${peak[$h]:-0}"
done
./legion delete "$cluster" >/dev/null 2>&1 || true
