#!/usr/bin/env bats
# t/aci-private.bats: private registries and private networks on the aci backend, against
# t/fake-azure in exec mode: LEGION_REGISTRY_USERNAME/_PASSWORD and --identity become each
# group's imageRegistryCredentials (and identity), --subnet puts every group on a VNet
# subnet with private addresses only; what the emulator refuses as ACI does; the warning
# for a master whose helpers speak another job API. The master and workers are the
# stand-ins of t/aci_helper.bash.

load test_helper
load fake_azure_helper
load aci_helper

SUB=9c0b8a7d-1e2f-4a3b-8c4d-5e6f7a8b9c0d
SUBNET=/subscriptions/$SUB/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/spark
IDENTITY=/subscriptions/$SUB/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/puller
REG_PASSWORD='reg-Pa55word.never-in-a-log'

setup_file() {
	aci_emulator_start
}

teardown_file() {
	fake_azure_stop
}

setup() {
	fake_azure_reset >/dev/null
	rm -f "$ACI_STUB_DIR"/*-mode "$ACI_STUB_DIR"/master-health "$ACI_STUB_DIR/jobs.jsonl"
	export LEGION_BACKEND=aci LEGION_IMAGE=myreg.azurecr.io/legion/spark:test
	APP=$BATS_TEST_TMPDIR/app.py
	echo 'print("hello")' >"$APP"
	mark_log
}

# myreg.azurecr.io needs a credential: exactly this password, or this identity
private_registry() {
	_fake_azure_control POST "$(jq -nc --arg p "$REG_PASSWORD" --arg i "$IDENTITY" \
		'{registries: [{server: "myreg.azurecr.io", username: "puller", password: $p,
		  identities: [$i]}]}')" registries >/dev/null
}

group_puts() { # the accepted container group PUT bodies, one a line, with their names
	fa_log_jq 'select(.method == "PUT" and (.path | test("/containerGroups/"))
		and (.status == 200 or .status == 201)) | .body + {name: (.path | split("/") | last)}'
}

refused_puts() { # the refused container group PUTs: "STATUS CODE"
	fa_log_jq 'select(.method == "PUT" and (.path | test("/containerGroups/")) and .status >= 400)'
}

# A container group body for the emulator's own checks, with PROPS merged into properties.
cg_put() { # NAME PROPS-JSON [TOP-LEVEL-JSON]
	local body
	body=$(jq -nc --argjson p "$2" --argjson t "${3:-{\}}" '{location: "westus",
		properties: ({osType: "Linux", containers: [{name: "c", properties: {image:
		"index.docker.io/library/busybox:1", resources: {requests: {cpu: 1, memoryInGB: 1}},
		ports: [{port: 80}]}}]} + $p)} + $t')
	fake_azure_arm PUT "/subscriptions/$SUB/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/$1?api-version=2023-05-01" "$body"
}

ensure_rg() {
	fake_azure_arm PUT "/subscriptions/$SUB/resourcegroups/legion?api-version=2021-04-01" \
		'{"location":"westus"}'
}

error_code() { jq -r .error.code "$FA_BODY"; }

@test "a private registry: LEGION_REGISTRY_USERNAME/_PASSWORD pull every group's image, the password only in its field" {
	private_registry
	export LEGION_REGISTRY_USERNAME=puller LEGION_REGISTRY_PASSWORD=$REG_PASSWORD
	run --separate-stderr legion -v submit --num-executors 2 "$APP"
	[ "$status" -eq 0 ]
	[ "$output" = "stub job job-1: app=app.py args=" ]
	[ "$(group_puts | wc -l)" -eq 3 ]
	# the server comes from the image reference; the log masks the password field
	group_puts | jq -s -e 'all(.properties.imageRegistryCredentials ==
		[{server: "myreg.azurecr.io", username: "puller", password: "***"}])
		and all(has("identity") | not)'
	# never anywhere else: not in the request log, not on stdout or stderr (-v included)
	! grep -qF -- "$REG_PASSWORD" "$FAKE_AZURE_LOG"
	! grep -qF -- "$REG_PASSWORD" <<<"$output$stderr"
	# nor in the containers' environment
	! grep -rqF -- "$REG_PASSWORD" "$ACI_STUB_DIR"
}

@test "a private image without credentials is refused as ACI refuses it: InaccessibleImage, exit 65, a hint" {
	private_registry
	run --separate-stderr legion deploy-master
	[ "$status" -eq 65 ]
	[[ $stderr == *"InaccessibleImage"* ]]
	[[ $stderr == *"LEGION_REGISTRY_USERNAME and LEGION_REGISTRY_PASSWORD, or give --identity"* ]]
	[ "$(refused_puts | jq -r '[.status, (.path | split("/") | last | test("-master$"))] | join(" ")')" = "400 true" ]
	no_groups_left
}

@test "a wrong registry password is refused the same way, and not shown" {
	private_registry
	export LEGION_REGISTRY_USERNAME=puller LEGION_REGISTRY_PASSWORD=not-the-password
	run --separate-stderr legion deploy-master
	[ "$status" -eq 65 ]
	[[ $stderr == *"InaccessibleImage"* ]]
	[[ $stderr != *not-the-password* ]]
	[ "$(refused_puts | jq -r '.body.properties.imageRegistryCredentials[0] | [.server, .username, .password] | join(" ")')" = "myreg.azurecr.io puller ***" ]
	no_groups_left
}

@test "--identity: each group holds the user-assigned identity and pulls its image through it" {
	private_registry
	run --separate-stderr legion submit --num-executors 1 --identity "$IDENTITY" "$APP"
	[ "$status" -eq 0 ]
	[ "$(group_puts | wc -l)" -eq 2 ]
	group_puts | jq -s -e --arg i "$IDENTITY" 'all(
		.identity == {type: "UserAssigned", userAssignedIdentities: {($i): {}}} and
		.properties.imageRegistryCredentials == [{server: "myreg.azurecr.io", identity: $i}])'
	# another identity is not allowed to pull from that registry
	run --separate-stderr legion deploy-master --identity "${IDENTITY%puller}someone-else"
	[ "$status" -eq 65 ]
	[[ $stderr == *"InaccessibleImage"* ]]
	no_groups_left
}

@test "bad --subnet, --identity or registry settings: one line, the exit code, no request" {
	run --separate-stderr legion submit --subnet /subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet1 "$APP"
	[ "$status" -eq 64 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "legion: --subnet: '/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet1' is not a subnet id"* ]]
	run --separate-stderr legion deploy-master --identity puller
	[ "$status" -eq 64 ]
	[[ $stderr == "legion: --identity: 'puller' is not a user-assigned identity id"* ]]
	LEGION_REGISTRY_USERNAME=puller run --separate-stderr legion deploy-master
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: LEGION_REGISTRY_USERNAME is set but LEGION_REGISTRY_PASSWORD is not: the registry needs both" ]
	LEGION_REGISTRY_USERNAME=puller LEGION_REGISTRY_PASSWORD=p run --separate-stderr \
		legion deploy-master --identity "$IDENTITY"
	[ "$status" -eq 64 ]
	[[ $stderr == *"--identity and LEGION_REGISTRY_USERNAME/_PASSWORD are two ways"* ]]
	[ "$(fa_log_jq 'select(.path | test("containerGroups|resourcegroups"; "i"))' | wc -l)" -eq 0 ]
}

@test "--subnet: every group private on the subnet, no DNS label; workers and the CLI use the master's private address" {
	run --separate-stderr legion submit --num-executors 2 --keep-alive --subnet "$SUBNET" "$APP"
	[ "$status" -eq 0 ]
	[ "$output" = "stub job job-1: app=app.py args=" ]
	[ "$(group_puts | wc -l)" -eq 3 ]
	group_puts | jq -s -e --arg s "$SUBNET" 'all(
		.properties.subnetIds == [{id: $s}] and .properties.ipAddress.type == "Private" and
		(.properties.ipAddress | has("dnsNameLabel") | not) and
		(.properties.containers[0].properties.environmentVariables |
		 map(.name) | index("LEGION_HOST") == null))'
	# the master was made first; the workers were given its private address
	master=$(group_puts | jq -r 'select(.tags["legion-role"] == "master") | .name')
	cluster=${master%-master}
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/$master?api-version=2023-05-01"
	ip=$(jq -r .properties.ipAddress.ip "$FA_BODY")
	[[ $ip =~ ^127\. ]]
	[ "$(jq -r '.properties.ipAddress | [.type, has("fqdn")] | map(tostring) | join(" ")' "$FA_BODY")" = "Private false" ]
	[ "$(fa_log_jq 'select(.method == "PUT" and (.path | test("containerGroups/")))
		| .path | split("/") | last | test("-master$")' | head -n1)" = true ]
	group_puts | jq -s -e --arg ip "$ip" 'map(select(.tags["legion-role"] == "worker")) |
		length == 2 and all(.properties.containers[0].properties.environmentVariables[] |
		select(.name == "LEGION_MASTER") | .value == $ip)'
	# the CLI reaches the job API there (the job ran); status says so too
	[ "$(jq -r '[.ip, .host] | join(" ")' "$LEGION_HOME/clusters/$cluster.json")" = "$ip $ip" ]
	run --separate-stderr legion status "$cluster"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.clusters[0].master | [.ip, .fqdn] | map(tostring) | join(" ")' <<<"$output")" = "$ip null" ]
	run --separate-stderr legion delete "$cluster"
	[ "$status" -eq 0 ]
	no_groups_left
}

@test "the emulator checks the network as ACI does: subnet id shape, private needs a subnet, no label on it" {
	ensure_rg
	cg_put g1 '{"ipAddress": {"type": "Private", "ports": [{"port": 80}]}}'
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = PrivateIpWithoutSubnetNotSupported ]
	cg_put g2 '{"subnetIds": [{"id": "vnet1/spark"}], "ipAddress": {"type": "Private", "ports": [{"port": 80}]}}'
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = LinkedInvalidPropertyId ]
	cg_put g3 "{\"subnetIds\": [{\"id\": \"${SUBNET%/subnets/spark}\"}], \"ipAddress\": {\"type\": \"Private\", \"ports\": [{\"port\": 80}]}}"
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = InvalidSubnetId ]
	cg_put g4 "{\"subnetIds\": [{\"id\": \"$SUBNET\"}], \"ipAddress\": {\"type\": \"Private\", \"dnsNameLabel\": \"g4label\", \"ports\": [{\"port\": 80}]}}"
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = DnsNameLabelNotSupportedForPrivateIp ]
	cg_put g5 "{\"subnetIds\": [{\"id\": \"$SUBNET\"}], \"ipAddress\": {\"type\": \"Public\", \"ports\": [{\"port\": 80}]}}"
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = PublicIpWithSubnetNotSupported ]
	cg_put g6 "{\"subnetIds\": [{\"id\": \"$SUBNET\"}], \"ipAddress\": {\"type\": \"Private\", \"ports\": [{\"port\": 80}]}}"
	[ "$FA_STATUS" = 201 ]
	[ -z "$(fa_groups | grep -v '^g6$')" ]
}

@test "the emulator checks registry credentials and identities as the spec has them" {
	ensure_rg
	cg_put r1 '{"imageRegistryCredentials": [{"username": "u", "password": "p"}]}'
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = InvalidRequestContent ]
	[[ $(jq -r .error.message "$FA_BODY") == *"Required property 'server' not found"* ]]
	cg_put r2 "{\"imageRegistryCredentials\": [{\"server\": \"myreg.azurecr.io\", \"identity\": \"$IDENTITY\"}]}"
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = InvalidImageRegistryCredentialIdentity ]
	cg_put r3 '{}' '{"identity": {"type": "UserAssigned", "userAssignedIdentities": {"puller": {}}}}'
	[ "$FA_STATUS" = 400 ]
	[ "$(error_code)" = InvalidIdentityFormat ]
	cg_put r4 "{\"imageRegistryCredentials\": [{\"server\": \"myreg.azurecr.io\", \"identity\": \"$IDENTITY\"}]}" \
		"{\"identity\": {\"type\": \"UserAssigned\", \"userAssignedIdentities\": {\"$IDENTITY\": {}}}}"
	[ "$FA_STATUS" = 201 ]
	# what comes back: the identity with its principal and client ids, no password anywhere
	[ "$(jq -r --arg i "$IDENTITY" '.identity.userAssignedIdentities[$i] | keys | join(" ")' "$FA_BODY")" = "clientId principalId" ]
	cg_put r5 '{"imageRegistryCredentials": [{"server": "myreg.azurecr.io", "username": "u", "password": "secret-r5"}]}'
	[ "$FA_STATUS" = 201 ]
	fake_azure_arm GET "/subscriptions/$SUB/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/r5?api-version=2023-05-01"
	[ "$(jq -c .properties.imageRegistryCredentials "$FA_BODY")" = '[{"server":"myreg.azurecr.io","username":"u"}]' ]
	! grep -qF secret-r5 "$FAKE_AZURE_LOG"
}

@test "a master whose helpers speak another job API: one warning line, the run goes on" {
	echo '{"ok": true, "version": "0.0.9", "api": 0}' >"$ACI_STUB_DIR/master-health"
	LEGION_IMAGE=registry.test/legion/spark:old run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	[ "$(grep -c "warning: the master's helpers" <<<"$stderr")" -eq 1 ]
	grep -qx "legion: warning: the master's helpers (legion 0.0.9) speak job API 0, this legion $(legion version | cut -d' ' -f2) speaks 1: build and push its image ('make image' tags it $(legion version | cut -d' ' -f2))" <<<"$stderr"
	# the helpers of this version: no warning
	rm "$ACI_STUB_DIR/master-health"
	LEGION_IMAGE=registry.test/legion/spark:new run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	[[ $stderr != *warning* ]]
}
