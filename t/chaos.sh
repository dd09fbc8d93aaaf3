#!/usr/bin/env bash
# t/chaos.sh: chaos runs of `legion submit --backend aci` against t/fake-azure in exec
# mode. Each run gets seeded faults (429, 500, 503, dropped and truncated answers, some
# latency; a share of DELETEs answered 202 and finished later) and a signal at a random
# moment: none, INT, TERM, INT then a second INT during the cleanup, or KILL. After each
# run it checks what a user relies on: the exit code is a documented one, no container
# group is left (after KILL: none left running once the idle timeout has passed, within
# 2 x idle timeout + 30 s), no
# process of a container is left, no group was created twice and no run made two
# clusters. A run that gives up its clean-up on purpose (a second interrupt during it)
# may leave groups if it exits non-zero and names the `legion delete` that removes them:
# that command must then remove them all (column "named"). It prints one line a run on stderr and one table on stdout; exit 1 when a
# run failed.
#
# The containers are stand-ins (t/chaos-stubs: a master with a job API and an idle
# timeout, workers that leave when their master is gone, each with a child in its own
# session); CHAOS_SPARK runs exec the real helpers and run examples/pi.py on real Spark.
# Leaves out timing: nothing here measures speed.
#
#   CHAOS_RUNS=N      runs (default 100)
#   CHAOS_SEED=S      the seed (default: from the clock; printed, with the command that
#                     repeats the session or one run)
#   CHAOS_ONLY=I      only run I of the session (same faults, signal and moment)
#   CHAOS_SPARK=K     runs with real Spark (default RUNS/25; 0 without the helpers or the
#                     Spark venv, $VENV or ~/.cache/legion/venv)
#   CHAOS_IDLE=SECS   the clusters' --idle-timeout (default 6)
#   CHAOS_KEEP=DIR    keep each failed run's stdout, stderr and request log there
#   LEGION_BIN        the binary (default ./legion)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEGION=${LEGION_BIN:-$ROOT/legion}
[[ $LEGION == /* ]] || LEGION=$ROOT/$LEGION
RUNS=${CHAOS_RUNS:-100}
SEED=${CHAOS_SEED:-$(($(date +%s%N) / 1000 % 1000000000))}
ONLY=${CHAOS_ONLY:-}
IDLE=${CHAOS_IDLE:-6}
KEEP=${CHAOS_KEEP:-}
VENV_DIR=${VENV:-${LEGION_CACHE_VENV:-$HOME/.cache/legion/venv}}
for v in RUNS SEED IDLE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "chaos: CHAOS_$v must be a number, got '${!v}'" >&2; exit 64; }
done

SPARK_HOME_DIR=$(ls -d "$VENV_DIR"/lib/python3*/site-packages/pyspark 2>/dev/null | head -n1)
SPARK=${CHAOS_SPARK:-$((RUNS / 25))}
if [ "$SPARK" -gt 0 ] && { [ -z "$SPARK_HOME_DIR" ] || [ ! -x "$ROOT/helpers/legion-jobd" ]; }; then
	echo "chaos: no Spark venv or helpers (make; make spark): runs with stand-ins only" >&2
	SPARK=0
fi

# --- a sandbox: its own HOME and LEGION_HOME, none of the caller's cloud settings (nor
# an emulator a caller started: this script starts and stops its own)
unset FAKE_AZURE_PID FAKE_AZURE_DIR FAKE_AZURE_LOG FAKE_AZURE_URL FAKE_AZURE_CA FAKE_AZURE_PORT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/legion-chaos.XXXXXX")
for v in "${!AZURE_@}" "${!AWS_@}" "${!LEGION_@}" APP_ID PASSWORD TENANT_ID; do
	unset "$v"
done
export HOME=$WORK/home LEGION_HOME=$WORK/legion-home LC_ALL=C
mkdir -p "$HOME" && mkdir -m 0700 "$LEGION_HOME"
export LEGION_IMAGE=registry.test/legion/spark:test
export CHAOS_CTL=$WORK/ctl CHAOS_HELPERS=$ROOT/helpers
mkdir -p "$CHAOS_CTL"
APP=$WORK/app.py
echo 'print("chaos")' >"$APP"
EMU_MARK=chaos-$SEED-$$

# shellcheck source=t/fake_azure_helper.bash
. "$ROOT/t/fake_azure_helper.bash"
cleanup() {
	fake_azure_stop >/dev/null 2>&1
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The emulator runs the stand-ins (first on PATH) and, through them, the real helpers.
start_emulator() {
	local path=$ROOT/t/chaos-stubs:$ROOT/helpers:$PATH
	PATH=$path CHAOS_EMU=$EMU_MARK SPARK_HOME=$SPARK_HOME_DIR \
		PYSPARK_PYTHON=$VENV_DIR/bin/python3 \
		fake_azure_start --dir "$WORK/fa" --exec --provision-delay 0.3 --kill-grace 1 \
		--delete-async 1 --delete-async-rate 0.3
}

# procs_left: pids of live processes the emulator started (they inherit its mark).
procs_left() {
	local f p
	for f in $(grep -zlxsF "CHAOS_EMU=$EMU_MARK" /proc/[0-9]*/environ); do
		p=${f#/proc/}
		p=${p%/environ}
		[ "$p" != "$FAKE_AZURE_PID" ] || continue
		[[ $(ps -o stat= -p "$p" 2>/dev/null) == [^Z]* ]] && echo "$p"
	done
}
no_procs() { [ -z "$(procs_left)" ]; }
groups_total() { fake_azure_groups | jq '.value | length'; }
groups_running() {
	fake_azure_groups | jq '[.value[] | select(.state == "Pending" or .state == "Running")] | length'
}
no_groups() { [ "$(groups_total)" = 0 ]; }
none_running() { [ "$(groups_running)" = 0 ]; }

# dup_check LOGSTART: "DUPS CLUSTERS MASTERS" from the request log since line LOGSTART:
# group names created (201) more than once, clusters and master names created.
dup_check() {
	tail -n +"$1" "$FAKE_AZURE_LOG" | jq -s -r '
		[.[] | select(.method == "PUT" and .status == 201 and (.path | test("/containerGroups/"; "i")))
		 | {name: (.path | split("/") | last), tags: (.body.tags // {})}] as $c
		| [($c | group_by(.name) | map(select(length > 1)) | length),
		   ($c | map(.tags["legion-cluster"]) | unique | length),
		   ($c | map(select(.tags["legion-role"] == "master") | .name) | unique | length)]
		| map(tostring) | join(" ")'
}

# pick VAR WORD...: VAR = one of the words, by $RANDOM (in this shell: a $(...) would
# draw from a reseeded generator).
pick() {
	local var=$1
	shift
	local a=("$@")
	printf -v "$var" %s "${a[RANDOM % ${#a[@]}]}"
}

# wait_exit PID SECS: waits for the run; sets RC (or "hang" after SECS, then kills it).
wait_exit() {
	local pid=$1 secs=$2
	if ! fake_azure_wait_until "$secs" eval "! kill -0 $pid 2>/dev/null"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		RC=hang
		return
	fi
	RC=0
	wait "$pid" || RC=$?
}

# The exit codes a run may end with, by signal (legion.1: 0 the job's own status, 69
# unavailable, 75 throttled after retries, 130/143 interrupted; KILL: 137).
allowed() {
	case $1 in
	none) echo "0 69 75" ;;
	INT | INT2) echo "0 69 75 130" ;;
	TERM) echo "0 69 75 143" ;;
	KILL) echo 137 ;;
	esac
}

# named_and_removed ERR RC: when a run that exited non-zero said which command removes
# what it left ("legion delete CLUSTER": a second interrupt during the clean-up gives up
# on purpose), that command removes it all.
named_and_removed() {
	local cl
	cl=$(grep -o 'legion delete legion-[0-9a-f]\{8\}' "$1" | tail -n1 | cut -d' ' -f3)
	[ -n "$cl" ] && [ "$2" != 0 ] || return 1
	"$LEGION" delete --backend aci "$cl" >/dev/null 2>&1
	fake_azure_wait_until 10 no_groups
}

# one_run I: sets ROW ("I SEED SIGNAL AT SPARK RATE RC LEFT PROCS DUPS NAMED VERDICT":
# NAMED the groups a run left but named, and `legion delete` removed).
one_run() {
	local i=$1 rs sig at spark=0 rate n secs out pid logstart why="" left procs dups named=0
	rs=$(((SEED * 7919 + i * 104729) % 2147483647))
	RANDOM=$rs
	if [ "$SPARK" -gt 0 ] && [ $((i % (RUNS / SPARK))) -eq 0 ]; then
		spark=1
	fi
	pick sig none INT INT TERM INT2 INT2 KILL KILL
	[ $spark = 0 ] || pick sig none INT TERM
	rate=$((5 + RANDOM % 21))
	n=$((1 + RANDOM % 3))
	secs=$((1 + RANDOM % 4))
	at=$((RANDOM % 70))
	[ $spark = 0 ] || at=$((50 + RANDOM % 300))
	at=$((at / 10)).$((at % 10))
	out=$WORK/run$i
	fake_azure_faults "{\"seed\":$rs,\"rate\":0.$(printf %02d $rate),\"retry_after\":1,
		\"kinds\":[\"429\",\"500\",\"503\",\"drop\",\"truncate\"],\"latency_ms\":[0,200]}" >/dev/null
	logstart=$(($(wc -l <"$FAKE_AZURE_LOG") + 1))
	local app=("$APP" "sleep=$secs")
	if [ $spark = 1 ]; then
		: >"$CHAOS_CTL/real"
		app=("$ROOT/examples/pi.py")
	fi
	"$LEGION" submit --backend aci --location westus --num-executors "$n" \
		--idle-timeout "$IDLE" "${app[@]}" >"$out.out" 2>"$out.err" </dev/null 3>&- &
	pid=$!
	local late=0
	if [ "$sig" != none ]; then
		fake_azure_wait_until "$at" eval "! kill -0 $pid 2>/dev/null"
		# a run that ended first (a zombie still takes signals) got none
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]] || late=1
		kill -"${sig%2}" "$pid" 2>/dev/null
		if [ "$sig" = INT2 ]; then # the second one while it cleans up
			fake_azure_wait_until 30 eval "grep -qE 'rolling back|deleting|stopping' '$out.err' ||
				! kill -0 $pid 2>/dev/null"
			sleep 0.$((RANDOM % 10))
			kill -INT "$pid" 2>/dev/null
		fi
	fi
	wait_exit "$pid" $((spark ? 600 : 240))
	case " $(allowed "$sig") $([ $late = 0 ] || allowed none) " in
	*" $RC "*) ;;
	*) why+=" exit $RC" ;;
	esac
	if [ "$sig" = KILL ]; then # nothing cleans up: the idle timeout must stop it all
		# the master's idle clock starts at the latest IDLE s after its start
		fake_azure_wait_until $((2 * IDLE + 30)) none_running || why+=" still running"
		left=$(groups_running)
	else
		left=$(groups_total)
		if [ "$left" != 0 ] && named_and_removed "$out.err" "$RC"; then
			named=$left left=0
		fi
	fi
	[ "$left" = 0 ] || why+=" $left groups left"
	fake_azure_wait_until 10 no_procs || why+=" processes left"
	procs=$(procs_left | wc -l)
	read -r dups clusters masters <<<"$(dup_check "$logstart")"
	[ "$dups" = 0 ] || why+=" $dups names created twice"
	[ "$clusters" -le 1 ] && [ "$masters" -le 1 ] || why+=" $clusters clusters $masters masters"
	if [ -n "$why" ] && [ -n "$KEEP" ]; then
		mkdir -p "$KEEP"
		cp "$out.out" "$out.err" "$KEEP/" 2>/dev/null
		tail -n +"$logstart" "$FAKE_AZURE_LOG" >"$KEEP/run$i.requests.jsonl"
	fi
	if [ -n "$why" ]; then
		echo "chaos: run $i FAILED:$why (CHAOS_SEED=$SEED CHAOS_RUNS=$RUNS CHAOS_ONLY=$i reproduces); its stderr:" >&2
		tail -n 15 "$out.err" | sed 's/^/    /' >&2
	fi
	ROW="$i $rs $sig $at $spark $rate $RC $left $procs $dups $named ${why:+FAIL}"
	rm -f "$CHAOS_CTL/real" "$out.out" "$out.err"
	local p
	for p in $(procs_left); do kill -KILL "$p" 2>/dev/null; done
	fake_azure_reset >/dev/null
}

