#!/usr/bin/env bats
# t/chaos.bats: the short chaos session inside `make check`: t/chaos.sh with 10 runs of
# `legion submit --backend aci` under seeded faults and signals (stand-in containers, no
# Spark; `make chaos` runs 100 with a few on real Spark), and the DELETE that ARM
# finishes later (202), which `legion delete` must wait for. Leaves out speed.

load test_helper
load fake_azure_helper

setup_file() {
	export CHAOS_CTL=$BATS_FILE_TMPDIR/ctl CHAOS_HELPERS=$ROOT/helpers
	mkdir -p "$CHAOS_CTL"
	PATH=$ROOT/t/chaos-stubs:$PATH fake_azure_start --exec --provision-delay 0.2 \
		--kill-grace 1 --delete-async 2
}

teardown_file() {
	fake_azure_stop
}

@test "chaos: 10 seeded runs under faults and signals end with a documented code, nothing left" {
	# the seed is printed: CHAOS_SEED=S CHAOS_ONLY=I bash t/chaos.sh repeats a failed run
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" LEGION_BIN="$LEGION" \
		CHAOS_RUNS=10 CHAOS_SPARK=0 CHAOS_SEED="${CHAOS_SEED:-15}" bash "$ROOT/t/chaos.sh"
	echo "$stderr"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *": 10 runs, 0 failed"* ]]
}

@test "delete waits for the DELETEs ARM answered 202 until the groups are gone" {
	export LEGION_IMAGE=registry.test/legion/spark:test
	run --separate-stderr legion deploy-master --backend aci --location westus
	[ "$status" -eq 0 ]
	cluster=$(jq -er .cluster <<<"$output")
	[ "$(fake_azure_groups | jq '.value | length')" = 1 ]
	run --separate-stderr legion delete --backend aci "$cluster"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $stderr == *"waiting for ARM to finish deleting 1 container group"* ]]
	# gone when delete returns, not merely Deleting
	[ "$(fake_azure_groups | jq '.value | length')" = 0 ]
}
