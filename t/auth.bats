#!/usr/bin/env bats
# t/auth.bats: Entra ID tokens as a user checks them with `legion auth`: which
# credentials are used (AZURE_*, the seed's APP_ID/PASSWORD/TENANT_ID, managed
# identity), what it prints on success, the documented exit codes when a credential is
# refused (77), missing (78) or the endpoint unreachable (69), -v request lines, and
# that the secret and the token never show; plus the token cache (t/auth_test.c).
# Against t/fake-azure. Leaves out TLS trust (t/tls.bats).

load test_helper
load fake_azure_helper

setup_file() {
	# a second client whose secret is made for this run and given to the emulator
	# through its environment, so no command line anywhere on the machine holds it
	export SECRET_CLIENT=3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d
	SECRET_SECRET=only-in-env~$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	export SECRET_SECRET
	printf '%s\n' "$SECRET_SECRET" >"$BATS_FILE_TMPDIR/secret"
	FAKE_AZURE_CLIENTS=$FAKE_AZURE_TENANT:$SECRET_CLIENT:$SECRET_SECRET fake_azure_start --msi
}

teardown_file() {
	fake_azure_stop
}

setup() {
	: >"$FAKE_AZURE_LOG"
	TOKEN_PATH=/$FAKE_AZURE_TENANT/oauth2/v2.0/token
	# managed identity must not answer unless a test asks for it
	export LEGION_IMDS_ENDPOINT=http://127.0.0.1:$(free_port)
}

teardown() {
	fake_azure_faults '{}' >/dev/null
	fake_azure_config '{"token_lifetime":3599}' >/dev/null
}

# token_requests: how many token requests the emulator has logged.
token_requests() {
	jq -s --arg p "$TOKEN_PATH" '[.[] | select(.path == $p)] | length' "$FAKE_AZURE_LOG"
}
# logged N: the emulator's log shows exactly N token requests (it writes each line just
# after answering, so wait for the count to get there).
logged() {
	local n
	wait_for -t 10 eval '[ "$(token_requests)" -ge '"$1"' ]' || true
	n=$(token_requests)
	echo "token requests logged: $n, want $1"
	[ "$n" -eq "$1" ]
}

# no_secrets: neither the client secret nor any token (a JWT) in the last run's output.
no_secrets() {
	[[ $output != *"$FAKE_AZURE_SECRET"* && $stderr != *"$FAKE_AZURE_SECRET"* ]]
	[[ $output != *eyJ* && $stderr != *eyJ* ]]
}

show() {
	echo "exit $status"
	echo "stdout: $output"
	echo "stderr: $stderr"
}

@test "legion auth with a service principal prints who it is as JSON and exits 0" {
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r 'keys_unsorted | join(",")' <<<"$output")" = "kind,tenant,clientId,authority,expiresIn" ]
	[ "$(jq -r .kind <<<"$output")" = client-secret ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	[ "$(jq -r .clientId <<<"$output")" = "$FAKE_AZURE_CLIENT" ]
	[ "$(jq -r .authority <<<"$output")" = "$FAKE_AZURE_URL" ]
	jq -e '.expiresIn | type == "number" and . > 0 and . <= 3599' <<<"$output"
	no_secrets
	logged 1
	# what Entra ID was asked for: client credentials for ARM
	jq -se --arg p "$TOKEN_PATH" '[.[] | select(.path == $p)][0] |
		.method == "POST" and .status == 200 and .body.grant_type == "client_credentials" and
		.body.scope == "https://management.azure.com/.default"' "$FAKE_AZURE_LOG"
}

@test "a wrong secret exits 77 with Entra's AADSTS7000215 on one line" {
	AZURE_CLIENT_SECRET=not-the-secret run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == "legion: credential refused for client $FAKE_AZURE_CLIENT: POST $FAKE_AZURE_URL$TOKEN_PATH: HTTP 401 invalid_client: AADSTS7000215: "* ]]
	[[ $stderr != *not-the-secret* ]]
	no_secrets
	logged 1 # refused: not retried
}

@test "an unknown client exits 77 with AADSTS700016" {
	AZURE_CLIENT_ID=11111111-2222-3333-4444-555555555555 run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == "legion: credential refused for client 11111111-2222-3333-4444-555555555555: "*"AADSTS700016: "* ]]
	no_secrets
	logged 1
}

@test "an unknown tenant exits 77 with AADSTS90002" {
	AZURE_TENANT_ID=99999999-8888-7777-6666-555555555555 run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == *"AADSTS90002: "* ]]
	no_secrets
	TOKEN_PATH=/99999999-8888-7777-6666-555555555555/oauth2/v2.0/token logged 1
}

@test "no credentials at all exits 78 naming AZURE_CLIENT_ID" {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == "legion: no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID "* ]]
}

@test "a client id without a secret exits 78 naming AZURE_CLIENT_SECRET" {
	unset AZURE_CLIENT_SECRET
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: AZURE_CLIENT_ID is set but AZURE_CLIENT_SECRET is not: set all of AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID" ]
	logged 0
}

@test "a secret without a client id exits 78 naming AZURE_CLIENT_ID" {
	unset AZURE_CLIENT_ID
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_CLIENT_SECRET is set but AZURE_CLIENT_ID is not: set all of AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID" ]
	no_secrets
}

