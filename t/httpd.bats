#!/usr/bin/env bats
# t/httpd.bats: the C tests of the job daemon's HTTP parsing (t/httpd_test.c, of
# helpers/httpd.c) as built by `make` and by `make asan` (ASan + UBSan). Each must pass
# every check and exit 0. Leaves out building: run `make` and `make asan` first.

load test_helper

# passes BIN: the driver exits 0 and its last line is "N passed, 0 failed".
passes() {
	echo "${*}"
	run --separate-stderr "$@"
	printf '%s\n' "${lines[@]}" | grep -v '^ok ' || true
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
	[ "${lines[-1]%% *}" -gt 40 ]
	! printf '%s\n' "${lines[@]}" | grep -q '^not ok'
}

@test "httpd_test (musl build) passes" {
	[ -x "$ROOT/t/httpd_test" ] || skip "t/httpd_test is not built: run make"
	passes "$ROOT/t/httpd_test"
}

@test "httpd_test under ASan and UBSan passes" {
	[ -x "$ROOT/build/asan/t/httpd_test" ] || skip "build/asan/t/httpd_test is not built: run make asan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 passes "$ROOT/build/asan/t/httpd_test"
}