# table ROWS-FILE: one line per signal and a total.
table() {
	awk '
	{ s = $3 (($5 == 1) ? "+spark" : ""); runs[s]++; all++
	  codes[s] = codes[s] " " $7; left[s] += $8; procs[s] += $9; dups[s] += $10
	  if ($12 == "FAIL") { failed[s]++; fails++ }
	  named[s] += $11; tn += $11
	  tl += $8; tp += $9; td += $10 }
	END {
	  printf "%-11s %5s  %-28s %6s %6s %6s %6s %7s\n", "signal", "runs", "exit codes (count)",
		"left", "named", "procs", "dups", "failed"
	  n = split("none INT TERM INT2 KILL none+spark INT+spark TERM+spark", order, " ")
	  for (k = 1; k <= n; k++) {
		s = order[k]; if (!(s in runs)) continue
		delete c; m = split(substr(codes[s], 2), v, " ")
		for (j = 1; j <= m; j++) c[v[j]]++
		cs = ""; for (x in c) cs = cs (cs == "" ? "" : " ") x ":" c[x]
		printf "%-11s %5d  %-28s %6d %6d %6d %6d %7d\n", s, runs[s], cs, left[s], named[s],
			procs[s], dups[s], failed[s]
	  }
	  printf "%-11s %5d  %-28s %6d %6d %6d %6d %7d\n", "all", all, "", tl, tn, tp, td, fails
	}' "$1"
}

