#!/usr/bin/env bats
# t/parity.bats: what a spark-submit user expects of `legion submit`, with real Spark on
# the local backend: spark-submit's options with their meaning (--files, --archives,
# --properties-file, --driver-java-options, --total-executor-cores, --packages), the
# ones that do not apply refused with a reason, a Python driver's stderr apart from its
# stdout, Spark's INFO lines hidden by default, and the progress line on a terminal.
# Leaves out the other options (cli.bats, local.bats).

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
}

need_spark() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
}

# The pids of every process that carries the cluster's id in its environment.
cluster_pids() {
	local id=$1 p
	for p in /proc/[0-9]*; do
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "LEGION_CLUSTER=$id" && echo "${p#/proc/}"
	done
	return 0
}

no_cluster_process() {
	[ -z "$(cluster_pids "$1")" ]
}

@test "spark-submit's options that do not apply are refused, each with why (64)" {
	echo 'print(1)' >app.py
	local o
	for o in --supervise "--kill x" "--status x" "--queue q" "--principal p" "--keytab k" \
		"--proxy-user u" "--remote sc://h" --version; do
		run --separate-stderr legion submit $o app.py
		echo "$o: $stderr"
		[ "$status" -eq 64 ]
		[[ ${stderr%%$'\n'*} == "legion: submit: spark-submit's ${o%% *} does not apply: "?* ]]
	done
	run --separate-stderr legion submit --deploy-mode cluster app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--deploy-mode cluster does not apply: the driver runs in the cluster's master"* ]]
	run --separate-stderr legion submit --master spark://10.0.0.1:7077 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"is a Spark master URL"* ]]
	# spark-submit's values are checked before anything is created
	run --separate-stderr legion submit --packages org.example:lib app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--packages: 'org.example:lib' is not groupId:artifactId:version"* ]]
	run --separate-stderr legion submit --exclude-packages a:b:c app.py
	[ "$status" -eq 64 ]
	run --separate-stderr legion submit --repositories repo.example app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"'repo.example' is not a URL"* ]]
	run --separate-stderr legion submit --archives "app.py#../up" app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"'../up' is not a folder name"* ]]
	run --separate-stderr legion submit --files missing.txt app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--files: 'missing.txt': No such file or directory"* ]]
	run --separate-stderr legion submit --properties-file missing.conf app.py
	[ "$status" -eq 64 ]
	run --separate-stderr legion submit --num-executors 2 --total-executor-cores 3 app.py
	[ "$status" -eq 64 ]
	[[ $stderr == *"--total-executor-cores 3 is more than"* ]]
	run --separate-stderr legion submit --log-level LOUD app.py
	[ "$status" -eq 64 ]
	# and nothing was started
	[ ! -d "$LEGION_HOME/groups" ] || [ -z "$(ls "$LEGION_HOME/groups")" ]
}

@test "--files: the driver and the executors read a file through SparkFiles.get" {
	need_spark
	printf 'alpha\nbeta\n' >words.txt
	cat >files.py <<'EOF'
from pyspark import SparkFiles
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("files").getOrCreate()
def read(_):
    with open(SparkFiles.get("words.txt")) as f:
        return f.read().split()
print("driver", read(0))
print("executors", sorted(set(w for ws in spark.sparkContext.parallelize(range(2), 2).map(read).collect() for w in ws)))
EOF
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		--files words.txt files.py
	echo "$stderr" | tail -20
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "driver ['alpha', 'beta']" ]
	[ "${lines[1]}" = "executors ['alpha', 'beta']" ]
}

@test "--archives env.tar.gz#environment: a packed virtualenv runs the driver and the executors" {
	need_spark
	"$LEGION_CACHE_VENV/bin/python3" -m venv --without-pip env
	local site
	site=$(echo env/lib/python3*/site-packages)
	echo 'WHERE = "packed"' >"$site/legion_probe.py"
	tar -czf env.tar.gz -C env .
	cat >venv.py <<'EOF'
import sys
import legion_probe
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("venv").getOrCreate()
def probe(_):
    import sys, legion_probe
    return (sys.prefix.endswith("/environment"), legion_probe.WHERE)
print("driver", probe(0))
print("executors", sorted(set(spark.sparkContext.parallelize(range(2), 2).map(probe).collect())))
EOF
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		--archives env.tar.gz#environment --conf spark.pyspark.python=./environment/bin/python \
		venv.py
	echo "$stderr" | tail -20
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "driver (True, 'packed')" ]
	[ "${lines[1]}" = "executors [(True, 'packed')]" ]
}

@test "--properties-file, -c, --driver-java-options, --total-executor-cores: spark-submit's meaning" {
	need_spark
	cat >props.conf <<'EOF'
# spark-defaults' form: key value, key=value
spark.legion.fromfile   file
spark.legion.both=file
legion.not.spark  ignored
EOF
	cat >props.py <<'EOF'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("props").getOrCreate()
sc = spark.sparkContext
conf = sc.getConf()
print("fromfile", conf.get("spark.legion.fromfile"))
print("both", conf.get("spark.legion.both"))
print("short", conf.get("spark.legion.short"))
print("java", sc._jvm.System.getProperty("legion.probe"))
print("cores", conf.get("spark.cores.max"))
print("executors", sc._jsc.sc().getExecutorMemoryStatus().size() - 1)
EOF
	# two executors of one core: from --total-executor-cores alone
	run --separate-stderr legion submit --executor-memory 512m --total-executor-cores 2 \
		--properties-file props.conf --conf spark.legion.both=flag -c spark.legion.short=c \
		--driver-java-options "-Dlegion.probe=42 -Dlegion.other=1" --log-level INFO props.py
	echo "$stderr" | tail -20
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'fromfile file\nboth flag\nshort c\njava 42\ncores 2\nexecutors 2')" ]
	[[ $stderr == *"2 of 2 workers registered"* ]]
	[[ $stderr == *"ignoring 'legion.not.spark': not a spark.* property"* ]]
	# --log-level INFO shows what the default hides
	grep -q '^[0-9/]* [0-9:]* INFO SparkContext: ' <<<"$stderr"
}

