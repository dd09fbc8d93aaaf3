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
	unset AZURE_CLOUD AZURE_CLOUD_NAME AZURE_CONFIG_DIR # the cloud: the public one
	TOKEN_PATH=/$FAKE_AZURE_TENANT/oauth2/v2.0/token
	# managed identity must not answer unless a test asks for it
	export LEGION_IMDS_ENDPOINT=http://127.0.0.1:$(free_port)
}

teardown() {
	fake_azure_faults '{}' >/dev/null
	fake_azure_config '{"token_lifetime":3599,"cloud":"AzurePublicCloud"}' >/dev/null
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

# deploy_reaches_arm [OPTION...]: `legion deploy-master OPTION...` with the credential the environment
# holds gets the master's container group created by ARM (the emulator runs no container
# here: legion gives up waiting for its job API after a second, exits 69 and deletes the
# group), saying which credential it is; meanwhile no command line on the machine holds
# a secret or a token. SECRETS_FILE: more fixed strings that must not show.
deploy_reaches_arm() {
	local out=$BATS_TEST_TMPDIR/deploy pid found scans=0
	: >"$FAKE_AZURE_LOG"
	LEGION_MASTER_TIMEOUT=1 "$LEGION" deploy-master --backend aci --image registry.test/legion/spark:test \
		"$@" >"$out.out" 2>"$out.err" 3>&- &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		# every process: the secrets; this test's own (legion, az): any token (a JWT)
		found=$(grep -lsF -f "${SECRETS_FILE:-/dev/null}" /proc/[0-9]*/cmdline || true)
		for p in $(grep -lsF "FAKE_AZURE_URL=$FAKE_AZURE_URL" /proc/[0-9]*/environ || true); do
			grep -qsE 'eyJ[A-Za-z0-9_-]{8,}\.' "${p%environ}cmdline" && found+=" ${p%environ}cmdline"
		done
		[ -z "$found" ] || {
			for p in $found; do echo "a secret in $p: $(tr '\0' ' ' <"$p")"; done
			false
		}
		scans=$((scans + 1))
	done
	local rc=0
	wait "$pid" || rc=$?
	echo "deploy-master: exit $rc after $scans scans; stderr:"
	cat "$out.err"
	[ "$scans" -ge 1 ]
	[ "$rc" -eq 69 ]
	grep -q "legion: unable to reach the master" "$out.err" || grep -q "LEGION_MASTER_TIMEOUT" "$out.err"
	! grep -q 'eyJ' "$out.out" "$out.err"
	[ -z "${SECRETS_FILE:-}" ] || ! grep -qF -f "$SECRETS_FILE" "$out.out" "$out.err"
	# ARM created the group for this identity's token, and nothing refused it
	jq -se --arg s "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/" '[.[] | select(.method == "PUT" and
		(.path | startswith($s)) and (.path | test("/containerGroups/legion-[0-9a-f]{8}-master$")))] |
		length == 1 and .[0].status == 201 and .[0].auth == "Bearer"' "$FAKE_AZURE_LOG"
	jq -se '[.[] | select(.status == 401 or .status == 403)] | length == 0' "$FAKE_AZURE_LOG"
}

@test "legion auth with a service principal prints who it is as JSON and exits 0" {
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r 'keys_unsorted | join(",")' <<<"$output")" = "credential,tenant,clientId,user,subscription,authority,expiresIn,cloud" ]
	[ "$(jq -r .cloud <<<"$output")" = AzurePublicCloud ]
	[ "$(jq -r .credential <<<"$output")" = secret ]
	[ "$(jq -r .user <<<"$output")" = null ]
	[ "$(jq -r .subscription <<<"$output")" = "$FAKE_AZURE_SUBSCRIPTION" ]
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
	SECRETS_FILE=$BATS_FILE_TMPDIR/secret AZURE_CLIENT_ID=$SECRET_CLIENT \
		AZURE_CLIENT_SECRET=$SECRET_SECRET deploy_reaches_arm
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

