# Helpers to run t/fake-azure from bats suites (or any bash script).
#
#   load fake_azure_helper          # in a .bats file under t/
#   setup_file()    { fake_azure_start --exec; }
#   teardown_file() { fake_azure_stop; }
#
# fake_azure_start [--dir DIR] [emulator args...]
#   Starts the emulator on a free port with a known-good service principal and waits
#   (with a deadline, FAKE_AZURE_START_TIMEOUT seconds, default 30) for its ready line.
#   Exports:
#     FAKE_AZURE_PID FAKE_AZURE_PORT FAKE_AZURE_CA FAKE_AZURE_URL FAKE_AZURE_LOG
#     FAKE_AZURE_DIR FAKE_AZURE_TENANT FAKE_AZURE_CLIENT FAKE_AZURE_SECRET
#     FAKE_AZURE_SUBSCRIPTION
#   and, for a client under test (legion):
#     AZURE_AUTHORITY_HOST LEGION_ARM_ENDPOINT SSL_CERT_FILE CURL_CA_BUNDLE
#     AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_SUBSCRIPTION_ID
#     LEGION_IMDS_ENDPOINT (only with --msi)
#   DIR defaults to a new directory under $BATS_FILE_TMPDIR (or $TMPDIR).
# fake_azure_stop [PID]
#   SIGTERM, wait (deadline 20 s), then SIGKILL and kill any process group the emulator
#   had started (listed in DIR/pgids). Returns 0 when the emulator is gone.
# fake_azure_token                   prints a fresh ARM access token for the known client
# fake_azure_arm METHOD PATH [JSON]  calls ARM with a token; sets FA_STATUS and writes the
#                                    body to $FA_BODY and headers to $FA_HEADERS
# fake_azure_faults JSON | fake_azure_config JSON | fake_azure_reset
# fake_azure_fault_stats             prints the fault set with matched/injected counts
# fake_azure_groups                  prints GET /_fake/groups
# fake_azure_wait_until SECS CMD...  runs CMD until it succeeds or SECS pass (returns 1)

