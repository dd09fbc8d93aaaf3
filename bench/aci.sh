#!/usr/bin/env bash
# bench/aci.sh [DELAY]: time to result on the aci backend against t/fake-azure's exec
# mode (the real helpers and Spark as local processes) with --provision-delay DELAY
# (default 20 s): pi.py with two workers, submit to result, and its --timings
# timeline; then the executors a job asking for N (2, 4) has when its first stage
# starts, from the driver's own count (t/fixtures/executors.py); in Markdown.
# LEGION and HELPERS name other builds (e.g. /tmp/legion-old) for a before/after;
# COUNTS (default "2 4") the executor counts asked for ("" skips them).
# Leaves out real Azure (image pulls, DNS).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=${1:-20}
LEGION=${LEGION:-$ROOT/legion}
HELPERS=${HELPERS:-$ROOT/helpers}
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/venv}
SPARK_HOME=$(ls -d "$VENV"/lib/python3*/site-packages/pyspark | head -n 1)
export SPARK_HOME PYSPARK_PYTHON=$VENV/bin/python3 PATH=$HELPERS:$PATH
work=$(mktemp -d)
export LEGION_HOME=$work/home LEGION_IMAGE=registry.test/legion/spark:test
source t/fake_azure_helper.bash
trap 'fake_azure_stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fake_azure_start --dir "$work/fa" --exec --provision-delay "$D" >/dev/null
t0=$(date +%s.%N)
"$LEGION" submit --backend aci --timings --num-executors 2 --idle-timeout 60 examples/pi.py \
	>"$work/out" 2>"$work/err"
t1=$(date +%s.%N)
grep -q 'Pi is roughly' "$work/out"
echo "## ACI (emulator, exec mode, --provision-delay $D): pi.py with two workers"
echo
printf 'submit to result: %.1f s\n\n' "$(echo "$t1 - $t0" | bc)"
echo '```'
grep '^legion: timing:' "$work/err"
echo '```'
[ -n "${COUNTS-2 4}" ] || exit 0
echo
echo "### The executors a job has when its first stage starts (the driver's getExecutorMemoryStatus)"
echo
echo "| asked for | seen | first stage |"
echo "| --- | --- | --- |"
for n in ${COUNTS-2 4}; do
	"$LEGION" submit --backend aci --num-executors "$n" --executor-memory 512m --idle-timeout 60 \
		t/fixtures/executors.py >"$work/c.out" 2>"$work/c.err" || { tail -20 "$work/c.err" >&2; exit 1; }
	printf '| %d | %s | %s |\n' "$n" "$(sed -n 's/^executors //p' "$work/c.out")" \
		"$(sed -n 's/^first stage //p' "$work/c.out")"
done
