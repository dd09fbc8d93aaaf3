#!/usr/bin/env bats
# Tests of t/fake-azure, the Azure emulator the ACI backend is proven against.
# One emulator (exec mode, managed identity on) serves the whole file; every test uses
# its own resource group and the emulator is reset after each test.

load fake_azure_helper
load fake_azure_tests

API=2023-05-01

setup_file() {
	fake_azure_start --exec --msi --provision-delay 0.2 --kill-grace 2
	FA_TOKEN=$(fake_azure_token)
	export FA_TOKEN
}

teardown_file() {
	fake_azure_stop
}

setup() {
	SUB=$FAKE_AZURE_SUBSCRIPTION
	RG=rg-t$BATS_TEST_NUMBER
	MAIN_URL=$FAKE_AZURE_URL
	MAIN_CA=$FAKE_AZURE_CA
	EXTRA_PID=
}

teardown() {
	if [ -n "$EXTRA_PID" ]; then
		fake_azure_stop "$EXTRA_PID"
	fi
	curl -sS --cacert "$MAIN_CA" -X POST "$MAIN_URL/_fake/reset" >/dev/null
}

# --- the server ----------------------------------------------------------------------

@test "ready line: one line, HTTPS with the printed CA, SAN localhost and 127.0.0.1, keep-alive" {
	[ "$(wc -l <"$FAKE_AZURE_DIR/stdout")" -eq 1 ]
	grep -Eq "^fake-azure ready port=$FAKE_AZURE_PORT ca=$FAKE_AZURE_CA url=https://localhost:$FAKE_AZURE_PORT( |$)" \
		"$FAKE_AZURE_DIR/stdout"
	san=$(openssl x509 -in "$FAKE_AZURE_DIR/server.pem" -noout -ext subjectAltName)
	[[ $san == *"DNS:localhost"* ]]
	[[ $san == *"IP Address:127.0.0.1"* ]]
	openssl verify -CAfile "$FAKE_AZURE_CA" "$FAKE_AZURE_DIR/server.pem"
	curl -sS --fail --cacert "$FAKE_AZURE_CA" "https://127.0.0.1:$FAKE_AZURE_PORT/_fake/health"
	# Without the test CA the certificate is refused (curl exit 60).
	run env -u SSL_CERT_FILE -u CURL_CA_BUNDLE curl -sS "$FAKE_AZURE_URL/_fake/health"
	[ "$status" -eq 60 ]
	# Two requests on one connection: HTTP/1.1 keep-alive with exact Content-Length.
	run curl -sS -v --cacert "$FAKE_AZURE_CA" -H "Authorization: Bearer $FA_TOKEN" \
		"$FAKE_AZURE_URL/subscriptions?api-version=2020-01-01" \
		"$FAKE_AZURE_URL/subscriptions/$SUB?api-version=2020-01-01"
	[ "$status" -eq 0 ]
	[[ $output == *"Re-using existing connection"* ]]
}

# --- Entra ID ------------------------------------------------------------------------