@test "a client id without a secret (and no managed identity, no az) exits 78 naming AZURE_CLIENT_SECRET" {
	unset AZURE_CLIENT_SECRET
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "legion: no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID "*"run 'az login'"*"managed identity is not reachable"* ]]
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
	[ "$(jq -r .credential <<<"$output")" = secret ]
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
	[ "$(jq -r .credential <<<"$output")" = msi ]
	# who the identity is, from its token
	[ "$(jq -r .clientId <<<"$output")" = 5d4c3b2a-1908-4766-a5e4-d3c2b1a09f8e ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	[ "$(jq -r .authority <<<"$output")" = "$FAKE_AZURE_URL" ]
	# IMDS sends expires_in as a string
	jq -e '.expiresIn | type == "number" and . > 0 and . <= 3599' <<<"$output"
	no_secrets
	LEGION_IMDS_ENDPOINT=$FAKE_AZURE_URL deploy_reaches_arm
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

# ---- LEGION_CREDENTIAL and the Azure CLI credential (t/fixtures/az stands in for az)

# no_env_credentials: nothing in the environment, so the chain reaches az.
no_env_credentials() {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_SUBSCRIPTION_ID
	export PATH=$ROOT/t/fixtures:$PATH FAKE_AZ_ARGS=$BATS_TEST_TMPDIR/az-args
}

@test "after 'az login' alone, legion auth uses the Azure CLI and prints the user, tenant and subscription" {
	no_env_credentials
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .credential <<<"$output")" = cli ]
	[ "$(jq -r .user <<<"$output")" = ada@example.com ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	[ "$(jq -r .subscription <<<"$output")" = "$FAKE_AZURE_SUBSCRIPTION" ]
	jq -e '.expiresIn > 0 and .expiresIn <= 3599' <<<"$output"
	no_secrets
	# az was run with an argument list, exactly this one
	[ "$(tr '\n' ' ' <"$FAKE_AZ_ARGS")" = "account get-access-token --resource https://management.azure.com/ --output json " ]
	deploy_reaches_arm
}

@test "the Azure CLI's token and default subscription reach ARM (legion status --backend aci)" {
	no_env_credentials
	run --separate-stderr "$LEGION" status --backend aci
	show
	[ "$status" -eq 0 ]
	[ "$(jq -c .clusters <<<"$output")" = "[]" ]
	# ARM took the token, for the subscription az named (the group is not there: 404)
	jq -se --arg s "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/" \
		'[.[] | select(.auth == "Bearer")] | length > 0 and all(.path | startswith($s)) and all(.status != 401)' "$FAKE_AZURE_LOG"
}

@test "an older az without expires_on works from expiresOn (local time)" {
	no_env_credentials
	FAKE_AZ_MODE=old TZ=Asia/Kolkata run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	jq -e '.credential == "cli" and .expiresIn > 3000 and .expiresIn <= 3599' <<<"$output"
}

@test "AZURE_TENANT_ID goes to az as --tenant" {
	no_env_credentials
	AZURE_TENANT_ID=$FAKE_AZURE_TENANT run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ' ' <"$FAKE_AZ_ARGS")" = "account get-access-token --resource https://management.azure.com/ --output json --tenant $FAKE_AZURE_TENANT " ]
}

@test "az failing with 'Please run az login' exits 78 with its message on one line" {
	no_env_credentials
	FAKE_AZ_MODE=login run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: the Azure CLI failed (exit 1): ERROR: Please run 'az login' to setup account." ]
}

@test "az answering malformed JSON exits 69 with one line" {
	no_env_credentials
	FAKE_AZ_MODE=malformed run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 69 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: the Azure CLI's answer is not a token (no accessToken and expires_on in the JSON of 'az account get-access-token')" ]
}

@test "LEGION_CREDENTIAL=cli without az on PATH exits 78 saying to install it" {
	unset AZURE_SUBSCRIPTION_ID
	LEGION_CREDENTIAL=cli run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: the Azure CLI credential needs 'az' on PATH: install the Azure CLI and run 'az login', or set another credential (see 'man legion', CREDENTIALS)" ]
	logged 0 # the secret in the environment was not used
}

