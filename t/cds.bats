#!/usr/bin/env bats
# Class Data Sharing on the local backend: with whole archives (mk/cds.sh) every JVM of
# the cluster maps its role's archive; a damaged or stale one never fails a job nor
# writes to its stdout. The archives come from `make cds` (~/.cache/legion/cds of the
# user who installed the venv), else this file builds them once (about a minute).

load test_helper

setup_file() {
	[ -x "$ROOT/helpers/legion-master" ] || return 0
	[ -d "$LEGION_CACHE_VENV" ] || return 0
	local cache=${LEGION_CACHE_VENV%/venv}/cds src=$BATS_FILE_TMPDIR/built
	if [ ! -f "$cache/driver.ok" ]; then
		SPARK_HOME=$(ls -d "$LEGION_CACHE_VENV"/lib/python3*/site-packages/pyspark | head -n 1) \
			PYSPARK_PYTHON=$LEGION_CACHE_VENV/bin/python3 sh "$ROOT/mk/cds.sh" "$src" >&3 2>&1
		cache=$src
	fi
	local whole=$BATS_FILE_TMPDIR/whole damaged=$BATS_FILE_TMPDIR/damaged r
	mkdir -p "$whole" "$damaged"
	for r in launcher master worker driver executor; do
		[ -f "$cache/$r.ok" ] || continue
		ln -s "$cache/$r.jsa" "$whole/$r.jsa"
		cp "$cache/$r.ok" "$whole/$r.ok"
		# a dump cut short: the archive's first MiB under the finished one's .ok
		head -c 1048576 "$cache/$r.jsa" >"$damaged/$r.jsa"
		cp "$cache/$r.ok" "$damaged/$r.ok"
	done
	# garbage of the right size and time for the driver: the JVM refuses it itself
	r=$(cut -d' ' -f1 "$cache/driver.ok")
	head -c "$r" /dev/zero >"$damaged/driver.jsa"
	touch -d "@$(cut -d' ' -f2 "$cache/driver.ok")" "$damaged/driver.jsa"
}

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	[ -f "$BATS_FILE_TMPDIR/whole/master.ok" ] || skip "no class archives"
	cd "$BATS_TEST_TMPDIR"
	# the driver looks at every JVM of its own cluster: which class archive each maps
	cat >jvms.py <<'EOF'
import os
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("jvms").getOrCreate()
me = os.environ.get("LEGION_CLUSTER")
roles = {"deploy.master.Master": "master", "deploy.worker.Worker": "worker",
         "CoarseGrainedExecutorBackend": "executor", "deploy.SparkSubmit": "driver"}
seen = {}
for p in os.listdir("/proc"):
    try:
        env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
        cmd = open("/proc/%s/cmdline" % p, "rb").read().decode().split("\0")
    except (OSError, ValueError):
        continue
    if ("LEGION_CLUSTER=%s" % me).encode() not in env or not cmd[0].endswith("java"):
        continue
    for k, role in roles.items():
        if any(k in a for a in cmd):
            arc = [a.split("=", 1)[1] for a in cmd if a.startswith("-XX:SharedArchiveFile=")]
            seen[role] = os.path.basename(arc[0]) if arc else "none"
print(spark.sparkContext.parallelize(range(10), 2).sum())
for role in sorted(seen):
    print(role, seen[role])
EOF
}

@test "with whole class archives, the master, worker, driver and executor JVMs each map their own" {
	LEGION_CDS_DIR=$BATS_FILE_TMPDIR/whole run --separate-stderr \
		legion submit --num-executors 1 --executor-memory 512m jvms.py
	echo "$stderr" | tail -5
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "45
driver driver.jsa
executor executor.jsa
master master.jsa
worker worker.jsa" ]
}

@test "damaged class archives are left out: the job succeeds and its stdout is its own" {
	LEGION_CDS_DIR=$BATS_FILE_TMPDIR/damaged run --separate-stderr \
		legion submit --num-executors 1 --executor-memory 512m jvms.py
	echo "$stderr" | tail -5
	echo "$output"
	[ "$status" -eq 0 ]
	# the truncated ones are not mapped; the driver's (whole-looking garbage) is
	# handed to the JVM, which refuses it and starts without it, silently
	[ "$output" = "45
driver driver.jsa
executor none
master none
worker none" ]
	! grep -qi 'sigbus\|fatal error\|shared archive' <<<"$stderr"
}
