#!/usr/bin/env bats
# t/tls.bats: legion trusts a server only when its certificate chains to a CA it was
# given (SSL_CERT_FILE or CURL_CA_BUNDLE, else the system bundle) and names the host it
# dialled; anything else fails at once with one line that says the certificate was not
# accepted, and exit 69. Seen through `legion auth` against t/fake-azure, and against
# an openssl s_server whose certificate (from the same trusted CA) names another host.
# Leaves out what happens after the handshake (t/auth.bats).

load test_helper
load fake_azure_helper

setup_file() {
	fake_azure_start
	local d=$BATS_FILE_TMPDIR
	# a CA nobody trusts
	openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=untrusted test CA" \
		-keyout "$d/other-ca.key" -out "$d/other-ca.pem" 2>/dev/null
	# a certificate from the trusted CA, for another host name
	printf '%s\n' "subjectAltName=DNS:wrong.example" "extendedKeyUsage=serverAuth" >"$d/wrong.ext"
	openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=wrong.example" \
		-keyout "$d/wrong.key" -out "$d/wrong.csr" 2>/dev/null
	openssl x509 -req -sha256 -days 2 -in "$d/wrong.csr" -CA "$FAKE_AZURE_DIR/ca.pem" \
		-CAkey "$FAKE_AZURE_DIR/ca.key" -set_serial 4242 -extfile "$d/wrong.ext" \
		-out "$d/wrong.pem" 2>/dev/null
	WRONG_PORT=$(free_port)
	openssl s_server -quiet -www -accept "127.0.0.1:$WRONG_PORT" -cert "$d/wrong.pem" \
		-key "$d/wrong.key" </dev/null >"$d/s_server.log" 2>&1 3>&- &
	WRONG_PID=$!
	export WRONG_PORT WRONG_PID
	wait_for -t 20 port_open "$WRONG_PORT"
}

teardown_file() {
	[ -z "${WRONG_PID:-}" ] || kill "$WRONG_PID" 2>/dev/null || true
	fake_azure_stop
}

setup() {
	: >"$FAKE_AZURE_LOG"
}

port_open() { (exec 4<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# answered: the emulator has logged a request (it writes the line just after answering;
# waiting for it keeps a late line out of the next test's log)
answered() { wait_for -t 10 test -s "$FAKE_AZURE_LOG"; }

# refused: the last run failed the handshake: exit 69, nothing on stdout, exactly one
# line on stderr saying the certificate was not accepted; no secret anywhere.
refused() {
	echo "exit $status; stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 69 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == "legion: unable to get a token: POST https://"*"/oauth2/v2.0/token: the server's certificate was not accepted ("*")" ]]
	[[ $stderr != *"$AZURE_CLIENT_SECRET"* ]]
}

@test "a server whose certificate chains to SSL_CERT_FILE is trusted" {
	run --separate-stderr "$LEGION" auth
	echo "exit $status; stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .credential <<<"$output")" = secret ]
	[ "$(jq -r .tenant <<<"$output")" = "$FAKE_AZURE_TENANT" ]
	[ "$(jq -r .clientId <<<"$output")" = "$FAKE_AZURE_CLIENT" ]
	[ "$(jq -r .authority <<<"$output")" = "$FAKE_AZURE_URL" ]
	jq -e '.expiresIn | type == "number" and . > 0' <<<"$output"
	# neither the secret nor the token (a JWT: eyJ...) is printed
	[[ $output != *"$FAKE_AZURE_SECRET"* && $output != *eyJ* ]]
	answered
}

@test "CURL_CA_BUNDLE is used when SSL_CERT_FILE is not set" {
	SSL_CERT_FILE= CURL_CA_BUNDLE=$FAKE_AZURE_CA run --separate-stderr "$LEGION" auth
	echo "exit $status; stderr: $stderr"
	[ "$status" -eq 0 ]
	answered
}

@test "a server whose certificate comes from an unknown CA is refused" {
	SSL_CERT_FILE=$BATS_FILE_TMPDIR/other-ca.pem run --separate-stderr "$LEGION" auth
	refused
	[[ ${stderr_lines[0]} =~ (trust\ anchor|local\ issuer) ]] # BearSSL | OpenSSL (asan build)
}

@test "the system CA bundle does not trust the test CA (no insecure fallback)" {
	SSL_CERT_FILE= CURL_CA_BUNDLE= run --separate-stderr "$LEGION" auth
	refused
}

@test "a certificate from the trusted CA for another host name is refused" {
	AZURE_AUTHORITY_HOST=https://localhost:$WRONG_PORT run --separate-stderr "$LEGION" auth
	refused
	[[ ${stderr_lines[0]} == *" name "* ]]
}

@test "an IP address URL is refused: the certificate cannot be checked against it" {
	[ -z "${LEGION_BIN:-}" ] || skip "a BearSSL limit of the musl build (LEGION_BIN=$LEGION_BIN links OpenSSL)"
	AZURE_AUTHORITY_HOST=https://127.0.0.1:$FAKE_AZURE_PORT run --separate-stderr "$LEGION" auth
	refused
	[[ ${stderr_lines[0]} == *"IP address"* ]]
}

@test "a CA bundle that does not exist fails with one line naming it" {
	SSL_CERT_FILE=$BATS_FILE_TMPDIR/nope.pem run --separate-stderr "$LEGION" auth
	echo "exit $status; stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 69 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == *"unable to load the CA certificates"*"$BATS_FILE_TMPDIR/nope.pem"* ]]
}

@test "a refused certificate is not retried" {
	SSL_CERT_FILE=$BATS_FILE_TMPDIR/other-ca.pem run --separate-stderr "$LEGION" -v auth
	echo "stderr: $stderr"
	[ "$status" -eq 69 ]
	[ "$(grep -c '^legion: > POST ' <<<"$stderr")" -eq 1 ]
	[[ $stderr != *retrying* ]]
	[ ! -s "$FAKE_AZURE_LOG" ]
}