main() {
	[ -x "$LEGION" ] || { echo "chaos: $LEGION is not built (make)" >&2; exit 69; }
	start_emulator || exit 69
	echo "chaos: seed $SEED, $RUNS runs ($SPARK with real Spark), idle timeout $IDLE s" \
		"(CHAOS_SEED=$SEED CHAOS_RUNS=$RUNS repeats them)" >&2
	local rows=$WORK/rows i first=1 last=$RUNS
	: >"$rows"
	if [ -n "$ONLY" ]; then
		first=$ONLY last=$ONLY
	fi
	for ((i = first; i <= last; i++)); do
		one_run "$i"
		echo "$ROW" >>"$rows"
		read -r _ _ sig at spark rate rc left procs dups named verdict <<<"$ROW"
		printf 'chaos: run %d/%d %s at %ss, faults %d%%%s: exit %s, %s groups, %s processes left%s %s\n' \
			"$i" "$RUNS" "$sig" "$at" "$rate" "$([ "$spark" = 1 ] && echo ", real Spark")" \
			"$rc" "$left" "$procs" "$([ "$named" != 0 ] && echo " ($named named, deleted)")" \
			"${verdict:-ok}" >&2
	done
	table "$rows"
	local failed
	failed=$(awk '$12 == "FAIL"' "$rows" | wc -l)
	echo "chaos: seed $SEED: $((last - first + 1)) runs, $failed failed" \
		"(CHAOS_SEED=$SEED CHAOS_RUNS=$RUNS reproduces)"
	[ "$failed" = 0 ]
}

main "$@"