@test "LEGION_CREDENTIAL=cli uses az even when a client secret is set" {
	export PATH=$ROOT/t/fixtures:$PATH
	LEGION_CREDENTIAL=cli run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r .credential <<<"$output")" = cli ]
	logged 0
}

@test "LEGION_CREDENTIAL=msi uses managed identity even when a client secret is set" {
	unset AZURE_CLIENT_ID # (it would name a user-assigned identity)
	LEGION_CREDENTIAL=msi LEGION_IMDS_ENDPOINT=$FAKE_AZURE_URL run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r .credential <<<"$output")" = msi ]
	logged 0
}

@test "LEGION_CREDENTIAL=secret without a secret exits 78 naming the variables" {
	unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET
	LEGION_CREDENTIAL=secret run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: LEGION_CREDENTIAL=secret: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID" ]
}

@test "an unknown LEGION_CREDENTIAL exits 78 listing the credentials" {
	LEGION_CREDENTIAL=password run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: LEGION_CREDENTIAL: 'password' is not a credential (secret, certificate, workload, msi, cli)" ]
	logged 0
}

@test "-v shows the az command line (never its token)" {
	no_env_credentials
	run --separate-stderr "$LEGION" -v auth
	show
	[ "$status" -eq 0 ]
	# the managed identity probe: one try, then az
	[ "${#stderr_lines[@]}" -eq 4 ]
	[ "${stderr_lines[0]}" = "legion: > GET $LEGION_IMDS_ENDPOINT/metadata/identity/oauth2/token" ]
	[ "${stderr_lines[2]}" = "legion: > az account get-access-token --resource https://management.azure.com/" ]
	[[ ${stderr_lines[3]} =~ ^legion:\ \<\ az\ account\ get-access-token\ -\>\ exit\ 0\ \([0-9]+\ ms\)$ ]]
	no_secrets
}

# ---- workload identity: a federated token from a test identity provider, or GitHub
# Actions' OIDC endpoint (the emulator plays it)

b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# idp_setup: the test IdP's key (once per file) and a federated credential for
# WORKLOAD_CLIENT that trusts it for one issuer, subject and audience.
idp_setup() {
	export IDP_ISS=https://idp.test.invalid IDP_SUB=system:serviceaccount:spark:legion
	export WORKLOAD_CLIENT=6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098 IDP_KEY=$BATS_FILE_TMPDIR/idp.key
	[ -f "$IDP_KEY" ] || {
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$IDP_KEY" 2>/dev/null
		openssl pkey -in "$IDP_KEY" -pubout -out "$IDP_KEY.pub" 2>/dev/null
	}
	jq -n --arg c "$WORKLOAD_CLIENT" --arg i "$IDP_ISS" --arg s "$IDP_SUB" --rawfile k "$IDP_KEY.pub" \
		'{client: $c, issuer: $i, subject: $s, audience: "api://AzureADTokenExchange", key: $k}' |
		curl -sS --fail --cacert "$FAKE_AZURE_CA" -H 'Content-Type: application/json' \
			--data-binary @- "$FAKE_AZURE_URL/_fake/federated" >/dev/null
}

# idp_jwt SUB [LIFETIME [KEY]]: a token from the test IdP for Entra's audience.
idp_jwt() {
	local now head claims
	now=$(date +%s)
	head=$(printf '{"alg":"RS256","typ":"JWT","kid":"test"}' | b64u)
	claims=$(jq -cn --arg iss "$IDP_ISS" --arg sub "$1" --argjson now "$now" --argjson life "${2:-600}" \
		'{iss: $iss, sub: $sub, aud: "api://AzureADTokenExchange", iat: ($now - 700), nbf: ($now - 700), exp: ($now + $life), jti: ($now | tostring)}' | b64u)
	printf '%s.%s.%s\n' "$head" "$claims" \
		"$(printf '%s.%s' "$head" "$claims" | openssl dgst -sha256 -sign "${3:-$IDP_KEY}" -binary | b64u)"
}

