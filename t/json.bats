#!/usr/bin/env bats
# t/json.bats: the C tests of json.c and util.c (t/json_test.c) as built by `make`, by
# `make asan` (ASan + UBSan) and under valgrind. Each must pass every check and exit 0.
# Leaves out building: run `make` and `make asan` first.

load test_helper

# passes BIN [WRAPPER...]: the driver exits 0 and its last line is "N passed, 0 failed".
passes() {
	echo "${*}"
	run --separate-stderr "$@"
	printf '%s\n' "${lines[@]}" | grep -v '^ok ' || true
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
	[ "${lines[-1]%% *}" -gt 200 ]
	! printf '%s\n' "${lines[@]}" | grep -q '^not ok'
}

@test "json_test (musl build) passes" {
	[ -x "$ROOT/t/json_test" ] || skip "t/json_test is not built: run make"
	passes "$ROOT/t/json_test"
}

@test "json_test under ASan and UBSan passes" {
	[ -x "$ROOT/build/asan/t/json_test" ] || skip "build/asan/t/json_test is not built: run make asan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 passes "$ROOT/build/asan/t/json_test"
}

@test "json_test under valgrind passes with no errors or leaks" {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	[ -x "$ROOT/t/json_test" ] || skip "t/json_test is not built: run make"
	passes valgrind -q --error-exitcode=1 --leak-check=full "$ROOT/t/json_test"
}
