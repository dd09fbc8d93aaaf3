# t/jobd_helper.bash: what t/jobd.bats uses to run the master's job daemon and the
# worker helpers as real processes on their own loopback addresses, and to talk to the
# job API the way the CLI does (pinned certificate, --resolve). Leaves out the CLI.
#
#   jd_env                      sets VENV SPARK_HOME JAVA_HOME PYSPARK_PYTHON HELPERS PY
#   bg_start NAME CMD...        runs CMD in its own session, output in $JD/NAME.{out,err};
#                               its pid in $JD/NAME.pid, its exit status in $JD/NAME.rc
#   bg_pid NAME / bg_rc NAME    the pid / the exit status (waits for it, 30 s)
#   bg_stop NAME                SIGTERM, then SIGKILL of its whole session (teardown)
#   api METHOD PATH [CURL-ARGS] the job API of the main daemon; prints body then status
#   raw_tls MODE SECS           stdin's bytes to the main daemon over verified TLS;
#                               MODE hold: read the answer; close: hang up at once
#   submit FILE [ARGS...]       POST /v1/jobs with FILE as the app; prints the job id
#   job_state ID                prints the job's state
#   procs_under DIR             processes whose command line or cwd mentions DIR
#   cmdlines_with STRING...     processes whose command line contains a STRING

jd_env() {
	VENV=${LEGION_CACHE_VENV:-$HOME/.cache/legion/venv}
	SPARK_HOME=$(echo "$VENV"/lib/python3*/site-packages/pyspark)
	PY=$VENV/bin/python
	PYSPARK_PYTHON=$PY
	if [ -z "${JAVA_HOME:-}" ] && command -v java >/dev/null; then
		JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
	fi
	HELPERS=${JOBD_HELPERS:-$(dirname "$LEGION")/helpers} # beside the legion under test
	[[ $HELPERS == /* ]] || HELPERS=$ROOT/$HELPERS
	export VENV SPARK_HOME PY PYSPARK_PYTHON JAVA_HOME HELPERS
	case ":$PATH:" in
	*":$HELPERS:"*) ;;
	*) export PATH=$HELPERS:$PATH ;;
	esac
}

bg_start() {
	local name=$1
	shift
	rm -f "$JD/$name.pid" "$JD/$name.rc"
	(
		setsid "$@" >"$JD/$name.out" 2>"$JD/$name.err" </dev/null &
		echo $! >"$JD/$name.pid.tmp"
		mv "$JD/$name.pid.tmp" "$JD/$name.pid"
		rc=0
		wait $! || rc=$? # bats runs with errexit
		echo $rc >"$JD/$name.rc"
	) 3>&- &
	wait_for -t 10 test -s "$JD/$name.pid"
}

bg_pid() {
	cat "$JD/$1.pid"
}

bg_rc() {
	wait_for -t "${2:-30}" test -s "$JD/$1.rc" || return 1
	cat "$JD/$1.rc"
}

bg_alive() {
	[ ! -s "$JD/$1.rc" ] && kill -0 "$(bg_pid "$1")" 2>/dev/null
}

bg_stop() {
	local pid
	[ -s "$JD/$1.pid" ] || return 0
	pid=$(bg_pid "$1")
	if bg_alive "$1"; then
		kill -TERM "$pid" 2>/dev/null
		wait_for -t 20 test -s "$JD/$1.rc" || true
	fi
	pkill -KILL -s "$pid" 2>/dev/null || true
}

api() {
	local method=$1 path=$2
	shift 2
	curl -sS --max-time 120 -X "$method" --cacert "$JD/m/tls.crt" \
		--resolve "$JD_NAME:7090:$JD_ADDR" -H @"$JD/auth.hdr" -w '\n%{http_code}' "$@" \
		"https://$JD_NAME:7090$path"
}

raw_tls() {
	"$PY" -c '
import socket, ssl, sys, time
host, port, name, ca, mode, secs = sys.argv[1:7]
data = sys.stdin.buffer.read()
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=float(secs)),
                    server_hostname=name)
t.sendall(data)
if mode == "close":
    t.close()
    sys.exit(0)
out, end = b"", time.time() + float(secs)
try:
    while time.time() < end:
        b = t.recv(65536)
        if not b:
            break
        out += b
except (socket.timeout, OSError):
    pass
sys.stdout.write(out.decode("utf-8", "replace"))
' "$JD_ADDR" 7090 "$JD_NAME" "$JD/m/tls.crt" "$@"
}

submit() {
	local file=$1 body
	shift
	body=$JD/submit.$$.json
	jq -n --arg app "$(basename "$file")" --arg data "$(base64 -w0 "$file")" \
		'{name: $app, app: $app, appData: $data, args: $ARGS.positional}' --args "$@" >"$body"
	api POST /v1/jobs --data-binary @"$body" -H 'Content-Type: application/json' |
		head -n 1 | jq -r .id
}

job_state() {
	api GET "/v1/jobs/$1" | head -n 1 | jq -r .state
}

# job_is ID STATE...: the job's state is one of STATE.
job_is() {
	local id=$1 s
	s=$(job_state "$id")
	shift
	for want; do
		[ "$s" = "$want" ] && return 0
	done
	return 1
}

procs_under() {
	local p cmd cwd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
		if [[ $cmd == *"$1"* || $cwd == "$1"* ]]; then
			echo "${p#/proc/} ${cmd:0:200}"
		fi
	done
}

cmdlines_with() {
	local p cmd s
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		for s; do
			[[ $cmd == *"$s"* ]] && echo "${p#/proc/} ${cmd%% *}"
		done
	done
	return 0
}