workload_env() {
	idp_setup
	unset AZURE_CLIENT_SECRET
	export AZURE_CLIENT_ID=$WORKLOAD_CLIENT AZURE_FEDERATED_TOKEN_FILE=$BATS_TEST_TMPDIR/token
}

@test "a federated token file (workload identity) gets a token: credential workload" {
	workload_env
	idp_jwt "$IDP_SUB" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .credential <<<"$output")" = workload ]
	[ "$(jq -r .clientId <<<"$output")" = "$WORKLOAD_CLIENT" ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	no_secrets
	logged 1
	jq -se --arg p "$TOKEN_PATH" '[.[] | select(.path == $p)][0].body |
		.client_assertion_type == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and
		.client_assertion == "***" and (has("client_secret") | not) and .client_id == env.WORKLOAD_CLIENT' "$FAKE_AZURE_LOG"
	# and ARM takes the token
	run --separate-stderr "$LEGION" status --backend aci
	[ "$status" -eq 0 ]
	deploy_reaches_arm
}

@test "the token file is read when a token is needed: a rotated file is used" {
	workload_env
	idp_jwt "system:serviceaccount:other:thief" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	[ "$status" -eq 77 ]
	idp_jwt "$IDP_SUB" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
}

@test "a federated token for another subject exits 77 with AADSTS70021" {
	workload_env
	idp_jwt "system:serviceaccount:other:thief" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "legion: credential refused for client $WORKLOAD_CLIENT: POST "*"HTTP 400 invalid_request: AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '$IDP_ISS'."* ]]
	no_secrets
}

@test "a federated token signed by another key exits 77 with AADSTS700027" {
	workload_env
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$BATS_TEST_TMPDIR/evil.key" 2>/dev/null
	idp_jwt "$IDP_SUB" 600 "$BATS_TEST_TMPDIR/evil.key" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[[ $stderr == *"HTTP 401 invalid_client: AADSTS700027: "* ]]
}

@test "an expired federated token exits 77 with AADSTS700024" {
	workload_env
	idp_jwt "$IDP_SUB" -60 >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[[ $stderr == *"HTTP 401 invalid_client: AADSTS700024: Client assertion is not within its valid time range."* ]]
}

@test "a missing token file exits 78 naming it" {
	workload_env
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_FEDERATED_TOKEN_FILE: unable to read $AZURE_FEDERATED_TOKEN_FILE: No such file or directory" ]
	logged 0
}

@test "a token file without AZURE_TENANT_ID exits 78 naming it" {
	workload_env
	unset AZURE_TENANT_ID
	idp_jwt "$IDP_SUB" >"$AZURE_FEDERATED_TOKEN_FILE"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID is not: a workload identity needs AZURE_CLIENT_ID and AZURE_TENANT_ID too" ]
}

# actions_env: the emulator plays GitHub Actions' token endpoint; ACTIONS_CLIENT trusts
# its tokens for this repository's main branch.
actions_env() {
	export ACTIONS_CLIENT=1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d
	local key
	key=$(curl -sS --fail --cacert "$FAKE_AZURE_CA" -H 'Content-Type: application/json' \
		--data-binary '{"request_token":"gha-request-token","subject":"repo:octo/legion:ref:refs/heads/main"}' \
		"$FAKE_AZURE_URL/_fake/actions" | jq -r .key)
	jq -n --arg c "$ACTIONS_CLIENT" --arg k "$key" '{client: $c, issuer: "https://token.actions.githubusercontent.com",
		subject: "repo:octo/legion:ref:refs/heads/main", audience: "api://AzureADTokenExchange", key: $k}' |
		curl -sS --fail --cacert "$FAKE_AZURE_CA" -H 'Content-Type: application/json' \
			--data-binary @- "$FAKE_AZURE_URL/_fake/federated" >/dev/null
	unset AZURE_CLIENT_SECRET
	export AZURE_CLIENT_ID=$ACTIONS_CLIENT
	export ACTIONS_ID_TOKEN_REQUEST_URL="$FAKE_AZURE_URL/_actions/token?api-version=2.0"
	export ACTIONS_ID_TOKEN_REQUEST_TOKEN=gha-request-token
}