@test "token: client credentials give a Bearer JWT-shaped token" {
	token_request "$FAKE_AZURE_TENANT" "${good_token_args[@]}"
	expect_status 200
	expect_jq .token_type Bearer
	expect_jq '.expires_in | type' number
	expect_jq .expires_in 3599
	expect_jq .ext_expires_in 3599
	tok=$(jq -r .access_token "$FA_BODY")
	[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]
	payload=$(cut -d. -f2 <<<"$tok" | tr '_-' '/+')
	while [ $((${#payload} % 4)) -ne 0 ]; do payload+="="; done
	claims=$(base64 -d <<<"$payload")
	[ "$(jq -r .tid <<<"$claims")" = "$FAKE_AZURE_TENANT" ]
	[ "$(jq -r .appid <<<"$claims")" = "$FAKE_AZURE_CLIENT" ]
	[ "$(jq -r .aud <<<"$claims")" = "https://management.azure.com/" ]
}

@test "token: a wrong secret is 401 invalid_client AADSTS7000215" {
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT" --data-urlencode client_secret=nope \
		--data-urlencode scope=https://management.azure.com/.default
	expect_aad 401 invalid_client 7000215
	expect_jq '.error_description | contains("Invalid client secret provided.")' true
}

@test "token: an unknown client is 400 unauthorized_client AADSTS700016" {
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=client_credentials \
		--data-urlencode client_id=11111111-2222-3333-4444-555555555555 \
		--data-urlencode "client_secret=$FAKE_AZURE_SECRET" \
		--data-urlencode scope=https://management.azure.com/.default
	expect_aad 400 unauthorized_client 700016
}

@test "token: an unknown tenant is 400 invalid_request AADSTS90002" {
	token_request 00000000-1111-2222-3333-444444444444 "${good_token_args[@]}"
	expect_aad 400 invalid_request 90002
}

@test "token: bad grant_type, missing fields and a wrong scope get Entra's codes" {
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=password \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT"
	expect_aad 400 unsupported_grant_type 70003
	token_request "$FAKE_AZURE_TENANT" --data-urlencode "client_id=$FAKE_AZURE_CLIENT"
	expect_aad 400 invalid_request 900144
	expect_jq '.error_description | contains("grant_type")' true
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT" \
		--data-urlencode scope=https://management.azure.com/.default
	expect_aad 401 invalid_client 7000218
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT" \
		--data-urlencode "client_secret=$FAKE_AZURE_SECRET"
	expect_aad 400 invalid_request 900144
	expect_jq '.error_description | contains("scope")' true
	token_request "$FAKE_AZURE_TENANT" --data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$FAKE_AZURE_CLIENT" \
		--data-urlencode "client_secret=$FAKE_AZURE_SECRET" \
		--data-urlencode scope=https://management.azure.com
	expect_status 400
	expect_jq .error invalid_scope
}

@test "request log: JSON lines; client_secret masked; only the Authorization scheme" {
	token_request "$FAKE_AZURE_TENANT" "${good_token_args[@]}"
	expect_status 200
	make_rg
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_status 200
	jq -e . "$FAKE_AZURE_LOG" >/dev/null
	refute_grep "$FAKE_AZURE_SECRET" "$FAKE_AZURE_LOG"
	refute_grep "$FA_TOKEN" "$FAKE_AZURE_LOG"
	refute_grep "$(jq -r .access_token "$BATS_TEST_TMPDIR/token.json")" "$FAKE_AZURE_LOG"
	tok_line=$(grep '"/'"$FAKE_AZURE_TENANT"'/oauth2/v2.0/token"' "$FAKE_AZURE_LOG" | tail -n1)
	[ "$(jq -r .body.client_secret <<<"$tok_line")" = "***" ]
	[ "$(jq -r .body.client_id <<<"$tok_line")" = "$FAKE_AZURE_CLIENT" ]
	[ "$(jq -r .status <<<"$tok_line")" = 200 ]
	put_line=$(jq -c --arg p "/subscriptions/$SUB/resourceGroups/$RG" \
		'select(.path == $p and .method == "PUT")' "$FAKE_AZURE_LOG" | tail -n1)
	[ "$(jq -r .auth <<<"$put_line")" = Bearer ]
	[ "$(jq -r .body.location <<<"$put_line")" = westus ]
	[ "$(jq -r '.query["api-version"]' <<<"$put_line")" = 2021-04-01 ]
	[ "$(jq -r .status <<<"$put_line")" = 201 ]
	[ -n "$(jq -r .time <<<"$put_line")" ]
}

@test "token: an expired token gets 401 ExpiredAuthenticationToken; a new one works" {
	fake_azure_config '{"token_lifetime":2}' >/dev/null
	token_request "$FAKE_AZURE_TENANT" "${good_token_args[@]}"
	expect_jq .expires_in 2
	FA_TOKEN=$(jq -r .access_token "$FA_BODY")
	fake_azure_arm GET "/subscriptions?api-version=2020-01-01"
	expect_status 200
	expired() {
		fake_azure_arm GET "/subscriptions?api-version=2020-01-01"
		[ "$FA_STATUS" = 401 ]
	}
	fake_azure_wait_until 8 expired || fail "the token never expired"
	expect_error 401 ExpiredAuthenticationToken
	expect_jq '.error.message | test("^The access token expiry UTC time .* is earlier than current UTC time")' true
	www=$(fake_azure_header WWW-Authenticate)
	[[ $www == Bearer* ]]
	[[ $www == *'error="invalid_token"'* ]]
	FA_TOKEN=$(fake_azure_token)
	fake_azure_arm GET "/subscriptions?api-version=2020-01-01"
	expect_status 200
}

@test "managed identity: Metadata header required; numbers as strings; the token works" {
	imds="$FAKE_AZURE_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
	FA_BODY=$BATS_TEST_TMPDIR/imds.json
	FA_STATUS=$(curl -sS --cacert "$FAKE_AZURE_CA" -o "$FA_BODY" -w '%{http_code}' "$imds")
	expect_status 400
	expect_jq .error invalid_request
	FA_STATUS=$(curl -sS --cacert "$FAKE_AZURE_CA" -o "$FA_BODY" -w '%{http_code}' -H 'Metadata: true' "$imds")
	expect_status 200
	expect_jq .token_type Bearer
	expect_jq '.expires_in | type' string
	expect_jq '.expires_on | type' string
	expect_jq '.expires_on | tonumber > now' true
	expect_jq .resource https://management.azure.com/
	FA_TOKEN=$(jq -r .access_token "$FA_BODY")
	fake_azure_arm GET "/subscriptions?api-version=2020-01-01"
	expect_status 200
	expect_jq '.value[0].subscriptionId' "$SUB"
}

# --- ARM basics ----------------------------------------------------------------------

@test "ARM: api-version is required; unsupported versions are refused as ARM does" {
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/$RG"
	expect_error 400 MissingApiVersionParameter
	expect_jq .error.message "The api-version query parameter (?api-version=) is required for all requests."
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/$RG?api-version=2099-01-01"
	expect_error 400 InvalidApiVersionParameter
	make_rg
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups?api-version=2099-01-01"
	expect_error 400 NoRegisteredProviderFound
	for v in 2023-05-01 2025-09-01 2021-10-01; do
		fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups?api-version=$v"
		expect_status 200
	done
}

@test "ARM: no token is 401 AuthenticationFailed; a forged token 401 InvalidAuthenticationToken" {
	FA_BODY=$BATS_TEST_TMPDIR/b.json
	FA_HEADERS=$BATS_TEST_TMPDIR/h.txt
	FA_STATUS=$(curl -sS --cacert "$FAKE_AZURE_CA" -o "$FA_BODY" -D "$FA_HEADERS" -w '%{http_code}' \
		"$FAKE_AZURE_URL/subscriptions/$SUB/resourceGroups/$RG?api-version=2021-04-01")
	expect_error 401 AuthenticationFailed
	[[ $(fake_azure_header WWW-Authenticate) == *"authorization_uri=\"https://login.windows.net/$FAKE_AZURE_TENANT\""* ]]
	forged=$(cut -d. -f1-2 <<<"$FA_TOKEN").AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
	FA_TOKEN=$forged fake_azure_arm GET "$(rg_path "$RG")"
	expect_error 401 InvalidAuthenticationToken
	FA_TOKEN=garbage fake_azure_arm GET "$(rg_path "$RG")"
	expect_error 401 InvalidAuthenticationToken
}

@test "ARM: request and correlation ids, rate-limit headers on reads and writes" {
	FA_BODY=$BATS_TEST_TMPDIR/b.json
	FA_HEADERS=$BATS_TEST_TMPDIR/h.txt
	curl -sS --cacert "$FAKE_AZURE_CA" -o "$FA_BODY" -D "$FA_HEADERS" \
		-H "Authorization: Bearer $FA_TOKEN" -H "x-ms-correlation-request-id: corr-1234" \
		"$FAKE_AZURE_URL/subscriptions?api-version=2020-01-01"
	[ -n "$(fake_azure_header x-ms-request-id)" ]
	[ "$(fake_azure_header x-ms-correlation-request-id)" = corr-1234 ]
	[[ $(fake_azure_header x-ms-ratelimit-remaining-subscription-reads) =~ ^[0-9]+$ ]]
	make_rg
	[[ $(fake_azure_header x-ms-ratelimit-remaining-subscription-writes) =~ ^[0-9]+$ ]]
	[ "$(fake_azure_header Content-Type)" = "application/json; charset=utf-8" ]
}

@test "subscriptions: listed for the token's tenant; an unknown one is 404 SubscriptionNotFound" {
	fake_azure_arm GET "/subscriptions?api-version=2020-01-01"
	expect_status 200
	expect_jq '.value | length' 1
	expect_jq '.value[0].subscriptionId' "$SUB"
	expect_jq '.value[0].id' "/subscriptions/$SUB"
	expect_jq '.value[0].state' Enabled
	expect_jq '.value[0].tenantId' "$FAKE_AZURE_TENANT"
	expect_jq '.value[0].displayName | length > 0' true
	fake_azure_arm GET "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/x?api-version=2021-04-01"
	expect_error 404 SubscriptionNotFound
}

# --- resource groups -----------------------------------------------------------------

@test "resource groups: PUT 201 then 200, tags kept, GET, case-insensitive paths, DELETE 202" {
	fake_azure_arm PUT "$(rg_path "$RG")" '{"location":"westus","tags":{"legion":"yes"}}'
	expect_status 201
	expect_jq .id "/subscriptions/$SUB/resourceGroups/$RG"
	expect_jq .properties.provisioningState Succeeded
	fake_azure_arm PUT "$(rg_path "$RG")" '{"location":"westus","tags":{"legion":"yes","n":"2"}}'
	expect_status 200
	fake_azure_arm GET "/SUBSCRIPTIONS/$SUB/resourcegroups/${RG^^}?api-version=2021-04-01"
	expect_status 200
	expect_jq .name "$RG"
	expect_jq .location westus
	expect_jq .tags.legion yes
	expect_jq .tags.n 2
	fake_azure_arm PUT "$(rg_path "$RG")" '{"tags":{}}'
	expect_error 400 LocationRequired
	run curl -sS -o /dev/null -w '%{http_code}' -I --cacert "$FAKE_AZURE_CA" \
		-H "Authorization: Bearer $FA_TOKEN" "$FAKE_AZURE_URL$(rg_path "$RG")"
	[ "$output" = 204 ]
	# Deleting takes the groups with it.
	put_group cg-in-rg "$(cg_body 1 1 '["sleep","300"]')"
	wait_state cg-in-rg Running
	pid=$(fake_pid cg-in-rg)
	fake_azure_arm DELETE "$(rg_path "$RG")"
	expect_status 202
	loc=$(fake_azure_header Location)
	[[ $loc == "$FAKE_AZURE_URL/subscriptions/$SUB/operationresults/"* ]]
	[ -n "$(fake_azure_header Retry-After)" ]
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_error 404 ResourceGroupNotFound
	polled() {
		fake_azure_arm GET "${loc#"$FAKE_AZURE_URL"}"
		[ "$FA_STATUS" = 200 ]
	}
	fake_azure_wait_until 10 polled || fail "the delete never finished ($FA_STATUS)"
	fake_azure_wait_until 5 pid_gone "$pid"
	fake_azure_arm GET "$(cg_path cg-in-rg)"
	expect_error 404 ResourceGroupNotFound
}

# --- container groups ----------------------------------------------------------------

@test "container groups: PUT 201 + Azure-AsyncOperation, Pending then Succeeded; PUT again 200" {
	# long enough that the checks between the PUT and the operation's GET (a few curl and
	# jq runs) stay inside it on a loaded machine
	fake_azure_config '{"provision_delay":5}' >/dev/null
	make_rg
	fake_azure_arm PUT "$(cg_path cg-a)" "$(cg_body)"
	expect_status 201
	expect_jq .properties.provisioningState Pending
	expect_jq .properties.instanceView.state Pending
	expect_jq .id "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups/cg-a"
	expect_jq .type Microsoft.ContainerInstance/containerGroups
	expect_jq '.tags["legion-cluster"]' legion-0000abcd
	op=$(fake_azure_header Azure-AsyncOperation)
	[[ $op == "$FAKE_AZURE_URL/subscriptions/$SUB/providers/Microsoft.ContainerInstance/locations/westus/operations/"*"?api-version="* ]]
	fake_azure_arm GET "${op#"$FAKE_AZURE_URL"}"
	expect_status 200
	expect_jq .status Pending
	expect_jq .id "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups/cg-a"
	succeeded() {
		fake_azure_arm GET "${op#"$FAKE_AZURE_URL"}"
		[ "$(jq -r .status "$FA_BODY")" = Succeeded ]
	}
	fake_azure_wait_until 15 succeeded || fail "operation never succeeded"
	fake_azure_arm GET "$(cg_path cg-a)"
	expect_jq .properties.provisioningState Succeeded
	fake_azure_arm PUT "$(cg_path cg-a)" "$(cg_body 1 2)"
	expect_status 200
	[ -n "$(fake_azure_header Azure-AsyncOperation)" ]
}

@test "container groups: GET has instanceView, container currentState, ip and fqdn" {
	make_rg
	body=$(cg_body 1 1.5 '["sleep","300"]' | jq -c '.properties.ipAddress = {type: "Public",
		ports: [{port: 7077, protocol: "TCP"}], dnsNameLabel: "legion-m1"}
		| .properties.containers[0].properties.ports = [{port: 7077}]')
	put_group cg-iv "$body"
	wait_state cg-iv Running
	expect_jq .properties.provisioningState Succeeded
	expect_jq '.properties.instanceView.events | type' array
	c='.properties.containers[0].properties.instanceView'
	expect_jq "$c.currentState.state" Running
	expect_jq "$c.currentState.startTime | test(\"^[0-9-]+T[0-9:.]+Z$\")" true
	expect_jq "$c.restartCount" 0
	expect_jq "$c.events | map(.name) | index(\"Started\") != null" true
	expect_jq '.properties.ipAddress.ip | test("^127\\.0\\.[0-9]+\\.[0-9]+$")' true
	expect_jq .properties.ipAddress.fqdn legion-m1.westus.azurecontainer.io
	expect_jq .properties.ipAddress.type Public
	# A group without ipAddress gets no ip in its body.
	put_group cg-noip "$(cg_body)"
	wait_state cg-noip Running
	expect_jq '.properties.ipAddress' null
	fake_azure_arm GET "$(cg_path cg-missing)"
	expect_error 404 ResourceNotFound
}

@test "container groups: list pages with nextLink (page size 2) and has no instanceView" {
	fake_azure_config '{"page_size":2}' >/dev/null
	make_rg
	for i in 1 2 3 4 5; do
		put_group "cg-l$i" "$(cg_body 0.5 0.5)"
	done
	for scope in "/subscriptions/$SUB/resourceGroups/$RG" "/subscriptions/$SUB"; do
		path="$scope/providers/Microsoft.ContainerInstance/containerGroups?api-version=$API"
		names=() pages=0
		while [ -n "$path" ]; do
			fake_azure_arm GET "$path"
			expect_status 200
			pages=$((pages + 1))
			[ "$(jq '.value | length' "$FA_BODY")" -le 2 ]
			expect_jq '[.. | objects | has("instanceView")] | any' false
			expect_jq '.value | all(.properties.containers[0].properties.image == "legion/spark:test")' true
			mapfile -t -O "${#names[@]}" names < <(jq -r '.value[].name' "$FA_BODY")
			next=$(jq -r '.nextLink // empty' "$FA_BODY")
			[ -z "$next" ] || [[ $next == "$FAKE_AZURE_URL/"* ]] || fail "nextLink $next"
			path=${next#"$FAKE_AZURE_URL"}
		done
		[ "$pages" -eq 3 ]
		[ "$(printf '%s\n' "${names[@]}" | sort -u | tr '\n' ' ')" = "cg-l1 cg-l2 cg-l3 cg-l4 cg-l5 " ]
	done
}

@test "container groups: DELETE is 200 with the body, then GET 404 and DELETE 204" {
	make_rg
	put_group cg-d "$(cg_body)"
	wait_state cg-d Running
	fake_azure_arm DELETE "$(cg_path cg-d)"
	expect_status 200
	expect_jq .name cg-d
	expect_jq .properties.provisioningState Succeeded
	[[ $(fake_azure_header x-ms-ratelimit-remaining-subscription-deletes) =~ ^[0-9]+$ ]]
	fake_azure_arm GET "$(cg_path cg-d)"
	expect_error 404 ResourceNotFound
	fake_azure_arm DELETE "$(cg_path cg-d)"
	expect_status 204
	[ ! -s "$FA_BODY" ]
}

@test "container groups: with delete_async, DELETE is 202 + Azure-AsyncOperation + Location; Deleting, then gone" {
	fake_azure_config '{"delete_async":1.5,"provision_delay":1}' >/dev/null
	make_rg
	put_group cg-d "$(cg_body)"
	op=$(fake_azure_header Azure-AsyncOperation)
	fake_azure_arm GET "${op#"$FAKE_AZURE_URL"}"
	expect_jq .status Pending
	[ "$(fake_azure_header Retry-After)" = 1 ] || fail "an operation in progress has no Retry-After"
	wait_state cg-d Running
	fake_azure_arm DELETE "$(cg_path cg-d)"
	expect_status 202
	aop=$(fake_azure_header Azure-AsyncOperation) loc=$(fake_azure_header Location)
	[[ $aop == "$FAKE_AZURE_URL/subscriptions/$SUB/providers/Microsoft.ContainerInstance/locations/westus/operations/"* ]]
	[[ $loc == "$FAKE_AZURE_URL/subscriptions/$SUB/providers/Microsoft.ContainerInstance/locations/westus/operationresults/"* ]]
	[ "$(fake_azure_header Retry-After)" = 1 ]
	fake_azure_arm GET "$(cg_path cg-d)"
	expect_jq .properties.provisioningState Deleting
	fake_azure_arm GET "${aop#"$FAKE_AZURE_URL"}"
	expect_jq .status InProgress
	[ "$(fake_azure_header Retry-After)" = 1 ]
	fake_azure_arm GET "${loc#"$FAKE_AZURE_URL"}"
	expect_status 202
	fake_azure_arm DELETE "$(cg_path cg-d)" # again: the same operation
	expect_status 202
	[ "$(fake_azure_header Azure-AsyncOperation)" = "$aop" ]
	fake_azure_arm PUT "$(cg_path cg-d)" "$(cg_body)"
	expect_error 409 ContainerGroupTransitioning
	gone() { fake_azure_arm GET "$(cg_path cg-d)" && [ "$FA_STATUS" = 404 ]; }
	fake_azure_wait_until 10 gone || fail "the group was never deleted"
	fake_azure_arm GET "${aop#"$FAKE_AZURE_URL"}"
	expect_jq .status Succeeded
	[ -z "$(fake_azure_header Retry-After)" ]
	fake_azure_arm GET "${loc#"$FAKE_AZURE_URL"}"
	expect_status 204
	fake_azure_arm DELETE "$(cg_path cg-d)"
	expect_status 204
	# delete_async_rate 0: synchronous again
	fake_azure_config '{"delete_async_rate":0}' >/dev/null
	put_group cg-d "$(cg_body)"
	fake_azure_arm DELETE "$(cg_path cg-d)"
	expect_status 200
}

# --- validation ----------------------------------------------------------------------

@test "validation: missing image, bad name, missing osType, missing cpu, wrong types" {
	make_rg
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties.containers[0].properties.image)')"
	expect_error 400 InvalidRequestContent
	expect_jq '.error.message | contains("image")' true
	for bad in Bad-Name -lead trail- under_score "$(printf 'a%.0s' {1..64})"; do
		fake_azure_arm PUT "$(cg_path "$bad")" "$(cg_body)"
		expect_error 400 InvalidContainerGroupName
	done
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties.osType)')"
	expect_error 400 InvalidOsType
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties.containers[0].properties.resources.requests.cpu)')"
	expect_error 400 ResourceRequestsNotSpecified
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties.containers[0].properties.resources)')"
	expect_error 400 ResourceRequestsNotSpecified
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties.containers)')"
	expect_error 400 InvalidRequestContent
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.properties)')"
	expect_error 400 InvalidRequestContent
	expect_jq '.error.message | contains("Required property '"'properties'"' not found in JSON")' true
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c '.properties.containers[0].properties.command = "echo hi"')"
	expect_error 400 InvalidRequestContent
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c '.properties.containers[0].properties.resources.requests.cpu = "lots"')"
	expect_error 400 InvalidRequestContent
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c '.properties.containers[0].name = "Main"')"
	expect_error 400 InvalidContainerName
	fake_azure_arm PUT "$(cg_path cg-v)" "$(cg_body | jq -c 'del(.location)')"
	expect_error 400 LocationRequired
	fake_azure_arm PUT "$(cg_path cg-v)" 'not json'
	expect_error 400 InvalidRequestContent
	# Nothing was created.
	fake_azure_arm GET "$(cg_path cg-v)"
	expect_error 404 ResourceNotFound
}

