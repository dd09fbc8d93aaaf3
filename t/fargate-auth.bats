#!/usr/bin/env bats
# t/fargate-auth.bats: AWS credentials as a user checks them with `legion auth --backend
# fargate`: each source (AWS_ACCESS_KEY_ID/SECRET, the shared credentials and config
# files with AWS_PROFILE, web identity through STS, the ECS container endpoint), which
# one it says it used, the region's sources, AWS_ENDPOINT_URL_<SERVICE>, the exit codes
# when a credential is refused (77) or missing (78), and that no secret shows. Against
# moto with its signature checks on (t/moto_helper.bash). Leaves out ECS (fargate.bats).

load test_helper
load moto_helper

setup_file() {
	moto_start
}

teardown_file() {
	moto_stop
}

# no_secret: neither output holds the secret key (nor a session token, when given).
no_secret() {
	! grep -qF -- "$MOTO_SECRET" <<<"$output$stderr"
	[ -z "${1:-}" ] || ! grep -qF -- "$1" <<<"$output$stderr"
}

@test "keys from the environment: auth says env, the account and the user, never the secret" {
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET
	run --separate-stderr legion auth --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = env ]
	[ "$(jq -r .account <<<"$output")" = 123456789012 ]
	[ "$(jq -r .arn <<<"$output")" = arn:aws:iam::123456789012:user/legion ]
	[ "$(jq -r .region <<<"$output")" = us-east-1 ]
	[ "$(jq -r .accessKeyId <<<"$output")" = "****${MOTO_KEY_ID: -4}" ]
	no_secret
}

@test "a wrong secret is refused by the signature check: exit 77, the reason, no secret" {
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=not-the-secret-at-all
	run --separate-stderr legion auth --backend fargate
	echo "$stderr"
	[ "$status" -eq 77 ]
	[[ $stderr == *"STS GetCallerIdentity: HTTP 403 SignatureDoesNotMatch"* ]]
	! grep -q not-the-secret-at-all <<<"$output$stderr"
}

@test "no credentials anywhere: exit 78 and one line naming what to set" {
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: no AWS credentials: set AWS_ACCESS_KEY_ID"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "half a key pair is a configuration error naming the missing variable" {
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" ]
}

@test "no region: exit 78; --location gives one, and a bad one is a usage error" {
	unset AWS_REGION
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: no AWS region: give --location"* ]]
	run --separate-stderr legion auth --backend fargate --location eu-west-1
	[ "$status" -eq 0 ]
	[ "$(jq -r .region <<<"$output")" = eu-west-1 ]
	AWS_DEFAULT_REGION=ap-south-1 run --separate-stderr legion auth --backend fargate
	[ "$(jq -r .region <<<"$output")" = ap-south-1 ]
	run --separate-stderr legion auth --backend fargate --location 'eu west/1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "legion: --location: 'eu west/1' is not an AWS region name" ]
}

@test "a profile from ~/.aws/credentials (AWS_PROFILE), its region from ~/.aws/config" {
	unset AWS_REGION
	mkdir -p "$HOME/.aws"
	printf '[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\naws_secret_access_key = x\n\n[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$MOTO_KEY_ID" "$MOTO_SECRET" >"$HOME/.aws/credentials"
	printf '[default]\nregion = us-west-2\n[profile ci]\nregion = us-east-1\n' >"$HOME/.aws/config"
	AWS_PROFILE=ci run --separate-stderr legion auth --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = shared-file ]
	[ "$(jq -r .profile <<<"$output")" = ci ]
	[ "$(jq -r .file <<<"$output")" = "$HOME/.aws/credentials" ]
	[ "$(jq -r .region <<<"$output")" = us-east-1 ]
	no_secret
	# the default profile's key is refused by moto: the profile decides
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 77 ]
}