@test "on GitHub Actions (id-token: write) the job's OIDC token is exchanged: credential workload" {
	actions_env
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .credential <<<"$output")" = workload ]
	[ "$(jq -r .clientId <<<"$output")" = "$ACTIONS_CLIENT" ]
	no_secrets
	# asked for Entra ID's audience, as azure/login does
	jq -se '[.[] | select(.path == "/_actions/token")] | length == 1 and .[0].status == 200 and
		.[0].query.audience == "api://AzureADTokenExchange" and .[0].query["api-version"] == "2.0"' "$FAKE_AZURE_LOG"
	logged 1
	echo gha-request-token >"$BATS_TEST_TMPDIR/request-token"
	SECRETS_FILE=$BATS_TEST_TMPDIR/request-token deploy_reaches_arm
}

@test "on GitHub Actions a refused request token exits 77 and says what permission is needed" {
	actions_env
	ACTIONS_ID_TOKEN_REQUEST_TOKEN=wrong run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "legion: unable to get GitHub Actions' OIDC token: GET "*"HTTP 401"*"(does the job have 'permissions: id-token: write'?)" ]]
	[[ $stderr != *wrong* ]]
	logged 0
}

# ---- certificates: a PEM with the certificate and its RSA key; the emulator checks the
# RS256 assertion against the certificate registered for CERT_CLIENT (with openssl)

# cert_make NAME [KEYFORMAT]: NAME.pem with a fresh self-signed certificate and its key
# (PKCS#8, or PKCS#1 with KEYFORMAT=pkcs1); the certificate alone in NAME.crt.
cert_make() {
	local d=$BATS_TEST_TMPDIR
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.crt" -days 2 \
		-subj "/CN=legion-$1" 2>/dev/null
	[ "${2:-}" != pkcs1 ] || openssl rsa -traditional -in "$d/$1.key" -out "$d/$1.key" 2>/dev/null
	cat "$d/$1.crt" "$d/$1.key" >"$d/$1.pem"
}
# cert_register NAME: CERT_CLIENT trusts NAME's certificate.
cert_register() {
	jq -n --arg c "$CERT_CLIENT" --rawfile p "$BATS_TEST_TMPDIR/$1.crt" '{client: $c, certificate: $p}' |
		curl -sS --fail --cacert "$FAKE_AZURE_CA" -H 'Content-Type: application/json' \
			--data-binary @- "$FAKE_AZURE_URL/_fake/certificates" >/dev/null
}
cert_env() {
	export CERT_CLIENT=2b3c4d5e-6f70-4a1b-8c2d-3e4f5a6b7c8d
	unset AZURE_CLIENT_SECRET
	export AZURE_CLIENT_ID=$CERT_CLIENT AZURE_CLIENT_CERTIFICATE_PATH=$BATS_TEST_TMPDIR/good.pem
}

@test "a certificate (PKCS#8 key) gets a token with an RS256 client assertion: credential certificate" {
	cert_env
	cert_make good
	cert_register good
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .credential <<<"$output")" = certificate ]
	[ "$(jq -r .clientId <<<"$output")" = "$CERT_CLIENT" ]
	no_secrets
	logged 1
	jq -se --arg p "$TOKEN_PATH" '[.[] | select(.path == $p)][0].body |
		.client_assertion_type == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and
		.client_assertion == "***" and (has("client_secret") | not)' "$FAKE_AZURE_LOG"
	# each token request signs a new assertion (a new jti), and ARM takes the token
	run --separate-stderr "$LEGION" status --backend aci
	show
	[ "$status" -eq 0 ]
	deploy_reaches_arm
}

