#!/usr/bin/env bats
# t/azsdk.bats: Microsoft's own Azure SDK for Python (azure-identity and
# azure-mgmt-containerinstance, pinned in mk/azsdk.txt, in the venv `make spark` makes
# at the cache's azsdk/) against t/fake-azure: it logs in (MSAL, with the emulator's
# OpenID discovery document) and creates, gets, lists and deletes a container group
# (t/azsdk_client.py). That proves the emulator speaks Entra ID and ARM as Microsoft's
# client expects, not only as legion does. Leaves out legion itself (t/auth.bats, t/aci.bats).

load test_helper
load fake_azure_helper

# beside the Spark venv, as moto's (test_helper.bash sandboxes HOME)
AZSDK_DIR=${AZSDK_DIR:-$(dirname "${LEGION_CACHE_VENV:-$HOME/.cache/legion/venv}")/azsdk}

setup_file() {
	export AZSDK_PY=$AZSDK_DIR/bin/python3
	[ -x "$AZSDK_PY" ] || skip "the Azure SDK for Python is not installed: run make spark"
	fake_azure_start
}

teardown_file() {
	fake_azure_stop
}

@test "the Azure SDK for Python logs in and creates, gets, lists and deletes a container group" {
	# the SDK trusts the emulator's CA through requests' bundle; no proxy on 127.0.0.1
	REQUESTS_CA_BUNDLE=$FAKE_AZURE_CA NO_PROXY=127.0.0.1,localhost \
		run --separate-stderr "$AZSDK_PY" "$ROOT/t/azsdk_client.py" sdk-rg sdk-hello
	echo "exit $status"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^login:\ token\ for\ [0-9]+\ s$ ]]
	[ "${lines[1]}" = "resource group: HTTP 201" ]
	[ "${lines[2]}" = "create: sdk-hello Succeeded sdk-hello.westus.azurecontainer.io" ]
	[ "${lines[3]}" = "get: sdk-hello Succeeded cpu=1.0 tags=made-by=azure-sdk-for-python" ]
	[ "${lines[4]}" = "list: sdk-hello" ]
	[ "${lines[5]}" = "list subscription: sdk-hello" ]
	[ "${lines[6]}" = "delete: 0 left" ]
	# what the SDK asked: discovery, a client-credentials token, then ARM with it
	jq -se --arg t "/$FAKE_AZURE_TENANT/v2.0/.well-known/openid-configuration" \
		'[.[] | select(.path == $t and .status == 200)] | length >= 1' "$FAKE_AZURE_LOG"
	jq -se --arg t "/$FAKE_AZURE_TENANT/oauth2/v2.0/token" '[.[] | select(.path == $t)] |
		length == 1 and .[0].status == 200 and .[0].body.grant_type == "client_credentials"' "$FAKE_AZURE_LOG"
	jq -se '[.[] | select(.path | test("/containerGroups/sdk-hello$"))] | map(.method) | unique == ["DELETE", "GET", "PUT"]' "$FAKE_AZURE_LOG"
	jq -se '[.[] | select(.path | startswith("/subscriptions/")) | .status] | all(. < 400)' "$FAKE_AZURE_LOG"
}
