#!/usr/bin/env bash
# bench/startup.sh: time to result on the local backend (issue 12), run by bench/run.sh
# or alone. Prints Markdown: pi.py with two executors through `legion submit` with the
# class archives (mk/cds.sh, `make cds`), without them (LEGION_CDS_DIR=off) and
# `spark-submit --master local[2]`, alternating, RUNS (default 5) of each, medians; one
# `--timings` timeline of each legion kind; the executors a job asking for N (2, 4)
# sees when its first line runs, from the driver's own count. BEFORE=DIR adds a kind
# "before": DIR's legion and helpers (another build, e.g. a worktree of an older commit)
# with the same archives, in the same alternation. Leaves out ACI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/venv}
SPARK_HOME=$(ls -d "$VENV"/lib/python3*/site-packages/pyspark | head -n 1)
export SPARK_HOME PYSPARK_PYTHON=$VENV/bin/python3
CDS=${CDS_DIR:-$HOME/.cache/legion/cds}
[ -f "$CDS/master.ok" ] || { echo "bench/startup.sh: no archives in $CDS: make cds" >&2; exit 78; }
work=$(mktemp -d)
export LEGION_HOME=$work/home
RUNS=${RUNS:-5}
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# legion submit; $1: cds dir or "off"; the timeline into $2; $3: the legion binary
legion_pi() {
	LEGION_CDS_DIR=$1 "${3:-./legion}" submit --timings --num-executors 2 --executor-memory 512m \
		examples/pi.py >"$work/l.out" 2>"$work/l.err"
	grep -q 'Pi is roughly' "$work/l.out"
	grep '^legion: timing:' "$work/l.err" >"$2"
}
local_pi() {
	"$SPARK_HOME/bin/spark-submit" --master 'local[2]' examples/pi.py >"$work/s.out" 2>"$work/s.err"
	grep -q 'Pi is roughly' "$work/s.out"
}

: >"$work/cds.s"
: >"$work/plain.s"
: >"$work/local.s"
kinds="cds plain local"
[ -z "${BEFORE:-}" ] || kinds="before $kinds"
for i in $(seq "$RUNS"); do
	if [ -n "${BEFORE:-}" ]; then
		tb=$(now)
		legion_pi "$CDS" "$work/before.timeline" "$BEFORE/legion"
		echo "$(now) - $tb" | bc >>"$work/before.s"
		printf 'run %d: before %.1f s\n' "$i" "$(tail -1 "$work/before.s")" >&2
	fi
	t0=$(now)
	legion_pi "$CDS" "$work/cds.timeline"
	t1=$(now)
	legion_pi off "$work/plain.timeline"
	t2=$(now)
	local_pi
	t3=$(now)
	echo "$t1 - $t0" | bc >>"$work/cds.s"
	echo "$t2 - $t1" | bc >>"$work/plain.s"
	echo "$t3 - $t2" | bc >>"$work/local.s"
	printf 'run %d: cds %.1f s, no cds %.1f s, local[2] %.1f s\n' "$i" "$(tail -1 "$work/cds.s")" \
		"$(tail -1 "$work/plain.s")" "$(tail -1 "$work/local.s")" >&2
done
mc=$(median <"$work/cds.s") mp=$(median <"$work/plain.s") ml=$(median <"$work/local.s")
echo "## pi.py, two executors: legion submit (with and without CDS) vs spark-submit local[2]"
echo
echo "| kind | runs (s) | median (s) | / local[2] |"
echo "| --- | --- | --- | --- |"
for k in $kinds; do
	m=$(median <"$work/$k.s")
	printf '| %s | %s | %.1f | %.2fx |\n' "$k" "$(xargs printf '%.1f ' <"$work/$k.s")" "$m" \
		"$(echo "$m / $ml" | bc -l)"
done
printf '\nCDS: %.1f s -> %.1f s median (%.0f%% faster)\n\n' "$mp" "$mc" \
	"$(echo "($mp - $mc) * 100 / $mp" | bc -l)"
for k in ${BEFORE:+before} plain cds; do
	echo "Timeline of the last run ($k):"
	echo
	echo '```'
	cat "$work/$k.timeline"
	echo '```'
	echo
done

cat >"$work/count.py" <<'EOF'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("count").getOrCreate()
sc = spark.sparkContext
print("executors", sc._jsc.sc().getExecutorMemoryStatus().size() - 1, flush=True)
print("first stage", sc.parallelize(range(100), 8).map(lambda x: x).count(), flush=True)
EOF
echo "## The executors a job sees at its first line (the driver's getExecutorMemoryStatus)"
echo
echo "| asked for | seen |"
echo "| --- | --- |"
for n in 2 4; do
	./legion submit --force --num-executors "$n" --executor-memory 512m "$work/count.py" \
		>"$work/c.out" 2>"$work/c.err"
	printf '| %d | %s |\n' "$n" "$(sed -n 's/^executors //p' "$work/c.out")"
done