@test "a certificate with a PKCS#1 key works too" {
	cert_env
	cert_make good pkcs1
	grep -q 'BEGIN RSA PRIVATE KEY' "$AZURE_CLIENT_CERTIFICATE_PATH"
	cert_register good
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r .credential <<<"$output")" = certificate ]
}

@test "a certificate the app does not know exits 77 with AADSTS700027" {
	cert_env
	cert_make good
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "legion: credential refused for client $CERT_CLIENT: POST "*"HTTP 401 invalid_client: AADSTS700027: Client assertion contains an invalid signature."* ]]
}

@test "a key that is not the certificate's exits 78 before any request" {
	cert_env
	cert_make good
	cert_make other
	cat "$BATS_TEST_TMPDIR/good.crt" "$BATS_TEST_TMPDIR/other.key" >"$AZURE_CLIENT_CERTIFICATE_PATH"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_CLIENT_CERTIFICATE_PATH: $AZURE_CLIENT_CERTIFICATE_PATH: the private key is not the certificate's" ]
	logged 0
}

@test "an expired certificate exits 77 naming the date" {
	cert_env
	local d=$BATS_TEST_TMPDIR/ca
	mkdir -p "$d" && : >"$d/index.txt" && echo 01 >"$d/serial"
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' "$d" "$d" "$d" >"$d/ca.cnf"
	openssl req -new -newkey rsa:2048 -nodes -keyout "$d/k.pem" -out "$d/r.csr" -subj /CN=old 2>/dev/null
	openssl ca -config "$d/ca.cnf" -selfsign -keyfile "$d/k.pem" -in "$d/r.csr" -startdate 20200101000000Z \
		-enddate 20200201000000Z -batch -out "$d/c.pem" 2>/dev/null
	openssl x509 -in "$d/c.pem" >"$AZURE_CLIENT_CERTIFICATE_PATH"
	cat "$d/k.pem" >>"$AZURE_CLIENT_CERTIFICATE_PATH"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "$stderr" = "legion: AZURE_CLIENT_CERTIFICATE_PATH: $AZURE_CLIENT_CERTIFICATE_PATH: the certificate expired on 2020-02-01 00:00:00 UTC" ]
	logged 0
}

@test "a certificate file that is not PEM exits 78 saying what it must hold" {
	cert_env
	echo "not a certificate" >"$AZURE_CLIENT_CERTIFICATE_PATH"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_CLIENT_CERTIFICATE_PATH: $AZURE_CLIENT_CERTIFICATE_PATH is not a PEM file with a CERTIFICATE and its PRIVATE KEY" ]
}

# ---- clouds: --cloud, AZURE_CLOUD, the Azure CLI's active cloud (the emulator plays the
# cloud its config names: the ARM audience its Entra ID takes, ACI's DNS suffix)

@test "--cloud AzureUSGovernment asks for that cloud's ARM audience and legion auth names the cloud" {
	fake_azure_config '{"cloud":"AzureUSGovernment"}' >/dev/null
	run --separate-stderr "$LEGION" auth --cloud AzureUSGovernment
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.credential, .cloud, .authority] | join(" ")' <<<"$output")" = "secret AzureUSGovernment $FAKE_AZURE_URL" ]
	logged 1
	jq -se --arg p "$TOKEN_PATH" '[.[] | select(.path == $p)][0].body.scope ==
		"https://management.usgovcloudapi.net/.default"' "$FAKE_AZURE_LOG"
	# the cloud's name in any case, as az takes it
	run --separate-stderr "$LEGION" auth --cloud azureusgovernment
	[ "$status" -eq 0 ]
	[ "$(jq -r .cloud <<<"$output")" = AzureUSGovernment ]
}

@test "AZURE_CLOUD=AzureChinaCloud asks for China's ARM audience: the public cloud's Entra ID refuses it (77, AADSTS500011)" {
	AZURE_CLOUD=AzureChinaCloud run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"AADSTS500011: The resource principal named https://management.chinacloudapi.cn was not found"* ]]
	no_secrets
}