FAKE_AZURE_BIN=${FAKE_AZURE_BIN:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake-azure"}
: "${FAKE_AZURE_TENANT:=7b1c8e2a-5f3d-4c6b-9a0e-2d4f6a8c1e3b}"
: "${FAKE_AZURE_CLIENT:=0f9e8d7c-6b5a-4948-8372-615f4e3d2c1b}"
: "${FAKE_AZURE_SECRET:=fake-azure~Secret.0123456789abcdef}"
: "${FAKE_AZURE_SUBSCRIPTION:=9c0b8a7d-1e2f-4a3b-8c4d-5e6f7a8b9c0d}"

# _fake_azure_usecs SECS: SECS (a decimal such as 2.5) in microseconds, as an integer.
_fake_azure_usecs() {
	local s=$1 whole frac
	whole=${s%%.*}
	frac=
	[[ $s == *.* ]] && frac=${s#*.}
	frac=${frac}000000
	frac=${frac:0:6}
	echo $((10#${whole:-0} * 1000000 + 10#$frac))
}

fake_azure_wait_until() {
	local secs=$1
	shift
	# In microseconds, by bash's own 64-bit arithmetic: mawk's printf %d stops at 2^31.
	local now=${EPOCHREALTIME/./} deadline
	deadline=$((now + $(_fake_azure_usecs "$secs")))
	until "$@"; do
		now=${EPOCHREALTIME/./}
		[ "$now" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

fake_azure_start() {
	local dir="" args=() msi=0
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--dir=*) dir=${1#--dir=}; shift ;;
		--msi) msi=1; args+=("$1"); shift ;;
		*) args+=("$1"); shift ;;
		esac
	done
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/fake-azure.XXXXXX") || return 1
	fi
	mkdir -p "$dir" || return 1
	: >"$dir/stdout"
	# Close fd 3 (bats' output) so a running emulator never keeps bats waiting.
	"$FAKE_AZURE_BIN" --dir "$dir" --port 0 --log "$dir/requests.jsonl" \
		--client "$FAKE_AZURE_TENANT:$FAKE_AZURE_CLIENT:$FAKE_AZURE_SECRET" \
		--subscription "$FAKE_AZURE_SUBSCRIPTION" \
		"${args[@]}" >"$dir/stdout" 2>"$dir/stderr" </dev/null 3>&- &
	local pid=$!
	echo "$pid" >"$dir/pid"
	local timeout=${FAKE_AZURE_START_TIMEOUT:-90} line=""
	_fake_azure_ready() {
		line=$(grep -m1 '^fake-azure ready ' "$dir/stdout" 2>/dev/null) && [ -n "$line" ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			return 0
		fi
		return 1
	}
	fake_azure_wait_until "$timeout" _fake_azure_ready || true # the check below cleans up
	if [ -z "$line" ]; then
		echo "fake-azure did not start within ${timeout}s (dir $dir):" >&2
		cat "$dir/stderr" >&2
		# never leave it behind: a stray emulator holds bats' pipes open forever
		kill -TERM "$pid" 2>/dev/null
		fake_azure_wait_until 5 eval '! kill -0 '"$pid"' 2>/dev/null' || kill -KILL "$pid" 2>/dev/null
		return 1
	fi
	local kv
	for kv in $line; do
		case $kv in
		port=*) FAKE_AZURE_PORT=${kv#port=} ;;
		ca=*) FAKE_AZURE_CA=${kv#ca=} ;;
		url=*) FAKE_AZURE_URL=${kv#url=} ;;
		esac
	done
	export FAKE_AZURE_PID=$pid FAKE_AZURE_PORT FAKE_AZURE_CA FAKE_AZURE_URL
	export FAKE_AZURE_DIR=$dir FAKE_AZURE_LOG=$dir/requests.jsonl
	export FAKE_AZURE_TENANT FAKE_AZURE_CLIENT FAKE_AZURE_SECRET FAKE_AZURE_SUBSCRIPTION
	export AZURE_AUTHORITY_HOST=$FAKE_AZURE_URL LEGION_ARM_ENDPOINT=$FAKE_AZURE_URL
	export SSL_CERT_FILE=$FAKE_AZURE_CA CURL_CA_BUNDLE=$FAKE_AZURE_CA
	export AZURE_TENANT_ID=$FAKE_AZURE_TENANT AZURE_CLIENT_ID=$FAKE_AZURE_CLIENT
	export AZURE_CLIENT_SECRET=$FAKE_AZURE_SECRET AZURE_SUBSCRIPTION_ID=$FAKE_AZURE_SUBSCRIPTION
	if [ "$msi" = 1 ]; then
		export LEGION_IMDS_ENDPOINT=$FAKE_AZURE_URL
	fi
	return 0
}

fake_azure_stop() {
	local pid=${1:-${FAKE_AZURE_PID:-}} dir=${FAKE_AZURE_DIR:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	_fake_azure_gone() {
		# Gone, or a zombie its parent (maybe this shell) has not reaped yet.
		local st
		st=$(ps -o stat= -p "$pid" 2>/dev/null)
		[ -z "$st" ] || [[ $st == Z* ]]
	}
	if ! fake_azure_wait_until 20 _fake_azure_gone; then
		echo "fake-azure $pid ignored SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
		if [ -n "$dir" ] && [ -f "$dir/pgids" ]; then
			local g
			while read -r g; do
				[ -n "$g" ] && kill -KILL -- "-$g" 2>/dev/null
			done <"$dir/pgids"
		fi
		fake_azure_wait_until 5 _fake_azure_gone
	fi
	wait "$pid" 2>/dev/null
	return 0
}

fake_azure_token() {
	curl -sS --fail-with-body --cacert "$FAKE_AZURE_CA" \
		"$FAKE_AZURE_URL/$FAKE_AZURE_TENANT/oauth2/v2.0/token" \
		--data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT" \
		--data-urlencode "client_secret=$FAKE_AZURE_SECRET" \
		--data-urlencode scope=https://management.azure.com/.default | jq -er .access_token
}

# fake_azure_arm METHOD PATH [JSON]: PATH is everything after the host, query included.
# Uses $FA_TOKEN when set (else gets one). Sets FA_STATUS; body in $FA_BODY, headers in
# $FA_HEADERS (files under $BATS_TEST_TMPDIR or $TMPDIR).
fake_azure_arm() {
	local method=$1 path=$2 data=${3-}
	local tmp=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
	FA_BODY=$tmp/fa_body.json
	FA_HEADERS=$tmp/fa_headers.txt
	local tok=${FA_TOKEN:-}
	[ -n "$tok" ] || tok=$(fake_azure_token) || return 1
	local args=(-sS --cacert "$FAKE_AZURE_CA" -X "$method" -o "$FA_BODY" -D "$FA_HEADERS"
		-w '%{http_code}' -H "Authorization: Bearer $tok")
	if [ -n "$data" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$data")
	fi
	FA_STATUS=$(curl "${args[@]}" "$FAKE_AZURE_URL$path")
}

# The value of response header $1 from the last fake_azure_arm call.
fake_azure_header() {
	grep -i "^$1:" "$FA_HEADERS" | head -n1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

_fake_azure_control() {
	curl -sS --fail-with-body --cacert "$FAKE_AZURE_CA" -X "$1" \
		-H 'Content-Type: application/json' ${2:+--data-binary "$2"} \
		"$FAKE_AZURE_URL/_fake/$3"
}
fake_azure_faults() { _fake_azure_control POST "${1:-"{}"}" faults; }
fake_azure_config() { _fake_azure_control POST "${1:-"{}"}" config; }
fake_azure_fault_stats() { _fake_azure_control GET "" faults; }
fake_azure_reset() { _fake_azure_control POST "" reset; }
fake_azure_groups() { _fake_azure_control GET "" groups; }

# fake_azure_start_spark [HELPERS]: the emulator in exec mode with what the image would
# provide: the helpers (default $ROOT/helpers) on PATH, Spark and its Python from the
# venv. Starts nothing when the helpers or the venv are missing (the tests then skip).
fake_azure_start_spark() {
	local helpers=${1:-$ROOT/helpers} venv=${LEGION_CACHE_VENV}
	[ -x "$helpers/legion-jobd" ] || return 0
	SPARK_HOME=$(ls -d "$venv"/lib/python3*/site-packages/pyspark 2>/dev/null | head -n 1)
	[ -n "$SPARK_HOME" ] || return 0
	export SPARK_HOME PYSPARK_PYTHON=$venv/bin/python3 PATH=$helpers:$PATH
	fake_azure_start --exec
}