@test "validation: unknown properties, mistyped values and bad enums are 400 InvalidRequestContent with the path" {
	make_rg
	refused() { # JQ-EDIT PATH: the edited body is refused, naming PATH
		fake_azure_arm PUT "$(cg_path cg-s)" "$(cg_body | jq -c "$1")"
		expect_error 400 InvalidRequestContent
		expect_jq ".error.message | contains(\"Path '$2'\")" true
	}
	c=.properties.containers[0].properties
	refused '.properties.restartPolicyy = "Never"' properties.restartPolicyy
	expect_jq '.error.message | contains("Could not find member '"'restartPolicyy'"'")' true
	refused '.propertiez = {}' propertiez
	refused "$c.imagee = \"x\"" "properties.containers[0].properties.imagee"
	refused "$c.resources.requests.cpus = 1" "properties.containers[0].properties.resources.requests.cpus"
	refused "$c.resources.requests.cpu = \"1\"" "properties.containers[0].properties.resources.requests.cpu"
	refused "$c.ports = [{port: \"80\"}]" "properties.containers[0].properties.ports[0].port"
	refused "$c.ports = [{port: 80, protocol: \"TCPP\"}]" "properties.containers[0].properties.ports[0].protocol"
	refused "$c.environmentVariables = [{name: \"A\", value: 1}]" "properties.containers[0].properties.environmentVariables[0].value"
	refused "$c.environmentVariables = [{value: \"1\"}]" "properties.containers[0].properties.environmentVariables[0]"
	refused '.tags.n = 3' tags.n
	refused '.properties.sku = "Huge"' properties.sku
	refused '.properties.volumes = [{name: "v", emptyDir: {}, secret: {k: 1}}]' "properties.volumes[0].secret.k"
	fake_azure_arm GET "$(cg_path cg-s)"
	expect_error 404 ResourceNotFound
	# What the schema allows passes, names in any case, read-only fields included.
	fake_azure_arm PUT "$(cg_path cg-s)" "$(cg_body | jq -c '.zones = ["1"] | .properties.sku = "Standard"
		| .properties.RestartPolicy = "Never" | del(.properties.restartPolicy)
		| .properties.volumes = [{name: "v", emptyDir: {}}] | .properties.provisioningState = "x"
		| .properties.containers[0].properties += {volumeMounts: [{name: "v", mountPath: "/v"}],
			livenessProbe: {exec: {command: ["true"]}, periodSeconds: 10},
			securityContext: {privileged: false}, ports: [{port: 80, protocol: "udp"}]}')"
	expect_status 201
}

