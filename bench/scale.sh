#!/usr/bin/env bash
# bench/scale.sh: --max-executors vs --num-executors on the local backend with real
# Spark. The three-phase job (a wide stage, a driver-only pause of PAUSE seconds, a wide
# stage) runs twice, one after the other: `--max-executors 4 --min-executors 0` and
# `--num-executors 4`. Prints a Markdown table: worker-seconds (legion's own
# "worker-seconds:" line: the sum over workers of the time each group existed) and the
# wall time of each submit, with Legion's own defaults for the scaled run (no --conf).
# Then the scaled run's timeline: when each scaling step and each stage's first task
# came (seconds after the submit began), which shows where its worker-seconds go.
# Target (issue 13): at least 40% fewer worker-seconds, wall time at most 1.25x. Run it
# under the machine's test lock (LEGION_CDS_DIR=DIR: class archives of mk/cds.sh, as
# the image has them):
#   flock /tmp/legion-test.lock bash bench/scale.sh [PAUSE]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LEGION=${LEGION_BIN:-$ROOT/legion}
PAUSE=${1:-60}
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/venv}
export LEGION_CACHE_VENV=$VENV
work=$(mktemp -d)
export LEGION_HOME=$work/home
trap 'rm -rf "$work"' EXIT
cp "$(dirname "$0")/../t/fixtures/phases.py" "$work/phases.py"
run() { # NAME ARGS...: one submit; prints "NAME worker-seconds wall"
	local name=$1 t0 t1 ws
	shift
	t0=$(date +%s.%N)
	timeout 900 "$LEGION" submit --force --executor-memory 512m --idle-timeout 120 \
		"$@" "$work/phases.py" "$PAUSE" 8000 16 0.005 >"$work/$name.out" \
		2> >(while IFS= read -r l; do
			printf '%.1f %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$l"
		done >"$work/$name.err")
	t1=$(date +%s.%N)
	sleep 1 # the timestamping loop drains
	[ "$(cat "$work/$name.out")" = "$(printf 'phase1 8000\nphase2 8000')" ] || {
		echo "$name: wrong result" >&2
		cat "$work/$name.out" "$work/$name.err" >&2
		exit 1
	}
	ws=$(sed -n 's/^[0-9.]* legion: worker-seconds: \([0-9]*\).*/\1/p' "$work/$name.err")
	echo "$name $ws $(echo "$t1 - $t0" | bc)"
}
scaled=$(run scaled --max-executors 4 --min-executors 0)
static=$(run static --num-executors 4)
read -r _ sw st <<<"$scaled"
read -r _ fw ft <<<"$static"
echo "## Autoscaling: three-phase job, --max-executors 4 vs --num-executors 4 ($(date -u +%F), pause ${PAUSE}s)"
echo
echo "| run | worker-seconds | wall s |"
echo "| --- | --- | --- |"
printf '| `--max-executors 4 --min-executors 0` | %s | %.1f |\n' "$sw" "$st"
printf '| `--num-executors 4` | %s | %.1f |\n' "$fw" "$ft"
echo
awk -v sw="$sw" -v fw="$fw" -v st="$st" -v ft="$ft" 'BEGIN {
	printf "worker-seconds: %.0f%% fewer (target at least 40%%); wall time: %.2fx (target at most 1.25x)\n",
		100 * (1 - sw / fw), st / ft }'
echo
echo "timeline of the scaled run (s after the submit began):"
echo
# the scaling steps, the first progress line with tasks of each Spark job, the summary
awk '/ legion: (scaling|worker-seconds)/ { print "    " $0; next }
	/ legion: job-1 running.*Spark job [0-9]+ stage.*tasks/ {
		j = $0; sub(/.*Spark job /, "", j); sub(/ .*/, "", j)
		if (!(j in seen)) { seen[j] = 1; print "    " $0 } }' "$work/scaled.err"
