#!/bin/sh
# mk/cds.sh DIR: Class Data Sharing archives for Spark's JVMs (JDK 17 dynamic archives,
# -XX:ArchiveClassesAtExit), one per role: launcher (spark-class's own first JVM),
# master, worker, driver, executor. Runs a master, a worker and a small job on
# 127.0.0.1 with $SPARK_HOME and PYSPARK_PYTHON (or python3), and stops them, so each JVM
# writes its archive at exit; then ROLE.ok beside ROLE.jsa holds "SIZE MTIME" of the
# finished archive. The helpers (helpers/cds.c) use an archive only when its .ok still
# matches, so a dump cut short or a file damaged later is never mapped; the JVM itself
# refuses (and falls back) an archive whose jars changed. Leaves out JIT settings.
# Run by the Dockerfile (LEGION_CDS_DIR=/opt/legion-cds) and `make cds` (the local
# backend's ~/.cache/legion/cds).
set -eu
out=${1:?usage: mk/cds.sh DIR}
: "${SPARK_HOME:?SPARK_HOME: the Spark (or pyspark) folder}"
py=${PYSPARK_PYTHON:-python3}
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/work"
ip=${LEGION_CDS_IP:-127.0.0.1}
mpid=
wpid=
cleanup() {
	[ -z "$wpid" ] || kill "$wpid" 2>/dev/null || true
	[ -z "$mpid" ] || kill "$mpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
# a port pair nothing else on this address uses (a test's cluster may hold 7077)
port=$((20000 + $$ % 20000))
ui=$((port + 1))
log() { echo "mk/cds.sh: $*" >&2; }

SPARK_LOCAL_IP=$ip SPARK_DAEMON_JAVA_OPTS="-XX:ArchiveClassesAtExit=$tmp/master.jsa" \
	SPARK_LAUNCHER_OPTS="-XX:ArchiveClassesAtExit=$tmp/launcher.jsa" \
	"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host "$ip" \
	--port "$port" --webui-port "$ui" >"$tmp/master.log" 2>&1 &
mpid=$!
SPARK_LOCAL_IP=$ip SPARK_DAEMON_JAVA_OPTS="-XX:ArchiveClassesAtExit=$tmp/worker.jsa" \
	"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
	"spark://$ip:$port" --host "$ip" --cores 1 --memory 1024m --webui-port 0 \
	--work-dir "$tmp/work" >"$tmp/worker.log" 2>&1 &
wpid=$!
cat >"$tmp/job.py" <<'EOF'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("legion-cds").getOrCreate()
n = spark.sparkContext.parallelize(range(1000), 2).map(lambda x: x * x).sum()
rows = spark.createDataFrame([(i % 3, i) for i in range(100)], ["k", "v"])
print(n, rows.groupBy("k").count().count())
spark.stop()
EOF
SPARK_LOCAL_IP=$ip "$SPARK_HOME/bin/spark-submit" --master "spark://$ip:$port" \
	--conf spark.driver.extraJavaOptions="-XX:ArchiveClassesAtExit=$tmp/driver.jsa" \
	--conf spark.executor.extraJavaOptions="-XX:ArchiveClassesAtExit=$tmp/executor.jsa" \
	--conf spark.executor.memory=512m --conf spark.cores.max=1 \
	--conf spark.pyspark.python="$py" "$tmp/job.py" >"$tmp/job.out" 2>"$tmp/job.err" || {
	log "the job failed:"
	tail -20 "$tmp/job.err" >&2
	exit 1
}
# SIGTERM: each daemon's JVM exits through its shutdown hooks and writes its archive
for p in $wpid $mpid; do
	kill "$p"
	wait "$p" 2>/dev/null || true
done
wpid=
mpid=
rm -rf "$tmp/work" "$tmp"/*.log "$tmp"/job.*
for role in launcher master worker driver executor; do
	f=$tmp/$role.jsa
	if [ -s "$f" ]; then
		printf '%s %s\n' "$(stat -c %s "$f")" "$(stat -c %Y "$f")" >"$tmp/$role.ok"
	else
		log "no archive for the $role (left out: that JVM starts as before)"
	fi
done
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT INT TERM
log "archives in $out: $(cd "$out" && ls -- *.jsa | tr '\n' ' ')"