@test "--packages: a coordinate no repository has fails the job cleanly, without network" {
	need_spark
	local port
	port=$(free_port) # nothing listens there: every download is refused at once
	# only that repository: none of Ivy's defaults (Maven Central, spark-packages)
	cat >ivysettings.xml <<EOF
<ivysettings>
  <settings defaultResolver="refused"/>
  <resolvers>
    <ibiblio name="refused" m2compatible="true" root="http://127.0.0.1:$port/maven2/"/>
  </resolvers>
</ivysettings>
EOF
	echo 'print("never")' >pkg.py
	run --separate-stderr timeout 300 legion submit --num-executors 1 --executor-memory 512m \
		--packages org.example.legion:nothing:1.0 --repositories "http://127.0.0.1:$port/extra" \
		--conf "spark.jars.ivySettings=$PWD/ivysettings.xml" \
		--conf "spark.jars.ivy=$PWD/ivy" pkg.py
	echo "$stderr" | tail -30
	[ "$status" -ne 0 ]
	[ "$status" -lt 64 ] # the job's own failure, not legion's
	echo "stdout: $output"
	[[ $output != *never* ]]
	[[ $stderr == *"unresolved dependency: org.example.legion#nothing;1.0"* ]]
	[[ $stderr == *"job job-1 FAILED"* ]]
	local id
	id=$(cluster_of <(echo "$stderr"))
	wait_for -t 20 no_cluster_process "$id"
}

@test "stdout holds only a Python app's stdout: its stderr and traceback go to stderr, no INFO lines" {
	need_spark
	cat >both.py <<'EOF'
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("both").getOrCreate()
print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
print("sum", spark.sparkContext.parallelize(range(10), 2).sum(), flush=True)
raise ValueError("legion test failure")
EOF
	local t0=$SECONDS
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m --keep-alive \
		both.py
	local took=$((SECONDS - t0))
	echo "$stderr" | tail -30
	local id
	id=$(cluster_of <(echo "$stderr"))
	[ "$status" -eq 1 ]
	[ "$output" = "$(printf 'to stdout\nsum 45')" ]
	grep -qx 'to stderr' <<<"$stderr"
	grep -q '^Traceback (most recent call last):' <<<"$stderr"
	grep -qx 'ValueError: legion test failure' <<<"$stderr"
	# Spark's INFO lines are hidden; its warnings are not
	! grep -E '^[0-9/]{8} [0-9:]{8} INFO ' <<<"$stderr"
	# progress for people reading a log: plain lines, at most one every 5 s
	local n
	n=$(grep -c '^legion: job-1 running, 1 worker' <<<"$stderr")
	[ "$n" -ge 1 ]
	[ "$n" -le $((took / 5 + 2)) ]
	# the job's log still has everything, in its streams
	run --separate-stderr legion logs "$id" --job job-1
	[ "$status" -eq 0 ]
	grep -q ' INFO SparkContext: Running Spark version' <<<"$stderr"
	grep -qx 'to stderr' <<<"$stderr"
	[ "$(grep -cx 'to stderr' <<<"$output")" -eq 0 ]
	run legion delete "$id"
	[ "$status" -eq 0 ]
	wait_for -t 20 no_cluster_process "$id"
}

@test "on a terminal: one live status line on stderr, cleared whenever output needs the line" {
	need_spark
	cat >stages.py <<'EOF'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("stages").getOrCreate()
rdd = spark.sparkContext.parallelize(range(100), 4).map(lambda x: (x % 3, x))
print("groups", sorted(rdd.reduceByKey(lambda a, b: a + b).collect()), flush=True)
EOF
	# script(1) gives legion a pseudo-terminal; the session is written to ts
	TERM=xterm run script -qefc "legion submit --num-executors 1 --executor-memory 512m stages.py" ts
	echo "$status"
	[ "$status" -eq 0 ]
	# the status line is drawn in place (carriage return, erase line), with the stages
	grep -aq $'\r\e\\[Klegion: job-1 running, 1 worker: Spark job 0 stage 2/2, tasks [0-9]/4' ts
	grep -aq $'\r\e\\[Klegion: 1 of 1 workers registered' ts
	# what the terminal shows once each line is done: the status line never stays, and
	# the output is whole, at the start of its line
	python3 - ts <<'EOF'
import re, sys
shown = []
for raw in open(sys.argv[1], "rb").read().decode("utf-8", "replace").split("\n"):
    line = raw.rstrip("\r")
    line = re.split(r"\r(?:\x1b\[K)?", line)[-1]  # what is left after the last return
    shown.append(line)
print("\n".join(shown))
assert "groups [(0, 1683), (1, 1617), (2, 1650)]" in shown, "output line not whole"
assert not any("job-1 running" in l for l in shown), "a status line was left"
assert any(l.startswith("legion: job job-1 SUCCEEDED") for l in shown)
EOF
}