@test "keys in ~/.aws/config's [profile NAME] work too; AWS_CONFIG_FILE moves it" {
	printf '[profile x]\naws_access_key_id=%s\naws_secret_access_key=%s\n' \
		"$MOTO_KEY_ID" "$MOTO_SECRET" >"$BATS_TEST_TMPDIR/conf"
	AWS_PROFILE=x AWS_CONFIG_FILE=$BATS_TEST_TMPDIR/conf run --separate-stderr legion auth --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r .file <<<"$output")" = "$BATS_TEST_TMPDIR/conf" ]
}

@test "web identity: a token file and a role become temporary keys through STS" {
	printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.web-identity-token-%s\n' "$RANDOM" >"$BATS_TEST_TMPDIR/token"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$BATS_TEST_TMPDIR/token AWS_ROLE_ARN=$MOTO_ROLE_ARN
	# AWS takes AssumeRoleWithWebIdentity unsigned (the token is the credential); moto
	# with access control on wants a signature on every action but the first N: let
	# exactly this one through, the GetCallerIdentity after it is checked again
	curl -sf -X POST -H "Content-Type: text/plain" --data-binary 1 "$MOTO_URL/moto-api/reset-auth" >/dev/null
	run --separate-stderr legion auth --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = web-identity ]
	[ "$(jq -r .roleArn <<<"$output")" = "$MOTO_ROLE_ARN" ]
	[ "$(jq -r .temporary <<<"$output")" = true ]
	[[ $(jq -r .arn <<<"$output") == arn:aws:sts::123456789012:assumed-role/legion-ci/* ]]
	[ "$(jq -r .expiresIn <<<"$output")" -gt 0 ]
	no_secret "$(cat "$BATS_TEST_TMPDIR/token")"
}

@test "web identity with an unreadable token file: exit 78 naming the file" {
	export AWS_WEB_IDENTITY_TOKEN_FILE=$BATS_TEST_TMPDIR/missing AWS_ROLE_ARN=$MOTO_ROLE_ARN
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: AWS_WEB_IDENTITY_TOKEN_FILE: unable to read $BATS_TEST_TMPDIR/missing"* ]]
}

@test "the ECS container endpoint: keys fetched with its authorization token, which never shows" {
	local port tok=container-token-$RANDOM$RANDOM
	port=$(free_port)
	CRED_TOKEN=$tok "$MOTO_PY" -c '
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        ok = self.headers.get("Authorization") == os.environ["CRED_TOKEN"] and self.path == "/creds"
        body = json.dumps({"AccessKeyId": sys.argv[2], "SecretAccessKey": sys.argv[3],
                           "Expiration": "2099-01-01T00:00:00Z"} if ok else {"error": "no"}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port" "$MOTO_KEY_ID" "$MOTO_SECRET" 3>&- &
	local pid=$!
	wait_for curl -s -o /dev/null "http://127.0.0.1:$port/"
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$port/creds
	printf '%s\n' "$tok" >"$BATS_TEST_TMPDIR/ctok"
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$BATS_TEST_TMPDIR/ctok run --separate-stderr legion auth --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r .kind <<<"$output")" = container ]
	no_secret "$tok"
	# a wrong token is refused by the endpoint: exit 77
	AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong run --separate-stderr legion auth --backend fargate
	kill "$pid"
	[ "$status" -eq 77 ]
	[[ $stderr == "legion: the container credentials endpoint: "*"HTTP 403"* ]]
}

@test "AWS_ENDPOINT_URL_STS wins over AWS_ENDPOINT_URL" {
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET
	export AWS_ENDPOINT_URL_STS=$MOTO_URL AWS_ENDPOINT_URL=http://127.0.0.1:$(free_port)
	run --separate-stderr legion auth --backend fargate
	[ "$status" -eq 0 ]
	unset AWS_ENDPOINT_URL_STS
	run --separate-stderr legion auth --backend fargate
	echo "$stderr"
	[ "$status" -eq 69 ]
}
