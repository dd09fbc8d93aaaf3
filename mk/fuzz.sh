#!/bin/sh
# Runs `make fuzz`'s libFuzzer targets (built in build/fuzz/t/fuzz/) one after another,
# each for SECONDS from its seeds (t/fuzz/TARGET/, never written to) and what earlier
# runs found (build/fuzz/corpus/TARGET/), and prints one line per target: executions,
# executions per second, new inputs, crashes. Leaves out building (the Makefile).
# Exit status 1 when a target crashed, leaked, hung or failed a check (its log's tail
# and the input that did it, under build/fuzz/crashes/, are shown).
# Usage: mk/fuzz.sh SECONDS TARGET...
set -u
secs=$1
shift
out=build/fuzz
fail=0
for t in "$@"; do
	case $t in
	httpd | api) max=8193 ;;
	jobspec) max=65536 ;;
	*) max=16384 ;;
	esac
	mkdir -p "$out/corpus/$t" "$out/crashes"
	rm -f "$out/crashes/$t-"*
	dict=
	[ -f "t/fuzz/$t.dict" ] && dict=-dict=t/fuzz/$t.dict
	log=$out/$t.log
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$out/t/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=$max -close_fd_mask=2 -print_final_stats=1 \
		-artifact_prefix="$out/crashes/$t-" $dict "$out/corpus/$t" "t/fuzz/$t" >"$log" 2>&1
	rc=$?
	stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
	crashes=$(ls "$out/crashes/$t-"* 2>/dev/null | wc -l)
	printf 'fuzz: %-8s %s s: %s execs, %s exec/s, %s new inputs, %s crashes\n' "$t" "$secs" \
		"$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
		"$(stat new_units_added)" "$crashes"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		tail -n 40 "$log"
		ls "$out/crashes/$t-"* 2>/dev/null
		fail=1
	fi
done
exit $fail
