#!/usr/bin/env bats
# PySpark's Python libraries on the local backend: Spark's own kmeans.py example
# (numpy) and a pandas UDF with a grouped map (pandas, pyarrow) run through
# `legion submit` on real Spark, driver and executors alike.

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

pyspark_dir() {
	"$LEGION_CACHE_VENV/bin/python3" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

@test "the venv has numpy, pandas and pyarrow at mk/pylibs.txt's versions" {
	local want got
	want=$(grep -E '^(numpy|pandas|pyarrow)==' "$ROOT/mk/pylibs.txt" | sort)
	got=$("$LEGION_CACHE_VENV/bin/python3" -c 'import numpy, pandas, pyarrow
for m in (numpy, pandas, pyarrow): print(f"{m.__name__}=={m.__version__}")' | sort)
	[ "$got" = "$want" ]
}

@test "Spark's bundled kmeans.py finds the two centers" {
	local kmeans
	kmeans=$(pyspark_dir)/examples/src/main/python/kmeans.py
	[ -f "$kmeans" ]
	printf '%s\n' '0 0' '2 2' '0 2' '2 0' '10 10' '12 12' '10 12' '12 10' >points.txt
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		"$kmeans" "$PWD/points.txt" 2 0.001
	echo "$stderr" | tail -20
	[ "$status" -eq 0 ]
	echo "$output"
	# the driver's stderr (the example's WARN lines) comes with its stdout
	local centers
	centers=$(grep '^Final centers: ' <<<"$output")
	[[ $centers == "Final centers: [array([1., 1.]), array([11., 11.])]" ||
		$centers == "Final centers: [array([11., 11.]), array([1., 1.])]" ]]
}

@test "a pandas UDF and a grouped map run through Arrow on the executors" {
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		"$ROOT/examples/pandas_udf.py"
	echo "$stderr" | tail -20
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "fahrenheit: 32 50 68 86 104 122 140 158 176 194" ]
	[ "${lines[1]}" = "mean by parity: 0=40 1=50" ]
	[ "${#lines[@]}" -eq 2 ]
}