@test "validation: above 4 CPU or 16 GB per group is refused as real ACI does (409 ServiceUnavailable)" {
	make_rg
	fake_azure_arm PUT "$(cg_path cg-big)" "$(cg_body 5 1)"
	expect_error 409 ServiceUnavailable
	expect_jq .error.message "The requested resource is not available in the location 'westus' at this moment. Please retry with a different resource request or in another location. Resource requested: '5' CPU '1' GB memory 'Linux' OS"
	fake_azure_arm PUT "$(cg_path cg-big)" "$(cg_body 1 17)"
	expect_error 409 ServiceUnavailable
	expect_jq '.error.message | endswith("'"'1' CPU '17' GB memory 'Linux' OS"'")' true
	# Two containers that add up to more than the maximum.
	fake_azure_arm PUT "$(cg_path cg-big)" "$(cg_body 3 8 | jq -c '.properties.containers += [.properties.containers[0] | .name = "second"]')"
	expect_error 409 ServiceUnavailable
	fake_azure_arm PUT "$(cg_path cg-big)" "$(cg_body 4 16)"
	expect_status 201
}

@test "validation: duplicate ports, empty ipAddress ports, bad DNS label, limits above requests" {
	make_rg
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body | jq -c '.properties.containers[0].properties.ports = [{port: 80}, {port: 80}]')"
	expect_error 400 DuplicatePorts
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body | jq -c '.properties.containers += [.properties.containers[0] | .name = "side"]
		| .properties.containers[].properties.ports = [{port: 7077}]')"
	expect_error 400 DuplicatePorts
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body | jq -c '.properties.ipAddress = {type: "Public", ports: []}')"
	expect_error 400 MissingIpAddressPorts
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body | jq -c '.properties.ipAddress = {type: "Public", ports: [{port: 80}], dnsNameLabel: "Bad_Label"}')"
	expect_error 400 InvalidDnsNameLabel
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body 2 2 | jq -c '.properties.containers[0].properties.resources.limits = {cpu: 1}')"
	expect_error 400 ResourceLimitsLessThanRequests
	fake_azure_arm PUT "$(cg_path cg-p)" "$(cg_body 1 2 | jq -c '.properties.containers[0].properties.resources.limits = {cpu: 3}')"
	expect_error 400 ContainerLimitGreaterThanContainerGroupTotalRequest
}

