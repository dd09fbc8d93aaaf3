#!/usr/bin/env bats
# t/storage-aci.bats: --storage-auth on the aci backend, from the container group bodies
# ARM receives (t/fake-azure in exec mode, the stand-ins of t/aci_helper.bash): what the
# master group gets for key, sp and msi, secrets only as secureValue, and nothing for
# the workers. Leaves out Spark's side (t/storage.bats runs real jobs with it).

load test_helper
load fake_azure_helper
load aci_helper

SUB=9c0b8a7d-1e2f-4a3b-8c4d-5e6f7a8b9c0d
IDENTITY=/subscriptions/$SUB/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/reader
STORAGE_KEY=c3RvcmFnZS1rZXktbmV2ZXItaW4tYS12YWx1ZQ==

setup_file() {
	aci_emulator_start
}

teardown_file() {
	fake_azure_stop
}

setup() {
	fake_azure_reset >/dev/null
	rm -f "$ACI_STUB_DIR"/*-mode "$ACI_STUB_DIR/jobs.jsonl"
	export LEGION_BACKEND=aci LEGION_IMAGE=registry.test/legion/spark:test
	export AZURE_STORAGE_ACCOUNT_NAME=legiontest
	APP=$BATS_TEST_TMPDIR/app.py
	echo 'print("hello")' >"$APP"
	mark_log
}

# env ROLE: the environment of ROLE's (master|worker) accepted PUT bodies, as one JSON
# object {NAME: value, or "(secure)" for a secureValue alone}.
env_of() {
	R=$1 fa_log_jq 'select(.method == "PUT" and (.path | test("/containerGroups/"))
		and (.status == 200 or .status == 201) and .body.tags["legion-role"] == $ENV.R)
		| .body.properties.containers[0].properties.environmentVariables
		| map({(.name): (if (keys == ["name", "secureValue"]) then "(secure)"
			elif (keys == ["name", "value"]) then .value else "(both)" end)}) | add'
}

storage_vars() { # ROLE: its LEGION_STORAGE_* and AZURE_STORAGE_* variables
	env_of "$1" | jq -c 'with_entries(select(.key | test("^(LEGION|AZURE)_STORAGE_")))'
}

@test "--storage-auth sp: the master gets the CLI's client id, the v1 token endpoint and the secret as a secureValue; workers nothing" {
	run --separate-stderr legion submit --storage-auth sp --num-executors 1 "$APP"
	[ "$status" -eq 0 ]
	run storage_vars master
	echo "$output"
	[ "$output" = "$(jq -nc --arg c "$FAKE_AZURE_CLIENT" --arg t "$FAKE_AZURE_TENANT" \
		--arg e "$AZURE_AUTHORITY_HOST/$FAKE_AZURE_TENANT/oauth2/token" \
		'{LEGION_STORAGE_AUTH: "sp", AZURE_STORAGE_ACCOUNT_NAME: "legiontest",
		  LEGION_STORAGE_CLIENT_ID: $c, LEGION_STORAGE_TENANT: $t,
		  LEGION_STORAGE_TOKEN_ENDPOINT: $e, LEGION_STORAGE_CLIENT_SECRET: "(secure)"}')" ]
	[ "$(storage_vars worker)" = '{}' ]
	[ "$(env_of worker | jq -r 'keys[]' | grep -c .)" -gt 0 ] # the worker's PUT was seen
	[[ $output$stderr != *"$FAKE_AZURE_SECRET"* ]]
}

@test "--storage-auth msi: the master holds the --identity and gets no secret; without --identity 64" {
	run --separate-stderr legion submit --storage-auth msi --identity "$IDENTITY" \
		--num-executors 1 "$APP"
	[ "$status" -eq 0 ]
	[ "$(storage_vars master)" = "$(jq -nc --arg c "$FAKE_AZURE_CLIENT" --arg t "$FAKE_AZURE_TENANT" \
		'{LEGION_STORAGE_AUTH: "msi", AZURE_STORAGE_ACCOUNT_NAME: "legiontest",
		  LEGION_STORAGE_CLIENT_ID: $c, LEGION_STORAGE_TENANT: $t}')" ]
	[ "$(storage_vars worker)" = '{}' ]
	fa_log_jq 'select(.method == "PUT" and .body.tags["legion-role"] == "master") | .body.identity' |
		jq -e --arg i "$IDENTITY" '. == {type: "UserAssigned", userAssignedIdentities: {($i): {}}}'
	mark_log
	run --separate-stderr legion submit --storage-auth msi "$APP"
	[ "$status" -eq 64 ]
	[[ ${stderr%%$'\n'*} == "legion: submit: --storage-auth msi: the master's container needs a managed identity: give --identity IDENTITY_ID"* ]]
	[ -z "$(fa_log_jq 'select(.method == "PUT")')" ]
}

@test "the key by default when AZURE_STORAGE_ACCOUNT_KEY is set; --storage-auth sp sends no key" {
	export AZURE_STORAGE_ACCOUNT_KEY=$STORAGE_KEY
	run --separate-stderr legion submit --num-executors 1 "$APP"
	[ "$status" -eq 0 ]
	[ "$(storage_vars master)" = '{"AZURE_STORAGE_ACCOUNT_NAME":"legiontest","AZURE_STORAGE_ACCOUNT_KEY":"(secure)"}' ]
	[ "$(storage_vars worker)" = '{}' ]
	mark_log
	run --separate-stderr legion submit --storage-auth sp --num-executors 1 "$APP"
	[ "$status" -eq 0 ]
	[ "$(storage_vars master | jq -c 'keys')" = '["AZURE_STORAGE_ACCOUNT_NAME","LEGION_STORAGE_AUTH","LEGION_STORAGE_CLIENT_ID","LEGION_STORAGE_CLIENT_SECRET","LEGION_STORAGE_TENANT","LEGION_STORAGE_TOKEN_ENDPOINT"]' ]
}
