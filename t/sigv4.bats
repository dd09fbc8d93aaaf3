#!/usr/bin/env bats
# t/sigv4.bats: the C test of sigv4.c (t/sigv4_test.c: AWS's published Signature
# Version 4 examples) as built by `make` and by `make asan` (ASan + UBSan). Each must
# pass every check and exit 0. Leaves out building: run `make` and `make asan` first.

load test_helper

# passes BIN: the driver exits 0 and its last line is "N passed, 0 failed".
passes() {
	run --separate-stderr "$@"
	printf '%s\n' "${lines[@]}" | grep -v '^ok ' || true
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
	[ "${lines[-1]%% *}" -ge 13 ]
	! printf '%s\n' "${lines[@]}" | grep -q '^not ok'
}

@test "sigv4_test (musl build) signs AWS's published examples as AWS does" {
	[ -x "$ROOT/t/sigv4_test" ] || skip "t/sigv4_test is not built: run make"
	passes "$ROOT/t/sigv4_test"
}

@test "sigv4_test under ASan and UBSan passes" {
	[ -x "$ROOT/build/asan/t/sigv4_test" ] || skip "build/asan/t/sigv4_test is not built: run make asan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 passes "$ROOT/build/asan/t/sigv4_test"
}