@test "--cloud with a name that is not a cloud exits 64 naming it; AZURE_CLOUD exits 78" {
	run --separate-stderr "$LEGION" auth --cloud AzureGermanCloud
	show
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "legion: auth: --cloud: 'AzureGermanCloud' is not a cloud (AzurePublicCloud, AzureUSGovernment, AzureChinaCloud)" ]
	run --separate-stderr "$LEGION" status --backend aci --cloud Mars
	[ "$status" -eq 64 ]
	AZURE_CLOUD=Mars run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AZURE_CLOUD: 'Mars' is not a cloud (AzurePublicCloud, AzureUSGovernment, AzureChinaCloud)" ]
	logged 0
}

@test "with the Azure CLI credential, az's active cloud (~/.azure/config, AZURE_CONFIG_DIR) picks the resource; --cloud wins" {
	no_env_credentials
	mkdir -p "$HOME/.azure"
	printf '[cloud]\nname = AzureChinaCloud\n\n[core]\noutput = json\n' >"$HOME/.azure/config"
	run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.credential, .cloud] | join(" ")' <<<"$output")" = "cli AzureChinaCloud" ]
	[ "$(tr '\n' ' ' <"$FAKE_AZ_ARGS")" = "account get-access-token --resource https://management.chinacloudapi.cn/ --output json " ]
	# `az cloud set` elsewhere: AZURE_CONFIG_DIR, as az reads it
	mkdir -p "$BATS_TEST_TMPDIR/az"
	printf '[cloud]\nname=AzureUSGovernment\n' >"$BATS_TEST_TMPDIR/az/config"
	AZURE_CONFIG_DIR=$BATS_TEST_TMPDIR/az run --separate-stderr "$LEGION" auth
	[ "$status" -eq 0 ]
	[ "$(jq -r .cloud <<<"$output")" = AzureUSGovernment ]
	grep -qx https://management.usgovcloudapi.net/ "$FAKE_AZ_ARGS"
	# the public cloud as az spells it
	printf '[cloud]\nname = AzureCloud\n' >"$HOME/.azure/config"
	run --separate-stderr "$LEGION" auth
	[ "$(jq -r .cloud <<<"$output")" = AzurePublicCloud ]
	# --cloud and AZURE_CLOUD win over az's
	printf '[cloud]\nname = AzureChinaCloud\n' >"$HOME/.azure/config"
	run --separate-stderr "$LEGION" auth --cloud AzurePublicCloud
	[ "$status" -eq 0 ]
	[ "$(jq -r .cloud <<<"$output")" = AzurePublicCloud ]
	grep -qx https://management.azure.com/ "$FAKE_AZ_ARGS"
}

@test "an az cloud legion does not know (az cloud register) exits 78 naming it and the file" {
	no_env_credentials
	mkdir -p "$HOME/.azure"
	printf '[cloud]\nname = MyAzureStack\n' >"$HOME/.azure/config"
	LEGION_CREDENTIAL=cli run --separate-stderr "$LEGION" auth
	show
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: the Azure CLI's active cloud 'MyAzureStack' ($HOME/.azure/config) is not one legion knows (AzurePublicCloud, AzureUSGovernment, AzureChinaCloud): give --cloud or AZURE_CLOUD" ]
	[ ! -e "$FAKE_AZ_ARGS" ]
}

@test "deploy-master --cloud AzureChinaCloud: the master names itself with China's ACI DNS suffix" {
	fake_azure_config '{"cloud":"AzureChinaCloud"}' >/dev/null
	deploy_reaches_arm --cloud AzureChinaCloud --location chinaeast2
	jq -se '[.[] | select(.method == "PUT" and (.path | test("/containerGroups/")))][0].body.properties |
		(.containers[0].properties.environmentVariables | map(select(.name == "LEGION_HOST"))[0].value) ==
		"\(.ipAddress.dnsNameLabel).chinaeast2.azurecontainer.console.azure.cn"' "$FAKE_AZURE_LOG"
}
