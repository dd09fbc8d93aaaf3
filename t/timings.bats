#!/usr/bin/env bats
# `legion submit --timings` (and -v): a timeline on stderr of where a run's time went,
# with real Spark on the local backend. Asserts the steps and their order, never how
# long they took (that is bench/'s).

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

# The events of timing lines in stderr file $1, in order, without their times.
events() {
	sed -n 's/^legion: timing: +[0-9]*\.[0-9] s //p' "$1"
}

@test "submit --timings prints each step of the run once, in order, on stderr" {
	legion submit --timings --num-executors 2 --executor-memory 512m --idle-timeout 60 \
		"$ROOT/examples/pi.py" 2 >out 2>err || { tail -30 err; false; }
	grep -Eq '^Pi is roughly 3\.1' out
	! grep -q 'timing' out
	events err >got
	cat got
	cat >want <<'EOF'
master requested
master provisioned
master answered
2 workers requested
workers provisioned
2 workers registered
job submitted
driver started (Spark 3.5.7)
executor 1 of 2 registered
executor 2 of 2 registered
first task (2 executors registered)
job finished (SUCCEEDED)
teardown done
EOF
	diff want got
	# the times are seconds since submit began, never going back
	sed -n 's/^legion: timing: +\([0-9.]*\) s .*/\1/p' err | sort -c -n
}

@test "submit -v prints the timeline too; without either there is none" {
	printf 'print("hello")\n' >hello.py
	run --separate-stderr legion -v submit --num-executors 1 --executor-memory 512m \
		--idle-timeout 60 hello.py
	echo "$stderr" | grep -v '^legion: [<>]' | tail -20
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	echo "$stderr" >err
	events err >got
	cat got
	grep -qx 'job submitted' got
	grep -qx 'job finished (SUCCEEDED)' got
	[ "$(tail -n 1 got)" = "teardown done" ]
	run --separate-stderr legion submit --num-executors 1 --executor-memory 512m \
		--idle-timeout 60 hello.py
	[ "$status" -eq 0 ]
	! grep -q 'timing' <<<"$stderr"
}
