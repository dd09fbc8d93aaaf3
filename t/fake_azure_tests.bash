# t/fake_azure_tests.bash: what t/fake-azure.bats asserts with: ARM calls that must
# answer a status or an error code, container-group bodies and states, the processes
# exec mode started. Leaves out starting the emulator (fake_azure_helper.bash does).
# Expects $SUB and $RG (set by the suite's setup).

fail() {
	echo "$*"
	[ -f "${FA_BODY:-/nonexistent}" ] && { echo "--- last body:"; cat "$FA_BODY"; echo; }
	return 1
}

expect_status() {
	[ "$FA_STATUS" = "$1" ] || fail "HTTP status $FA_STATUS, want $1"
}

# expect_jq FILTER WANT: the last body's FILTER (jq -r) equals WANT.
expect_jq() {
	local got
	got=$(jq -r "$1" "$FA_BODY") || fail "jq $1 failed"
	[ "$got" = "$2" ] || fail "$1 is '$got', want '$2'"
}

# expect_error STATUS CODE: an ARM error body {"error":{"code","message"}}.
expect_error() {
	expect_status "$1"
	expect_jq .error.code "$2"
	[ -n "$(jq -r '.error.message // empty' "$FA_BODY")" ] || fail "no error.message"
}

rg_path() { echo "/subscriptions/$SUB/resourceGroups/$1?api-version=2021-04-01"; }

# cg_path NAME [SUFFIX] [API]
cg_path() {
	echo "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups/$1${2:-}?api-version=${3:-$API}"
}

make_rg() {
	fake_azure_arm PUT "$(rg_path "${1:-$RG}")" '{"location":"westus"}'
	[ "$FA_STATUS" = 201 ] || [ "$FA_STATUS" = 200 ] || fail "resource group: $FA_STATUS"
}

# cg_body [CPU] [MEM] [COMMAND-JSON] [RESTART-POLICY] [LOCATION]
cg_body() {
	jq -nc --argjson cpu "${1:-1}" --argjson mem "${2:-1.5}" --argjson cmd "${3:-null}" \
		--arg rp "${4:-Never}" --arg loc "${5:-westus}" '{
		location: $loc, tags: {"legion-cluster": "legion-0000abcd"},
		properties: {osType: "Linux", restartPolicy: $rp, containers: [{name: "main",
			properties: ({image: "legion/spark:test",
				resources: {requests: {cpu: $cpu, memoryInGB: $mem}}}
				+ (if $cmd then {command: $cmd} else {} end))}]}}'
}

# put_group NAME BODY: expects 201.
put_group() {
	fake_azure_arm PUT "$(cg_path "$1")" "$2"
	expect_status 201
}

group_in_state() {
	fake_azure_arm GET "$(cg_path "$1")" && [ "$FA_STATUS" = 200 ] &&
		[ "$(jq -r .properties.instanceView.state "$FA_BODY")" = "$2" ]
}

wait_state() {
	fake_azure_wait_until 10 group_in_state "$1" "$2" ||
		fail "group $1 never reached state $2"
}

# fake_pid NAME: the main pid of a group's first container, from /_fake/groups.
fake_pid() {
	fake_azure_groups | jq -er --arg n "$1" '.value[] | select(.name == $n) | .containers[0].pid'
}

# A pid is gone when no process has it, or only a zombie waiting to be reaped does.
pid_gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$st" ] || [[ $st == Z* ]]
}

# group_gone PGID: no live process left in the process group (session) PGID.
group_gone() {
	! ps -o stat= -g "$1" 2>/dev/null | grep -qv '^Z'
}

# refute_grep STRING FILE: STRING does not occur in FILE.
refute_grep() {
	if grep -qF -- "$1" "$2"; then
		fail "found '$1' in $2"
	fi
}

token_request() {
	# token_request TENANT [curl --data-urlencode args...]; sets FA_STATUS, FA_BODY
	local tenant=$1
	shift
	FA_BODY=$BATS_TEST_TMPDIR/token.json
	FA_STATUS=$(curl -sS --cacert "$FAKE_AZURE_CA" -o "$FA_BODY" -w '%{http_code}' \
		"$FAKE_AZURE_URL/$tenant/oauth2/v2.0/token" "$@")
}

good_token_args=(--data-urlencode grant_type=client_credentials
	--data-urlencode "client_id=$FAKE_AZURE_CLIENT"
	--data-urlencode "client_secret=$FAKE_AZURE_SECRET"
	--data-urlencode scope=https://management.azure.com/.default)

# expect_aad STATUS ERROR CODE: an Entra error body.
expect_aad() {
	expect_status "$1"
	expect_jq .error "$2"
	expect_jq '.error_codes[0]' "$3"
	expect_jq '.error_description | startswith("AADSTS'"$3"': ")' true
	expect_jq '[.timestamp, .trace_id, .correlation_id] | all(. != null and . != "")' true
}

# spawn_strays SECS: a container command whose main process starts three more, then
# sleeps SECS: one in its own session, one in its own session handed to init (double
# fork), one with an empty environment; each writes its pid to ./pids.
spawn_strays() {
	cat >"$BATS_TEST_TMPDIR/strays.sh" <<'EOF'
setsid sh -c 'echo $$ >>pids; exec sleep 301' &
( setsid sh -c 'echo $$ >>pids; exec sleep 302' & )
env -i /bin/sh -c 'echo $$ >>pids; exec sleep 303' &
sleep "$1"
EOF
	echo "[\"sh\",\"$BATS_TEST_TMPDIR/strays.sh\",\"$1\"]"
}

# strays_gone NAME: every pid the group's container wrote to its ./pids has ended (those
# still alive are killed here, so that a failing test leaves nothing behind).
strays_gone() {
	local f=$FAKE_AZURE_DIR/groups/${SUB,,}/${RG,,}/$1/pids p left=""
	all_gone() { for p in $(cat "$f"); do pid_gone "$p" || return 1; done; }
	fake_azure_wait_until 10 all_gone && return 0
	for p in $(cat "$f"); do pid_gone "$p" || left+=" $p"; done
	kill -KILL $left 2>/dev/null
	fail "still alive:$left"
}

three_pids() { [ "$(wc -l <"$FAKE_AZURE_DIR/groups/${SUB,,}/${RG,,}/$1/pids")" -ge 3 ]; } 2>/dev/null