@test "a client id and secret without a tenant exit 78 naming AZURE_TENANT_ID" {
	unset AZURE_TENANT_ID
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_CLIENT_ID is set but AZURE_TENANT_ID is not: set all of AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID" ]
}

@test "the seed's APP_ID, PASSWORD and TENANT_ID work" {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID
	APP_ID=$FAKE_AZURE_CLIENT PASSWORD=$FAKE_AZURE_SECRET TENANT_ID=$FAKE_AZURE_TENANT \
		run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = client-secret ]
	[ "$(jq -r .clientId <<<"$output")" = "$FAKE_AZURE_CLIENT" ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	no_secrets
	logged 1
}

@test "the seed's spellings without TENANT_ID exit 78 naming TENANT_ID" {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID
	APP_ID=$FAKE_AZURE_CLIENT PASSWORD=$FAKE_AZURE_SECRET run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: APP_ID is set but TENANT_ID is not: set all of APP_ID, PASSWORD and TENANT_ID" ]
}

@test "managed identity is used when no secret is set" {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID
	LEGION_IMDS_ENDPOINT=$FAKE_AZURE_URL run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = managed-identity ]
	[ "$(jq -r .authority <<<"$output")" = "$FAKE_AZURE_URL" ]
	# IMDS sends expires_in as a string
	jq -e '.expiresIn | type == "number" and . > 0 and . <= 3599' <<<"$output"
	no_secrets
}

@test "-v prints the token request and its answer on stderr, never the secret" {
	run --separate-stderr "$LEGION" -v auth
	show
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "legion: > POST $FAKE_AZURE_URL$TOKEN_PATH" ]
	[[ ${stderr_lines[1]} =~ ^legion:\ \<\ POST\ ${FAKE_AZURE_URL}${TOKEN_PATH}\ -\>\ 200\ \([0-9]+\ ms\)$ ]]
	no_secrets
	run --separate-stderr "$LEGION" auth -v
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "legion: > POST $FAKE_AZURE_URL$TOKEN_PATH" ]
	logged 2
}

@test "the secret is never on a command line, only in the environment" {
	fake_azure_faults '{"latency_ms":1500,"paths":"/oauth2/"}' >/dev/null
	AZURE_CLIENT_ID=$SECRET_CLIENT AZURE_CLIENT_SECRET=$SECRET_SECRET \
		"$LEGION" auth >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local pid=$! scans=0 seen_env=0 found p
	# while legion waits for its token, look at every process's command line
	while kill -0 "$pid" 2>/dev/null; do
		found=$(grep -lsF -f "$BATS_FILE_TMPDIR/secret" /proc/[0-9]*/cmdline || true)
		[ -z "$found" ] || {
			for p in $found; do echo "secret in $p: $(tr '\0' ' ' <"$p")"; done
			false
		}
		grep -qsF -f "$BATS_FILE_TMPDIR/secret" "/proc/$pid/environ" && seen_env=1
		scans=$((scans + 1))
	done
	wait "$pid"
	echo "scans: $scans; secret seen in legion's environment: $seen_env"
	[ "$scans" -ge 1 ]
	[ "$seen_env" -eq 1 ]
	! grep -qF -f "$BATS_FILE_TMPDIR/secret" "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
	[ "$(jq -r .clientId "$BATS_TEST_TMPDIR/out")" = "$SECRET_CLIENT" ]
	logged 1
}

@test "a token endpoint that fails once with 503 is retried after its Retry-After" {
	fake_azure_faults '{"rate":1,"count":1,"kinds":["503"],"retry_after":1,"paths":"/oauth2/"}' >/dev/null
	run --separate-stderr "$LEGION" -v auth
	show
	[ "$status" -eq 0 ]
	[[ $stderr == *"-> 503"* ]]
	[[ $stderr == *"retrying in 1000 ms (try 2 of 6)"* ]]
	logged 2
}

@test "an unreachable token endpoint exits 69 with one line saying so" {
	local port
	port=$(free_port)
	AZURE_AUTHORITY_HOST=https://localhost:$port run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 69 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == "legion: unable to get a token: POST https://localhost:$port$TOKEN_PATH: could not connect"* ]]
	no_secrets
}

@test "a cached token is reused until its refresh point, then replaced (auth_test)" {
	local bin=$ROOT/t/auth_test
	[ -z "${LEGION_BIN:-}" ] || bin=$ROOT/build/asan/t/auth_test
	[ -x "$bin" ] || skip "$bin is not built: run make (or make asan)"
	fake_azure_config '{"token_lifetime":2}' >/dev/null
	run --separate-stderr "$bin"
	show
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "8 passed, 0 failed" ]
	logged 2
}

@test "auth_test passes under ASan and UBSan" {
	[ -x "$ROOT/build/asan/t/auth_test" ] || skip "build/asan/t/auth_test is not built: run make asan"
	fake_azure_config '{"token_lifetime":2}' >/dev/null
	run --separate-stderr "$ROOT/build/asan/t/auth_test"
	show
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "8 passed, 0 failed" ]
	logged 2
}