@test "quota: StandardCores per region is enforced over running groups and freed by DELETE" {
	fake_azure_config '{"core_quota":3}' >/dev/null
	make_rg
	put_group cg-q1 "$(cg_body 2 1)"
	fake_azure_arm PUT "$(cg_path cg-q2)" "$(cg_body 2 1)"
	expect_error 400 ContainerGroupQuotaReached
	expect_jq .error.message "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region 'westus'. Limit: '3', Usage: '2' Requested: '2'."
	# Replacing a group does not count it twice; another region has its own quota.
	fake_azure_arm PUT "$(cg_path cg-q1)" "$(cg_body 3 1)"
	expect_status 200
	put_group cg-q3 "$(cg_body 2 1 null Never eastus)"
	fake_azure_arm DELETE "$(cg_path cg-q1)"
	expect_status 200
	put_group cg-q2 "$(cg_body 2 1)"
	fake_azure_arm GET "/subscriptions/$SUB/providers/Microsoft.ContainerInstance/locations/westus/usages?api-version=$API"
	expect_status 200
	expect_jq '.value[] | select(.name.value == "StandardCores") | .currentValue' 2
}

@test "secureValue: never returned by GET or list; plain values are" {
	make_rg
	body=$(cg_body | jq -c '.properties.containers[0].properties.environmentVariables = [
		{name: "LEGION_TOKEN", secureValue: "tok-s3cr3t-value"}, {name: "LEGION_ROLE", value: "worker"}]')
	put_group cg-s "$body"
	refute_grep tok-s3cr3t-value "$FA_BODY"
	fake_azure_arm GET "$(cg_path cg-s)"
	expect_status 200
	refute_grep tok-s3cr3t-value "$FA_BODY"
	e='.properties.containers[0].properties.environmentVariables'
	expect_jq "$e | map(.name) | join(\",\")" LEGION_TOKEN,LEGION_ROLE
	expect_jq "$e[0] | has(\"secureValue\") or has(\"value\")" false
	expect_jq "$e[1].value" worker
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.ContainerInstance/containerGroups?api-version=$API"
	expect_status 200
	refute_grep tok-s3cr3t-value "$FA_BODY"
	expect_jq ".value[0]$e[1].value" worker
	refute_grep tok-s3cr3t-value "$FAKE_AZURE_LOG"
}

