#!/usr/bin/env bats
# A real PySpark job through the aci backend: ARM calls against t/fake-azure, whose
# exec mode runs each container group's command (the real legion-jobd and
# legion-worker) as local processes on their own loopback addresses.

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
	cd "$BATS_TEST_TMPDIR"
	export LEGION_IMAGE=registry.test/legion/spark:test # the emulator runs the helpers from PATH
}

@test "pi.py runs on ACI container groups end to end and nothing is left" {
	run --separate-stderr legion submit --backend aci --num-executors 2 --idle-timeout 60 \
		"$ROOT/examples/pi.py"
	echo "$stderr" | grep '^legion:'
	[ "$status" -eq 0 ]
	[[ $output =~ Pi\ is\ roughly\ 3\.1 ]]
	[[ $stderr == *"2 of 2 workers registered"* ]]
	# one PUT per group: a master and two workers, each with its own DNS label
	[ "$(jq -s '[.[] | select(.method == "PUT" and (.path | test("containerGroups/")))] | length' "$FAKE_AZURE_LOG")" -eq 3 ]
	[ "$(jq -s '[.[] | select(.method == "PUT" and (.path | test("containerGroups/"))) | .body.properties.ipAddress.dnsNameLabel] | unique | length' "$FAKE_AZURE_LOG")" -eq 3 ]
	# everything deleted, every process gone
	run legion status --backend aci
	[ "$(jq '.clusters | length' <<<"$output")" -eq 0 ]
	local id
	id=$(grep -o 'starting cluster legion-[0-9a-f]\{8\}' <<<"$stderr" | cut -d' ' -f3)
	[ -n "$id" ]
	gone() { ! grep -lqsx "LEGION_CLUSTER=$id" < <(cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n'); }
	wait_for -t 30 gone
}
