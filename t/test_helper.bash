# t/test_helper.bash: what every suite loads first (`load test_helper`). It sandboxes
# HOME, XDG_* and LEGION_HOME into the test's temp dir, puts the repo root first on
# PATH, drops the caller's Azure, AWS and Legion settings, and sets:
#   ROOT    the repo root
#   LEGION  the binary under test: $ROOT/legion, or $LEGION_BIN (e.g. build/asan/legion,
#           relative to ROOT); `legion` on PATH is that binary too
# and the helpers wait_for (poll a command with a deadline) and free_port.
# Leaves out servers (fake_azure_helper.bash starts the Azure emulator).

bats_require_minimum_version 1.5.0 # run --separate-stderr

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
LEGION=${LEGION_BIN:-$ROOT/legion}
[[ $LEGION == /* ]] || LEGION=$ROOT/$LEGION
export ROOT LEGION

# The caller's credentials and settings must not leak into a test. Done once per bats
# file process: what setup_file exports afterwards (the emulator's AZURE_* for one) is
# inherited by the tests and must survive their own `load test_helper`. LEGION_BIN
# stays (it picks the binary); the Spark venv the caller installed stays reachable
# through LEGION_CACHE_VENV (local.c looks there when the sandboxed HOME has none).
if [ -z "${_LEGION_TEST_CLEAN:-}" ]; then
	export LEGION_CACHE_VENV=${LEGION_CACHE_VENV:-${LEGION_VENV:-${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/legion/venv}}}
	for _v in "${!AZURE_@}" "${!AWS_@}" "${!LEGION_@}" APP_ID PASSWORD TENANT_ID; do
		case $_v in LEGION_BIN | LEGION_CACHE_VENV | LEGION_TEST_JIT) continue ;; esac
		unset "$_v"
	done
	unset _v
	export _LEGION_TEST_CLEAN=1
fi

_legion_sandbox() {
	local dir=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-}}
	[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/legion-test.XXXXXX")
	export HOME=$dir/home
	export XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
	export XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
	export XDG_RUNTIME_DIR=$dir/run
	export LEGION_HOME=$dir/legion-home
	mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME"
	mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
	local path=$ROOT
	if [ "$LEGION" != "$ROOT/legion" ]; then
		mkdir -p "$dir/bin"
		ln -sfn "$LEGION" "$dir/bin/legion"
		path=$dir/bin:$ROOT
	fi
	case ":$PATH:" in
	":$path:"*) ;;
	*) export PATH=$path:$PATH ;;
	esac
}
_legion_sandbox
export LC_ALL=C

# The suites' JVMs: their jobs last seconds, so they start as cheaply as they can on a
# machine whose cores the suites share (three files at a time). JAVA_HOME is a shim whose
# bin/java runs the real java with -XX:TieredStopAtLevel=1 (no C2: its compiling was
# about 40% of a short job's JVM CPU; README: Tests); the local backend hands JAVA_HOME
# to every group, spark-class runs $JAVA_HOME/bin/java and Spark's workers start their
# executors with it. LEGION_CDS_DIR: the class archives of `make cds` when they are
# there, as a user's ~/.cache/legion/cds (the sandboxed HOME has none). A caller's own
# LEGION_TEST_JIT=default leaves the JIT alone.
_legion_jvm() {
	local shim=${BATS_RUN_TMPDIR:-${TMPDIR:-/tmp}}/legion-jdk java tmp
	if [ ! -x "$shim/bin/java" ]; then
		java=${JAVA_HOME:+$JAVA_HOME/bin/java}
		[ -x "${java:-}" ] || java=$(command -v java 2>/dev/null) || return 0
		java=$(readlink -f "$java")
		tmp=$(mktemp -d "$shim.XXXXXX")
		mkdir "$tmp/bin"
		printf '#!/bin/sh
exec %s -XX:TieredStopAtLevel=1 "$@"
' "$java" >"$tmp/bin/java"
		chmod 755 "$tmp" "$tmp/bin/java"
		mv -T "$tmp" "$shim" 2>/dev/null || rm -rf "$tmp" # another suite made it first
	fi
	export JAVA_HOME=$shim
}
[ "${LEGION_TEST_JIT:-}" = default ] || _legion_jvm
if [ -f "${LEGION_CACHE_VENV%/venv}/cds/driver.ok" ]; then
	export LEGION_CDS_DIR=${LEGION_CACHE_VENV%/venv}/cds
fi

# wait_for [-t SECS] CMD [ARGS...]: runs CMD every 50 ms until it succeeds; returns 1
# (with a message on stderr) when SECS (default 30, or $WAIT_FOR_TIMEOUT) pass first.
wait_for() {
	local secs=${WAIT_FOR_TIMEOUT:-30}
	if [ "${1:-}" = -t ]; then
		secs=$2
		shift 2
	fi
	local now=${EPOCHREALTIME/./} deadline
	# %.0f, not %d: mawk's %d stops at 2^31 (36 minutes in microseconds)
	deadline=$((now + $(awk -v s="$secs" 'BEGIN { printf "%.0f", s * 1000000 }')))
	until "$@"; do
		now=${EPOCHREALTIME/./}
		if [ "$now" -ge "$deadline" ]; then
			echo "wait_for: gave up after ${secs}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# cluster_of FILE: the cluster id a submit announced on stderr (saved in FILE).
cluster_of() {
	grep -o 'starting cluster legion-[0-9a-f]\{8\}' "$1" | head -n 1 | cut -d' ' -f3
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on (at the moment).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