# --- exec mode -----------------------------------------------------------------------

@test "exec: sh -c 'echo hi; exit 3' logs hi, Terminated exitCode 3, group Failed" {
	make_rg
	body=$(cg_body 1 1 '["sh","-c","echo hi; echo ip=$CONTAINER_IP group=$CONTAINER_GROUP sec=$SEC plain=$PLAIN; exit 3"]' |
		jq -c '.properties.containers[0].properties.environmentVariables = [
			{name: "SEC", secureValue: "s3cr3t"}, {name: "PLAIN", value: "p1"}]
			| .properties.ipAddress = {type: "Public", ports: [{port: 7090}]}
			| .properties.containers[0].properties.ports = [{port: 7090}]')
	put_group cg-x "$body"
	wait_state cg-x Failed
	ip=$(jq -r .properties.ipAddress.ip "$FA_BODY")
	c='.properties.containers[0].properties.instanceView.currentState'
	expect_jq "$c.state" Terminated
	expect_jq "$c.exitCode" 3
	expect_jq "$c.finishTime | length > 0" true
	expect_jq "$c.detailStatus" Error
	fake_azure_arm GET "$(cg_path cg-x /containers/main/logs)&tail=10"
	expect_status 200
	expect_jq .content "hi
ip=$ip group=cg-x sec=s3cr3t plain=p1"
	expect_jq '.content | endswith("p1\n")' true
	fake_azure_arm GET "$(cg_path cg-x /containers/main/logs)&tail=1"
	expect_jq .content "ip=$ip group=cg-x sec=s3cr3t plain=p1"
	fake_azure_arm GET "$(cg_path cg-x /containers/nope/logs)"
	expect_status 404
	# Exit 0 with restart policy Never: the group Succeeded.
	put_group cg-ok "$(cg_body 1 1 '["true"]')"
	wait_state cg-ok Succeeded
	expect_jq "$c.exitCode" 0
	expect_jq "$c.detailStatus" Completed
}

@test "exec: ACI's DNS: a public name named in a group's environment before its group exists gets the address that group is then given" {
	make_rg
	local name=lgtest-m1.westus.azurecontainer.io wip mip
	# the worker first: its environment names the master's public name (and one name
	# of no ACI group, which stays as it is)
	put_group cg-w "$(cg_body 1 1 '["sh","-c","echo master=$MASTER other=$OTHER; sleep 300"]' |
		jq -c --arg n "$name" '.properties.containers[0].properties.environmentVariables = [
			{name: "MASTER", value: $n}, {name: "OTHER", value: "www.example.com"}]')"
	wait_state cg-w Running
	logged() {
		fake_azure_arm GET "$(cg_path cg-w /containers/main/logs)" &&
			jq -e '.content | startswith("master=")' "$FA_BODY" >/dev/null
	}
	fake_azure_wait_until 10 logged || fail "the worker logged nothing"
	wip=$(jq -r '.content | capture("master=(?<ip>[0-9.]+) other=www.example.com").ip' "$FA_BODY")
	[[ $wip == 127.* ]] || fail "the worker's MASTER is '$wip', not an address"
	# ARM still shows the value the PUT sent
	fake_azure_arm GET "$(cg_path cg-w)"
	expect_jq '.properties.containers[0].properties.environmentVariables[0].value' "$name"
	# the master, created second, gets the address the worker was given for its name
	put_group cg-m "$(cg_body 1 1 '["sleep","300"]' | jq -c '.properties.ipAddress =
		{type: "Public", dnsNameLabel: "lgtest-m1", ports: [{port: 7090}]}
		| .properties.containers[0].properties.ports = [{port: 7090}]')"
	wait_state cg-m Running
	expect_jq .properties.ipAddress.fqdn "$name"
	mip=$(jq -r .properties.ipAddress.ip "$FA_BODY")
	[ "$mip" = "$wip" ] || fail "the master is on $mip, its name resolved to $wip"
	# another group gets another address
	put_group cg-x "$(cg_body 1 1 '["sleep","300"]')"
	wait_state cg-x Running
	[ "$(fake_azure_groups | jq -r '.value[] | select(.name == "cg-x") | .ip')" != "$mip" ] ||
		fail "two groups on $mip"
}

