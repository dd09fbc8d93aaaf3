#!/usr/bin/env bats
# t/scale-aci.bats: --max-executors through the aci backend: ARM calls against
# t/fake-azure in exec mode (each container group's command, the real helpers and
# Spark, runs as local processes): workers created and deleted as container groups
# while the job runs, and a scale-out refused by the subscription's core quota
# reported once while the job goes on with what it has.

load test_helper
load fake_azure_helper

setup_file() {
	fake_azure_start_spark
}

teardown_file() {
	fake_azure_stop
}

setup() {
	[ -n "${FAKE_AZURE_PID:-}" ] || skip "helpers or the Spark venv missing (make; make spark)"
	fake_azure_reset >/dev/null
	cd "$BATS_TEST_TMPDIR"
	export LEGION_IMAGE=registry.test/legion/spark:test
	cp "$ROOT/t/fixtures/phases.py" .
}

worker_puts() { # PUTs of this run's worker groups the emulator saw
	jq -s '[.[] | select(.method == "PUT" and (.path | test("containerGroups/legion-[0-9a-f]+-[0-9a-f]+-w")))] | length' "$FAKE_AZURE_LOG"
}

@test "aci: --max-executors creates worker groups for a wide stage, deletes them in a pause, creates them again; nothing left" {
	run --separate-stderr timeout 400 legion submit --backend aci --min-executors 0 \
		--max-executors 2 --executor-memory 512m --idle-timeout 120 \
		--conf spark.dynamicAllocation.executorIdleTimeout=5s \
		--conf spark.cleaner.periodicGC.interval=5s phases.py 30
	echo "$stderr" | grep '^legion:'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'phase1 4000\nphase2 4000')" ]
	[ "$(grep -c '^legion: scaling to [12] workers\? (Spark wants [12], 0 running)$' <<<"$stderr")" -ge 2 ]
	grep -q '^legion: scaling to 0 workers (Spark wants 0, [12] running)$' <<<"$stderr"
	[ "$(worker_puts)" -ge 2 ]
	run legion status --backend aci
	[ "$(jq '.clusters | length' <<<"$output")" -eq 0 ]
}

@test "aci: a scale-out the core quota refuses is reported once; the job finishes with the workers it has" {
	fake_azure_config '{"core_quota": 2}' >/dev/null # the master's core and one worker's
	run --separate-stderr timeout 400 legion submit --backend aci --min-executors 0 \
		--max-executors 3 --executor-memory 512m --idle-timeout 120 phases.py 1
	echo "$stderr" | grep '^legion:'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'phase1 4000\nphase2 4000')" ]
	[ "$(grep -c '^legion: scaling out was refused: the job goes on with [01] workers\?; retrying with backoff$' <<<"$stderr")" -eq 1 ]
	grep -q '^legion: scaling to 1 worker (Spark wants [1-3], 0 running)$' <<<"$stderr"
	run legion status --backend aci
	[ "$(jq '.clusters | length' <<<"$output")" -eq 0 ]
}
