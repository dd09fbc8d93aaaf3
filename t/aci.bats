#!/usr/bin/env bats
# t/aci.bats: `legion --backend aci` against t/fake-azure in exec mode: deploy-master,
# submit, status, logs, delete and gc through ARM, the request bodies ARM receives, and
# what happens when Azure throttles, refuses, or the user interrupts. The master and
# worker commands are stand-ins (t/aci_helper.bash): these tests are about legion's
# ARM lifecycle, not Spark.

load test_helper
load fake_azure_helper
load aci_helper

STORAGE_KEY=c3RvcmFnZS1rZXktbmV2ZXItaW4tYS12YWx1ZQ==

setup_file() {
	aci_emulator_start
}

teardown_file() {
	fake_azure_stop
}

setup() {
	fake_azure_reset >/dev/null
	rm -f "$ACI_STUB_DIR"/*-mode "$ACI_STUB_DIR/master-idle" "$ACI_STUB_DIR/jobs.jsonl"
	export LEGION_BACKEND=aci LEGION_IMAGE=registry.test/legion/spark:test
	export AZURE_STORAGE_ACCOUNT_NAME=legiontest AZURE_STORAGE_ACCOUNT_KEY=$STORAGE_KEY
	APP=$BATS_TEST_TMPDIR/app.py
	echo 'print("hello")' >"$APP"
	mark_log
}

# The container group PUT bodies of this test, one JSON document a line.
group_puts() {
	fa_log_jq 'select(.method == "PUT" and (.path | test("/containerGroups/"))
		and (.status == 200 or .status == 201)) | .body + {name: (.path | split("/") | last)}'
}

not() { # `! cmd` does not fail a bats test; `not cmd` does
	! "$@"
}

group_in_state() { # NAME (or "" for any group) STATE
	local doc
	doc=$(fake_azure_groups) || return 1
	jq -e --arg n "$1" --arg s "$2" '.value | map(select($n == "" or .name == $n) | .state) |
		any(. == $s)' <<<"$doc" >/dev/null
}

@test "deploy-master creates a tagged master group, waits for its job API and says where it is" {
	run --separate-stderr legion deploy-master --backend aci --location westus \
		--driver-cores 2 --driver-memory 4g
	[ "$status" -eq 0 ]
	cluster=$(jq -er .cluster <<<"$output")
	[[ $cluster =~ ^legion-[0-9a-f]{8}$ ]]
	[ "$(jq -r .master.name <<<"$output")" = "$cluster-master" ]
	ip=$(jq -r .master.ip <<<"$output")
	[[ $ip =~ ^127\. ]]
	[ "$(jq -r .master.fqdn <<<"$output")" = "$cluster.westus.azurecontainer.io" ]
	[ "$(jq -r .master.ui <<<"$output")" = null ] # never public on ACI

	# the resource group was missing: created, tagged as Legion's
	[ "$(fa_log_jq 'select(.method == "PUT" and (.path | test("/resourcegroups/legion$"))) |
		[.status, .body.location, .body.tags["legion-managed"]] | join(" ")')" = '"201 westus true"' ]

	# one master PUT, with the flags' size, ACI's limits respected, restart never
	[ "$(group_puts | wc -l)" -eq 1 ]
	m=$(group_puts)
	[ "$(jq -r .name <<<"$m")" = "$cluster-master" ]
	[ "$(jq -r .location <<<"$m")" = westus ]
	[ "$(jq -r '.properties | [.osType, .restartPolicy] | join(" ")' <<<"$m")" = "Linux Never" ]
	c=$(jq -c '.properties.containers[0].properties' <<<"$m")
	[ "$(jq -r .resources.requests.cpu <<<"$c")" = 2 ]
	[ "$(jq -r .resources.requests.memoryInGB <<<"$c")" = 4.9 ] # 4g + JVM overhead + daemons
	[ "$(jq -r '.command | join(" ")' <<<"$c")" = "legion-master -i 600" ]
	# only authenticated ports: Spark RPC, the job API (TLS + token), driver, block manager
	[ "$(jq -c '[.ports[].port]' <<<"$c")" = "[7077,7090,7078,7079]" ]
	[ "$(jq -c '[.properties.ipAddress.ports[].port]' <<<"$m")" = "[7077,7090,7078,7079]" ]
	[ "$(jq -r .properties.ipAddress.dnsNameLabel <<<"$m")" = "$cluster" ]
	[ "$(jq -r '.tags | [.["legion-cluster"], .["legion-role"]] | join(" ")' <<<"$m")" = "$cluster master" ]
	created=$(jq -r '.tags["legion-created"]' <<<"$m")
	[ $((created - $(date +%s))) -le 5 ]
	[ $(($(date +%s) - created)) -le 60 ]

	# secrets only as secureValue, nowhere else
	[ "$(jq -c '[.env[] | select(.name | test("TOKEN|SECRET|KEY$")) | .name] | sort' \
		<<<"{\"env\":$(jq -c .environmentVariables <<<"$c")}")" = \
		'["AZURE_STORAGE_ACCOUNT_KEY","LEGION_SPARK_SECRET","LEGION_TLS_KEY","LEGION_TOKEN"]' ]
	[ "$(jq -c '[.environmentVariables[] | select(.name | test("TOKEN|SECRET|KEY$")) | keys] | unique' \
		<<<"$c")" = '[["name","secureValue"]]' ]
	token=$(jq -r .token "$LEGION_HOME/clusters/$cluster.json")
	spark=$(jq -r .sparkSecret "$LEGION_HOME/clusters/$cluster.json")
	[ ${#token} -ge 32 ]
	[ ${#spark} -ge 32 ]
	for secret in "$token" "$spark" "$STORAGE_KEY" "$AZURE_CLIENT_SECRET" "PRIVATE KEY"; do
		not grep -qF -- "$secret" "$FAKE_AZURE_LOG"
	done
	not grep -qF -- "$token" <<<"$output$stderr"

	# it is up, and status sees it (jobs come from its job API)
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	[ "$(jq -r '.clusters | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.clusters[0] | [.cluster, .backend, .master.state, .master.role] | join(" ")' \
		<<<"$output")" = "$cluster aci Running master" ]
	[ "$(jq -r '.clusters[0].master | [.cpu, .memoryMB > 4096, .ip, .exitCode] | map(tostring) | join(" ")' \
		<<<"$output")" = "2 true $ip null" ]
	[ "$(jq -c '.clusters[0] | [.workers, .jobs]' <<<"$output")" = '[[],[]]' ]
}

@test "delete removes a cluster in parallel, then its empty Legion-made resource group; twice is fine" {
	run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	cluster=$(jq -r .cluster <<<"$output")
	[ "$(fa_groups)" = "$cluster-master" ]
	mark_log
	run --separate-stderr legion delete "$cluster"
	[ "$status" -eq 0 ]
	no_groups_left
	[ "$(fa_log_jq 'select(.method == "DELETE") | .path | split("/") | last')" = "$(printf '"%s"\n' "$cluster-master" legion)" ]
	[ ! -e "$LEGION_HOME/clusters/$cluster.json" ]
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	[ "$output" = '{"clusters":[]}' ]
	run --separate-stderr legion delete "$cluster"
	[ "$status" -eq 0 ]
	[[ $stderr == *"has no containers"* ]]
}

@test "delete keeps a resource group Legion did not make" {
	fake_azure_arm PUT "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/resourcegroups/mine?api-version=2021-04-01" \
		'{"location":"westus"}'
	[ "$FA_STATUS" = 201 ]
	run --separate-stderr legion deploy-master --resource-group mine
	[ "$status" -eq 0 ]
	cluster=$(jq -r .cluster <<<"$output")
	run --separate-stderr legion delete "$cluster" --resource-group mine
	[ "$status" -eq 0 ]
	no_groups_left
	fake_azure_arm GET "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/resourcegroups/mine?api-version=2021-04-01"
	[ "$FA_STATUS" = 200 ]
}

@test "submit sizes workers from the flags, streams the job's output, tears down, exits 0" {
	run --separate-stderr legion submit --backend aci --num-executors 3 --executor-cores 2 \
		--executor-memory 2g "$APP" one two
	[ "$status" -eq 0 ]
	[ "$output" = "stub job job-1: app=app.py args=one two" ]
	[[ $stderr == *"3 of 3 workers registered"* ]]
	[[ $stderr == *"stub job job-1: running"* ]]
	cluster=$(cluster_of <(echo "$stderr"))
	# the job got the app and its arguments
	[ "$(jq -c '[.app, .args, .appBytes, .conf["spark.executor.cores"]]' "$ACI_STUB_DIR/jobs.jsonl")" = \
		"[\"app.py\",[\"one\",\"two\"],$(stat -c %s "$APP"),\"2\"]" ]
	# three workers, one PUT each, named per cluster and run, sized from the flags
	group_puts | jq -s -e --arg c "$cluster" '
		map(select(.tags["legion-role"] == "worker")) | length == 3 and
		(map(.name) | unique | length == 3) and
		all(.name | test("^" + $c + "-[0-9a-f]{4}-w[1-3]$")) and
		all(.tags["legion-cluster"] == $c and (.tags["legion-created"] | test("^[0-9]+$"))) and
		all(.properties.restartPolicy == "Never" and .properties.osType == "Linux") and
		all(.properties.containers[0].properties |
			.resources.requests.cpu == 2 and .resources.requests.memoryInGB == 2.9 and
			.command == ["legion-worker"] and
			(.environmentVariables | map({(.name): (.value // .secureValue)}) | add |
				.LEGION_WORKER_CORES == "2" and .LEGION_WORKER_MEMORY == "2048" and
				.LEGION_TOKEN == "***" and .LEGION_SPARK_SECRET == "***" and
				.AZURE_STORAGE_ACCOUNT_KEY == null)) and
		all(.properties.ipAddress.ports | map(.port) == [7078, 7079])'
	# everything deleted, workers and the master
	[ "$(fa_log_jq 'select(.method == "DELETE") | .status' | sort -u)" = 200 ]
	[ "$(fa_log_jq 'select(.method == "DELETE")' | wc -l)" -eq 4 ]
	no_groups_left
	[ ! -e "$LEGION_HOME/clusters/$cluster.json" ]
	not grep -qF -- "$STORAGE_KEY" "$FAKE_AZURE_LOG"
}

@test "submit asks for the master and its workers at once: their PUTs come before the master is provisioned, naming it by its public name" {
	fake_azure_config '{"provision_delay": 3}' >/dev/null
	run --separate-stderr legion submit --num-executors 2 --keep-alive true "$APP"
	[ "$status" -eq 0 ]
	[ "$output" = "stub job job-1: app=app.py args=" ]
	cluster=$(cluster_of <(echo "$stderr"))
	fake_azure_arm GET "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/$cluster-master?api-version=2023-05-01"
	[ "$FA_STATUS" = 200 ]
	# when the emulator provisioned the master and started its container
	started=$(jq -r '.properties.containers[0].properties.instanceView.currentState.startTime' "$FA_BODY")
	fqdn=$(jq -r .properties.ipAddress.fqdn "$FA_BODY")
	[ "$fqdn" = "$cluster.westus.azurecontainer.io" ]
	# the workers' PUTs (the request log's times) came before that, and name the master
	# by the name it has once it exists
	fa_log_jq 'select(.method == "PUT" and (.path | test("/containerGroups/.*-w[0-9]+$"))) |
		{time, master: (.body.properties.containers[0].properties.environmentVariables |
			map(select(.name == "LEGION_MASTER"))[0].value)}' >"$BATS_TEST_TMPDIR/puts"
	cat "$BATS_TEST_TMPDIR/puts"
	echo "master started $started"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/puts")" -eq 2 ]
	jq -se --arg s "$started" 'all(.time < $s)' "$BATS_TEST_TMPDIR/puts"
	jq -se --arg f "$fqdn" 'all(.master == $f)' "$BATS_TEST_TMPDIR/puts"
	[[ $stderr == *"starting 2 workers with the master"* ]]
	run --separate-stderr legion delete "$cluster"
	[ "$status" -eq 0 ]
	no_groups_left
}

@test "a master that fails while its workers start with it: the workers are deleted too, exit 69" {
	stub_mode master exit
	run --separate-stderr legion submit --num-executors 2 "$APP"
	[ "$status" -eq 69 ]
	[[ $stderr == *"stub master: told to exit"* ]]
	# the run had asked for all three ...
	[ "$(group_puts | jq -rs 'map(.tags["legion-role"]) | sort | join(" ")')" = "master worker worker" ]
	# ... and deleted each of them by name
	[ "$(fa_log_jq 'select(.method == "DELETE") | .path | split("/") | last |
		select(test("-(master|[0-9a-f]{4}-w[12])$"))' | sort -u | wc -l)" -eq 3 ]
	no_groups_left
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
}

@test "submit exits with the job's status and still tears down" {
	run --separate-stderr legion submit --num-executors 1 "$APP" exit=3
	[ "$status" -eq 3 ]
	[[ $stderr == *"FAILED (exit 3)"* ]]
	no_groups_left
}

@test "submit --keep-alive keeps the cluster: status, status -o table, logs --container, delete" {
	run --separate-stderr legion submit --num-executors 2 --keep-alive true "$APP"
	[ "$status" -eq 0 ]
	cluster=$(cluster_of <(echo "$stderr"))
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	[ "$(legion status | jq '.clusters[0].workers | length')" = 2 ]
	[ "$(jq -r '.clusters[0] | [.cluster, .master.state, (.workers | map(.state) | unique[])] | join(" ")' \
		<<<"$output")" = "$cluster Running Running" ]
	[ "$(jq -r '.clusters[0].workers | map(.role) | unique | join(" ")' <<<"$output")" = worker ]
	[ "$(jq -r '.clusters[0].jobs | map([.id, .state, .exitCode]) | tostring' <<<"$output")" = '[["job-1","SUCCEEDED",0]]' ]
	run --separate-stderr legion status "$cluster"
	[ "$(jq -r '.clusters | length' <<<"$output")" = 1 ]
	run --separate-stderr legion status -o table
	[ "$status" -eq 0 ]
	[ "$(head -n1 <<<"$output" | tr -s ' ')" = "CLUSTER NAME ROLE STATE IP CPU MEM AGE" ]
	[ "$(grep -c "^$cluster .* Running " <<<"$output")" -eq 3 ]
	# a container's output through ARM, whole or its tail
	w1=$(legion status | jq -r '.clusters[0].workers[0].name')
	run --separate-stderr legion logs "$cluster" --container "$w1"
	[ "$status" -eq 0 ]
	[[ $output == *"stub worker $w1: HTTP/1.0 200 OK"* ]] # after tries while the master started
	run --separate-stderr legion logs "$cluster" --container "$cluster-master" --tail 1
	[ "$status" -eq 0 ]
	[[ $output == "stub master: serving on "* ]]
	[ "$(wc -l <<<"$output")" -eq 1 ]
	mark_log
	run --separate-stderr legion delete "$cluster" --parallel 3
	[ "$status" -eq 0 ]
	[ "$(fa_log_jq 'select(.method == "DELETE" and (.path | test("/containerGroups/")))' | wc -l)" -eq 3 ]
	no_groups_left
}

@test "status --all sees Legion groups in every resource group; status only its own" {
	run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	here=$(jq -r .cluster <<<"$output")
	run --separate-stderr legion deploy-master --resource-group elsewhere
	[ "$status" -eq 0 ]
	there=$(jq -r .cluster <<<"$output")
	run --separate-stderr legion status
	[ "$(jq -c '[.clusters[].cluster]' <<<"$output")" = "[\"$here\"]" ]
	run --separate-stderr legion status --all
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.clusters[].cluster] | sort' <<<"$output")" = "$(jq -nc --arg a "$here" --arg b "$there" '[$a, $b] | sort')" ]
	[ "$(jq -r '[.clusters[].master.state] | unique | join(" ")' <<<"$output")" = Running ]
}

# An ARM container group made outside legion: NAME CLUSTER ROLE CREATED [COMMAND-JSON]
make_group() {
	local body
	body=$(jq -nc --arg c "$2" --arg r "$3" --arg t "$4" --argjson cmd "${5:-null}" '{
		location: "westus", tags: {"legion-cluster": $c, "legion-role": $r, "legion-created": $t},
		properties: {osType: "Linux", restartPolicy: "Never", containers: [{name: "spark",
			properties: ({image: "x", resources: {requests: {cpu: 1, memoryInGB: 1}}} +
				(if $cmd then {command: $cmd} else {} end))}]}}')
	fake_azure_arm PUT "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/$1?api-version=2023-05-01" "$body"
	[ "$FA_STATUS" = 201 ]
}

@test "gc deletes ended groups and clusters without a master, --older-than spares young ones" {
	run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	live=$(jq -r .cluster <<<"$output")
	now=$(date +%s)
	make_group "$live-0001-w1" "$live" worker "$now" # a live cluster's worker: kept
	make_group legion-0000dead-0001-w1 legion-0000dead worker $((now - 7200)) # orphan, old
	make_group legion-0000dead-0001-w2 legion-0000dead worker "$now"          # orphan, young
	make_group legion-0000beef-master legion-0000beef master $((now - 7200)) '["true"]' # ended
	fake_azure_config '{"provision_delay": 600}' >/dev/null # a cluster still starting: kept
	make_group legion-0000cafe-master legion-0000cafe master $((now - 7200))
	make_group legion-0000cafe-0001-w1 legion-0000cafe worker $((now - 7200))
	wait_for -t 10 group_in_state legion-0000beef-master Succeeded
	group_in_state legion-0000cafe-master Pending
	run --separate-stderr legion gc --older-than 1h
	[ "$status" -eq 0 ]
	[ "$(jq -c '.deleted | sort' <<<"$output")" = '["legion-0000beef-master","legion-0000dead-0001-w1"]' ]
	[ "$(fa_groups | sort)" = "$(printf '%s\n' legion-0000cafe-0001-w1 legion-0000cafe-master \
		legion-0000dead-0001-w2 "$live-0001-w1" "$live-master" | sort)" ]
	run --separate-stderr legion gc
	[ "$status" -eq 0 ]
	[ "$(jq -c .deleted <<<"$output")" = '["legion-0000dead-0001-w2"]' ]
	[ "$(fa_groups | sort)" = "$(printf '%s\n' legion-0000cafe-0001-w1 legion-0000cafe-master \
		"$live-0001-w1" "$live-master" | sort)" ]
	run --separate-stderr legion gc
	[ "$(jq -c .deleted <<<"$output")" = '[]' ]
}

@test "gc takes a running cluster whose master is idle past its timeout; --dry-run only says so" {
	run --separate-stderr legion deploy-master --idle-timeout 60
	[ "$status" -eq 0 ]
	idle=$(jq -r .cluster <<<"$output")
	echo 0 >"$ACI_STUB_DIR/master-idle"
	run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	busy=$(jq -r .cluster <<<"$output")
	make_group "$idle-0001-w1" "$idle" worker "$(date +%s)"
	echo 200 >"$ACI_STUB_DIR/master-idle" # both stand-ins now say 200 s without a job
	run --separate-stderr legion gc --dry-run
	[ "$status" -eq 0 ]
	[ "$(jq -c '.wouldDelete | sort' <<<"$output")" = "[\"$idle-0001-w1\",\"$idle-master\"]" ]
	[ "$(fa_groups | wc -l)" -eq 3 ] # nothing deleted
	run --separate-stderr legion gc
	[ "$status" -eq 0 ]
	[ "$(jq -c '.deleted | sort' <<<"$output")" = "[\"$idle-0001-w1\",\"$idle-master\"]" ]
	[ "$(fa_groups)" = "$busy-master" ] # 200 s is within its 600 s
	[ ! -e "$LEGION_HOME/clusters/$idle.json" ]
	[ -e "$LEGION_HOME/clusters/$busy.json" ]
}

@test "429 with Retry-After on 30% of the PUTs: the run still succeeds, one group per name" {
	fake_azure_faults '{"seed": 4, "rate": 0.3, "kinds": ["429"], "retry_after": 1,
		"methods": ["PUT"], "paths": "/containerGroups/"}' >/dev/null
	run --separate-stderr legion submit --num-executors 8 "$APP"
	[ "$status" -eq 0 ]
	[ "$(fa_log_jq 'select(.fault == "429")' | wc -l)" -ge 1 ]
	[ "$(group_puts | jq -s 'map(.name) | unique | length')" -eq 9 ]
	[ "$(group_puts | wc -l)" -eq 9 ]
	no_groups_left
}

@test "a PUT whose answer is lost is retried and replaces, never duplicates" {
	fake_azure_faults '{"seed": 2, "rate": 0.5, "kinds": ["truncate"], "methods": ["PUT"],
		"paths": "-w[0-9]+$"}' >/dev/null
	run --separate-stderr legion submit --num-executors 4 "$APP"
	[ "$status" -eq 0 ]
	[ "$(fa_log_jq 'select(.fault == "truncate")' | wc -l)" -ge 1 ]
	puts=$(fa_log_jq 'select(.method == "PUT" and (.path | test("-w[0-9]+$"))) | .path')
	[ "$(wc -l <<<"$puts")" -gt 4 ]
	[ "$(sort -u <<<"$puts" | wc -l)" -eq 4 ]
	[[ $stderr == *"4 of 4 workers registered"* ]]
	no_groups_left
}

@test "a write-throttled fan-out slows down instead of failing" {
	# one write a second: eight worker PUTs wait their turn, and so do the DELETEs
	fake_azure_faults '{"write_bucket": 3, "write_refill_per_s": 1}' >/dev/null
	run --separate-stderr legion submit --num-executors 8 "$APP"
	[ "$status" -eq 0 ]
	[[ $stderr == *"8 of 8 workers registered"* ]]
	[ "$(group_puts | wc -l)" -eq 9 ]
	[ "$(fa_log_jq 'select(.method == "DELETE" and .status == 200)' | wc -l)" -eq 9 ]
	# it waited (Retry-After) rather than hammered: fewer refusals than ~2 per write
	throttled=$(fa_log_jq 'select(.status == 429)' | wc -l)
	echo "429s: $throttled"
	[ "$throttled" -ge 8 ]
	[ "$throttled" -le 40 ]
	no_groups_left
}

@test "quota exceeded midway: rolls back, says what to do, exits 69" {
	fake_azure_config '{"core_quota": 4}' >/dev/null
	run --separate-stderr legion submit --num-executors 8 "$APP"
	[ "$status" -eq 69 ]
	[[ $stderr == *"ContainerGroupQuotaReached"* ]]
	[[ $stderr == *"quota in westus is used up: use fewer or smaller executors"* ]]
	[[ $stderr == *"rolling back"* ]]
	[ "$(group_puts | wc -l)" -ge 2 ] # the master and some workers had been made
	no_groups_left
	run --separate-stderr legion status
	[ "$output" = '{"clusters":[]}' ]
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
}

@test "one of eight worker PUTs refused: the other seven and the master are deleted, exit 75" {
	fake_azure_faults '{"paths": "-w5$", "methods": ["PUT"], "rate": 1, "kinds": ["503"],
		"retry_after": 0, "count": 100}' >/dev/null
	run --separate-stderr legion submit --num-executors 8 "$APP"
	[ "$status" -eq 75 ]
	[[ $stderr =~ unable\ to\ create\ legion-[0-9a-f]{8}-[0-9a-f]{4}-w5:.*HTTP\ 503 ]]
	[[ $stderr == *"try again in a few minutes"* ]]
	[ "$(group_puts | wc -l)" -eq 8 ] # master + 7 workers were made ...
	no_groups_left                    # ... and deleted
	[ "$(fa_log_jq 'select(.method == "DELETE" and .status == 200)' | wc -l)" -eq 8 ]
	fa_log_jq 'select(.method == "DELETE") | .path | split("/") | last' | jq -se \
		'all(test("^legion-[0-9a-f]{8}-(master|[0-9a-f]{4}-w[1-8])$"))' # asked only by name
	run --separate-stderr legion status
	[ "$output" = '{"clusters":[]}' ]
}

@test "ACI has no capacity in the region: exit 69 and a hint, nothing left" {
	fake_azure_faults '{"no_capacity": ["westus"]}' >/dev/null
	run --separate-stderr legion deploy-master --location westus
	[ "$status" -eq 69 ]
	[[ $stderr == *"try another --location"* ]]
	no_groups_left
}

@test "a master whose job API never answers is deleted after LEGION_MASTER_TIMEOUT, exit 69" {
	stub_mode master silent
	export LEGION_MASTER_TIMEOUT=2
	run --separate-stderr legion deploy-master
	[ "$status" -eq 69 ]
	[[ $stderr == *"did not answer within 2 s"* ]]
	[ "$(group_puts | wc -l)" -eq 1 ]
	no_groups_left
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
}

@test "a master that exits at once: its output is shown, it is deleted, exit 69" {
	stub_mode master exit
	run --separate-stderr legion submit "$APP"
	[ "$status" -eq 69 ]
	[[ $stderr == *"stub master: told to exit"* ]]
	no_groups_left
}

@test "a master still Pending at the provisioning deadline is rolled back, exit 69" {
	fake_azure_config '{"provision_delay": 60}' >/dev/null
	export LEGION_PROVISION_TIMEOUT=1
	run --separate-stderr legion submit "$APP"
	[ "$status" -eq 69 ]
	[[ $stderr == *"still pending after 1 s"* ]]
	no_groups_left
}

@test "limits: a 4-core 14g master fits ACI's 16 GB group; 15g is refused before any request" {
	run --separate-stderr legion deploy-master --driver-cores 4 --driver-memory 14g
	[ "$status" -eq 0 ]
	[ "$(group_puts | jq '.properties.containers[0].properties.resources.requests |
		.cpu == 4 and .memoryInGB <= 16 and .memoryInGB > 15')" = true ]
	mark_log
	run --separate-stderr legion submit --executor-memory 15g "$APP"
	[ "$status" -eq 64 ]
	run --separate-stderr legion submit --executor-cores 5 "$APP"
	[ "$status" -eq 64 ]
	[ "$(fa_log_jq . | wc -l)" -eq 0 ]
}

@test "a wrong client secret: exit 77, and nothing is created" {
	export AZURE_CLIENT_SECRET=wrong-secret
	run --separate-stderr legion submit "$APP"
	[ "$status" -eq 77 ]
	[[ $stderr == *"AADSTS7000215"* ]]
	[ "$(fa_log_jq 'select(.path | test("^/subscriptions"))' | wc -l)" -eq 0 ]
	not grep -qF wrong-secret "$FAKE_AZURE_LOG"
	no_groups_left
}

@test "no subscription given: the only one the identity sees is used" {
	unset AZURE_SUBSCRIPTION_ID
	run --separate-stderr legion deploy-master
	[ "$status" -eq 0 ]
	[ "$(fa_log_jq 'select(.method == "GET" and .path == "/subscriptions") | .status')" = 200 ]
	[[ $(group_puts | jq -r .name) == legion-*-master ]]
	fa_log_jq 'select(.method == "PUT") | .path' | grep -q "^\"/subscriptions/$FAKE_AZURE_SUBSCRIPTION/"
}

@test "a subscription the identity does not see: exit 78, says so, nothing created" {
	run --separate-stderr legion deploy-master --subscription 00000000-0000-0000-0000-000000000000
	[ "$status" -eq 78 ]
	[[ $stderr == *"SubscriptionNotFound"* ]]
	[[ $stderr == *"check --subscription and AZURE_SUBSCRIPTION_ID"* ]]
	[ "$(fa_log_jq 'select(.method == "PUT" or .method == "DELETE")' | wc -l)" -eq 0 ]
	run --separate-stderr legion status --subscription 00000000-0000-0000-0000-000000000000
	[ "$status" -eq 78 ]
	[ -z "$output" ]
}

@test "Ctrl-C while waiting for workers: every group this run made is deleted, exit 130" {
	stub_mode worker silent
	bg_legion "$BATS_TEST_TMPDIR/run" submit --num-executors 2 "$APP"
	wait_for -t 20 grep -q "0 of 2 workers registered" "$BATS_TEST_TMPDIR/run.err"
	[ "$(fa_groups | wc -l)" -eq 3 ]
	kill -INT "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 130 ]
	no_groups_left
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
}

@test "Ctrl-C while the workers' PUTs are in flight: groups ARM makes after the rollback are deleted too" {
	fake_azure_faults '{"paths": "-w[0-9]+$", "methods": ["PUT"], "latency_ms": 3000}' >/dev/null
	bg_legion "$BATS_TEST_TMPDIR/run" submit --num-executors 2 "$APP"
	# both PUTs have reached the emulator, which holds them for 3 s, then makes the groups
	puts_held() { [ "$(fake_azure_fault_stats | jq .matched)" -ge 2 ]; }
	wait_for -t 30 puts_held
	kill -INT "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 130 ]
	grep -q "whose request had no answer" "$BATS_TEST_TMPDIR/run.err"
	grep -q "was created after all: deleting it" "$BATS_TEST_TMPDIR/run.err"
	no_groups_left
	run wait_for -t 5 test -n "$(fa_groups)" # nothing turns up later either
	[ "$status" -ne 0 ]
}

@test "a second Ctrl-C during the clean-up does not stop it; a third gives up naming what removes the rest" {
	stub_mode worker silent
	fake_azure_faults '{"methods": ["DELETE"], "latency_ms": 1500}' >/dev/null
	bg_legion "$BATS_TEST_TMPDIR/run" submit --num-executors 2 "$APP"
	wait_for -t 20 grep -q "0 of 2 workers registered" "$BATS_TEST_TMPDIR/run.err"
	kill -INT "$BG_PID"
	wait_for -t 10 grep -q "deleting 3 container groups" "$BATS_TEST_TMPDIR/run.err"
	kill -INT "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 130 ]
	grep -q "still cleaning up: interrupt once more to give up" "$BATS_TEST_TMPDIR/run.err"
	no_groups_left
	not grep -q "unable to delete" "$BATS_TEST_TMPDIR/run.err"

	fake_azure_faults '{"methods": ["DELETE"], "latency_ms": 4000}' >/dev/null
	bg_legion "$BATS_TEST_TMPDIR/run2" submit --num-executors 2 "$APP"
	wait_for -t 20 grep -q "0 of 2 workers registered" "$BATS_TEST_TMPDIR/run2.err"
	local id
	id=$(grep -o 'starting cluster legion-[0-9a-f]*' "$BATS_TEST_TMPDIR/run2.err" | cut -d' ' -f3)
	kill -INT "$BG_PID"
	wait_for -t 10 grep -q "deleting 3 container groups" "$BATS_TEST_TMPDIR/run2.err"
	kill -INT "$BG_PID"
	wait_for -t 10 grep -q "still cleaning up" "$BATS_TEST_TMPDIR/run2.err"
	kill -INT "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 130 ]
	grep -q "clean-up abandoned: what this run created may be left; it is removed by: legion delete $id" \
		"$BATS_TEST_TMPDIR/run2.err"
	fake_azure_faults '{}' >/dev/null
	run --separate-stderr legion delete "$id"
	[ "$status" -eq 0 ]
	no_groups_left
}

@test "SIGTERM while waiting for the master: its group is deleted, exit 143" {
	stub_mode master silent
	bg_legion "$BATS_TEST_TMPDIR/run" submit "$APP"
	wait_for -t 20 group_in_state "" Running
	kill -TERM "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 143 ]
	no_groups_left
}

@test "Ctrl-C during deploy-master's wait: exit 130, nothing left" {
	stub_mode master silent
	bg_legion "$BATS_TEST_TMPDIR/run" deploy-master
	wait_for -t 20 group_in_state "" Running
	kill -INT "$BG_PID"
	bg_wait
	[ "$BG_RC" -eq 130 ]
	[ ! -s "$BATS_TEST_TMPDIR/run.out" ]
	no_groups_left
}

@test "a 2-second token over a longer run is refreshed without a 401 reaching the user" {
	# slow provisioning keeps legion polling ARM across several token lifetimes; ARM's
	# expiry is whole seconds, so some requests meet a token legion still thinks valid
	fake_azure_config '{"token_lifetime": 2, "provision_delay": 2.5}' >/dev/null
	run --separate-stderr legion submit --num-executors 2 "$APP" sleep=1
	[ "$status" -eq 0 ]
	[ "$(fa_log_jq 'select(.path | test("/oauth2/v2.0/token$")) | .status' | grep -c 200)" -ge 2 ]
	[[ $stderr != *401* ]]
	[[ $stderr != *xpired* ]]
	no_groups_left
}

@test "a master whose GETs fail is not reported as gone: it is waited for, then deleted" {
	stub_mode master silent
	export LEGION_MASTER_TIMEOUT=4
	bg_legion "$BATS_TEST_TMPDIR/dm" deploy-master
	wait_for -t 30 compgen -G "$LEGION_HOME/clusters/*.json" # created: now waiting for its API
	fake_azure_faults '{"rate": 1, "kinds": ["503"], "retry_after": 0, "paths": "-master$",
		"methods": ["GET"]}' >/dev/null
	bg_wait
	[ "$BG_RC" -eq 69 ]
	run cat "$BATS_TEST_TMPDIR/dm.err"
	[[ $output == *"did not answer within 4 s"* ]]
	[[ $output != *"stopped"* ]]
	[[ $output != *"gone"* ]]
	fake_azure_faults '{}' >/dev/null
	no_groups_left
}

@test "a master that stops while workers are awaited ends the wait at once: exit 69, all deleted" {
	stub_mode worker silent
	bg_legion "$BATS_TEST_TMPDIR/run" submit --num-executors 2 "$APP"
	wait_for -t 20 grep -q "0 of 2 workers registered" "$BATS_TEST_TMPDIR/run.err"
	local cluster
	cluster=$(cluster_of "$BATS_TEST_TMPDIR/run.err")
	fake_azure_arm DELETE "/subscriptions/$FAKE_AZURE_SUBSCRIPTION/resourceGroups/legion/providers/Microsoft.ContainerInstance/containerGroups/$cluster-master?api-version=2023-05-01"
	[[ $FA_STATUS == 20* ]]
	bg_wait
	[ "$BG_RC" -eq 69 ]
	grep -q "the master of $cluster stopped before 2 workers registered" "$BATS_TEST_TMPDIR/run.err"
	no_groups_left
}

@test "no image for aci: exit 78 with the commands that fix it, before any request" {
	unset LEGION_IMAGE
	run --separate-stderr legion submit "$APP"
	[ "$status" -eq 78 ]
	[[ $stderr == *"no image for the aci backend"*"LEGION_IMAGE=REGISTRY.azurecr.io/legion/spark:"* ]]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	run --separate-stderr legion deploy-master
	[ "$status" -eq 78 ]
	[ "$(fa_log_jq . | wc -l)" -eq 0 ]
	run --separate-stderr legion deploy-master --image registry.test/legion/spark:test
	[ "$status" -eq 0 ]
	[ "$(group_puts | jq -r '.properties.containers[0].properties.image')" = registry.test/legion/spark:test ]
}

@test "config file: sizes and spark.* keys reach the job and the groups; a flag still wins" {
	mkdir -p "$XDG_CONFIG_HOME/legion"
	printf 'executor-cores 2\nexecutor-memory 2g\nspark.legion.test yes\nimage registry.test/from/config:1\n' \
		>"$XDG_CONFIG_HOME/legion/config"
	unset LEGION_IMAGE
	run --separate-stderr legion submit --num-executors 1 --executor-cores 3 "$APP"
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.conf["spark.executor.cores"], .conf["spark.executor.memory"], .conf["spark.legion.test"]] | join(" ")' \
		"$ACI_STUB_DIR/jobs.jsonl")" = "3 2048m yes" ]
	[ "$(group_puts | jq -r 'select(.tags["legion-role"] == "worker") | .properties.containers[0].properties |
		[.resources.requests.cpu, .image] | map(tostring) | join(" ")')" = "3 registry.test/from/config:1" ]
}