@test "exec: DELETE kills a long-running process group" {
	make_rg
	put_group cg-long "$(cg_body 1 1 '["sh","-c","sleep 300 & sleep 300; wait"]')"
	wait_state cg-long Running
	pid=$(fake_pid cg-long)
	kill -0 "$pid"
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	fake_azure_arm DELETE "$(cg_path cg-long)"
	expect_status 200
	fake_azure_wait_until 5 pid_gone "$pid" || fail "pid $pid still alive"
	group_gone "$pid" || fail "process group $pid is still alive"
	fake_azure_arm GET "$(cg_path cg-long)"
	expect_error 404 ResourceNotFound
}

@test "exec: DELETE ends every process the container started, in other sessions too" {
	make_rg
	put_group cg-tree "$(cg_body 1 1 "$(spawn_strays 300)")"
	wait_state cg-tree Running
	fake_azure_wait_until 5 three_pids cg-tree || fail "no pids"
	f=$FAKE_AZURE_DIR/groups/${SUB,,}/${RG,,}/cg-tree/pids
	pid=$(fake_pid cg-tree)
	for p in $(cat "$f"); do kill -0 "$p"; done
	ps -o sid= -p "$(paste -sd, "$f")" | grep -qvw "$pid" # really other sessions
	n=$(fake_azure_groups | jq -r '.value[0].containers[0].processes | length')
	[ "$n" -ge 5 ] || { strays_gone cg-tree; fail "/_fake/groups lists $n processes"; }
	fake_azure_arm DELETE "$(cg_path cg-tree)"
	expect_status 200
	strays_gone cg-tree
	fake_azure_wait_until 5 pid_gone "$pid" || fail "pid $pid still alive"
}

@test "exec: when the main process exits, what it started in other sessions ends too" {
	make_rg
	put_group cg-end "$(cg_body 1 1 "$(spawn_strays 1)")"
	wait_state cg-end Succeeded
	three_pids cg-end
	strays_gone cg-end
}

@test "exec: stop kills the process group and sets Stopped; start runs it again" {
	make_rg
	put_group cg-stop "$(cg_body 1 1 '["sleep","300"]')"
	wait_state cg-stop Running
	pid=$(fake_pid cg-stop)
	fake_azure_arm POST "$(cg_path cg-stop /stop)"
	expect_status 204
	fake_azure_wait_until 5 pid_gone "$pid" || fail "pid $pid still alive"
	fake_azure_arm GET "$(cg_path cg-stop)"
	expect_jq .properties.instanceView.state Stopped
	fake_azure_arm POST "$(cg_path cg-stop /start)"
	expect_status 202
	[ -n "$(fake_azure_header Azure-AsyncOperation)" ]
	wait_state cg-stop Running
	pid2=$(fake_pid cg-stop)
	[ "$pid2" != "$pid" ]
	kill -0 "$pid2"
	fake_azure_arm POST "$(cg_path cg-none /stop)"
	expect_error 404 ResourceNotFound
}

@test "exec: restartPolicy OnFailure restarts a failing container with restartCount and previousState" {
	make_rg
	put_group cg-r "$(cg_body 1 1 '["sh","-c","echo run; exit 4"]' OnFailure)"
	restarted() {
		fake_azure_arm GET "$(cg_path cg-r)" &&
			[ "$(jq -r '.properties.containers[0].properties.instanceView.restartCount' "$FA_BODY")" -ge 1 ]
	}
	fake_azure_wait_until 10 restarted || fail "never restarted"
	expect_jq .properties.instanceView.state Running
	expect_jq '.properties.containers[0].properties.instanceView.previousState.state' Terminated
	expect_jq '.properties.containers[0].properties.instanceView.previousState.exitCode' 4
	fake_azure_arm GET "$(cg_path cg-r /containers/main/logs)"
	expect_jq '.content | startswith("run\nrun\n")' true
}

@test "server: parallel PUTs over several connections all succeed" {
	make_rg
	args=()
	for i in 1 2 3 4 5 6 7 8; do
		[ "$i" = 1 ] || args+=(--next)
		args+=(-sS --cacert "$FAKE_AZURE_CA" -H "Authorization: Bearer $FA_TOKEN"
			-H 'Content-Type: application/json' -X PUT --data-binary "$(cg_body 0.5 0.5)"
			-o "$BATS_TEST_TMPDIR/par$i.json" -w '%{http_code}\n' "$FAKE_AZURE_URL$(cg_path "cg-par$i")")
	done
	out=$(curl -Z --parallel-max 8 "${args[@]}" | sort | uniq -c | tr -s ' ')
	[ "$out" = " 8 201" ] || fail "$out"
	[ "$(fake_azure_groups | jq '.value | length')" -eq 8 ]
}

# --- faults --------------------------------------------------------------------------

# statuses N PATH: N GETs of PATH on one connection; prints the status codes in order.
statuses() {
	local n=$1 url="$FAKE_AZURE_URL$2" args=()
	for _ in $(seq "$n"); do args+=(-o /dev/null "$url"); done
	curl -sS --cacert "$FAKE_AZURE_CA" -H "Authorization: Bearer $FA_TOKEN" \
		-w '%{http_code}\n' "${args[@]}" | tr '\n' ' '
}

@test "faults: 429 with Retry-After at the configured rate, repeatable with a seed" {
	make_rg
	faults='{"seed":7,"rate":0.25,"kinds":["429"],"retry_after":2,"paths":"/resourceGroups/","methods":["GET"]}'
	fake_azure_faults "$faults" >/dev/null
	first=$(statuses 40 "$(rg_path "$RG")")
	n429=$(grep -o 429 <<<"$first" | wc -l)
	n200=$(grep -o 200 <<<"$first" | wc -l)
	[ $((n429 + n200)) -eq 40 ] || fail "$first"
	[ "$n429" -ge 4 ] && [ "$n429" -le 18 ] || fail "$n429 of 40 were 429: $first"
	# The same seed gives the same sequence.
	fake_azure_faults "$faults" >/dev/null
	[ "$(statuses 40 "$(rg_path "$RG")")" = "$first" ]
	# PUTs did not match the methods filter; the 429s carry Retry-After and ARM's body.
	fake_azure_faults '{"seed":1,"rate":1,"kinds":["429"],"retry_after":2}' >/dev/null
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_error 429 SubscriptionRequestsThrottled
	[ "$(fake_azure_header Retry-After)" = 2 ]
	jq -e 'select(.fault == "429")' "$FAKE_AZURE_LOG" >/dev/null
}

@test "faults: a dropped connection and a truncated body" {
	make_rg
	fake_azure_faults '{"rate":1,"kinds":["drop"],"count":1}' >/dev/null
	run curl -sS --cacert "$FAKE_AZURE_CA" -H "Authorization: Bearer $FA_TOKEN" "$FAKE_AZURE_URL$(rg_path "$RG")"
	[ "$status" -eq 52 ] # empty reply
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_status 200
	fake_azure_faults '{"rate":1,"kinds":["truncate"],"count":1}' >/dev/null
	run curl -sS --cacert "$FAKE_AZURE_CA" -H "Authorization: Bearer $FA_TOKEN" "$FAKE_AZURE_URL$(rg_path "$RG")"
	[ "$status" -eq 18 ] # transfer closed with bytes remaining
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_status 200
	fake_azure_fault_stats | jq -e '.injected.truncate == 1 and .matched == 2' >/dev/null
}

@test "faults: latency, 500 and 503, limited by count" {
	fake_azure_faults '{"latency_ms":400,"paths":"^/subscriptions$"}' >/dev/null
	t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$FAKE_AZURE_CA" \
		-H "Authorization: Bearer $FA_TOKEN" "$FAKE_AZURE_URL/subscriptions?api-version=2020-01-01")
	awk -v t="$t" 'BEGIN { exit !(t >= 0.4) }' || fail "took $t s"
	fake_azure_faults '{"seed":3,"rate":1,"kinds":["500","503"],"count":4,"paths":"^/subscriptions$"}' >/dev/null
	out=$(statuses 6 "/subscriptions?api-version=2020-01-01")
	[[ $out =~ ^(500|503)\ (500|503)\ (500|503)\ (500|503)\ 200\ 200\ $ ]] || fail "$out"
}

@test "faults: the write throttle answers 429 SubscriptionRequestsThrottled with Retry-After" {
	fake_azure_faults '{"write_bucket":2,"write_refill_per_s":0.1}' >/dev/null
	fake_azure_arm PUT "$(rg_path "$RG")" '{"location":"westus"}'
	expect_status 201
	[ "$(fake_azure_header x-ms-ratelimit-remaining-subscription-writes)" = 1 ]
	fake_azure_arm PUT "$(rg_path "$RG")" '{"location":"westus"}'
	expect_status 200
	[ "$(fake_azure_header x-ms-ratelimit-remaining-subscription-writes)" = 0 ]
	fake_azure_arm PUT "$(rg_path "$RG")" '{"location":"westus"}'
	expect_error 429 SubscriptionRequestsThrottled
	ra=$(fake_azure_header Retry-After)
	[ "$ra" -ge 1 ] && [ "$ra" -le 10 ]
	# Reads are not throttled by the write bucket.
	fake_azure_arm GET "$(rg_path "$RG")"
	expect_status 200
}

@test "faults: a region without capacity answers 409 ServiceUnavailable" {
	make_rg
	fake_azure_faults '{"no_capacity":["West US"]}' >/dev/null
	fake_azure_arm PUT "$(cg_path cg-nc)" "$(cg_body 1 2)"
	expect_error 409 ServiceUnavailable
	expect_jq '.error.message | startswith("The requested resource is not available in the location '"'westus'"' at this moment.")' true
	put_group cg-nc "$(cg_body 1 2 null Never eastus)"
}

@test "faults from FAKE_AZURE_FAULTS at start; SIGTERM leaves no process behind" {
	FAKE_AZURE_FAULTS='{"no_capacity":["eastus"]}' fake_azure_start --exec --kill-grace 1
	EXTRA_PID=$FAKE_AZURE_PID
	[ "$FAKE_AZURE_URL" != "$MAIN_URL" ]
	FA_TOKEN=$(fake_azure_token)
	make_rg
	fake_azure_arm PUT "$(cg_path cg-e)" "$(cg_body 1 1 null Never eastus)"
	expect_error 409 ServiceUnavailable
	# One process ignores SIGTERM, so the emulator has to escalate to SIGKILL.
	put_group cg-t1 "$(cg_body 1 1 '["sh","-c","trap \"\" TERM; sleep 300 & wait; sleep 300"]')"
	put_group cg-t2 "$(cg_body 1 1 '["sleep","300"]')"
	wait_state cg-t1 Running
	wait_state cg-t2 Running
	pids=$(fake_azure_groups | jq -r '.value[].containers[].pid')
	[ "$(wc -w <<<"$pids")" -eq 2 ]
	kill -TERM "$EXTRA_PID"
	fake_azure_wait_until 15 pid_gone "$EXTRA_PID" || fail "the emulator did not exit"
	wait "$EXTRA_PID" || fail "the emulator exited $?"
	EXTRA_PID=
	for p in $pids; do
		pid_gone "$p" || fail "process $p is still alive"
		group_gone "$p" || fail "process group $p is still alive"
	done
}
