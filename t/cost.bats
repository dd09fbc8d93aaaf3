#!/usr/bin/env bats
# t/cost.bats: the cost line at the end of a job: vCPU-seconds and GB-seconds the run's
# container groups held, checked against the times t/fake-azure recorded for each
# group's PUT and DELETE, and an estimate from --price-file. The master and workers are
# t/aci_helper.bash's stand-ins: this is about arithmetic, not Spark.

load test_helper
load fake_azure_helper
load aci_helper

setup_file() {
	aci_emulator_start
}

teardown_file() {
	fake_azure_stop
}

setup() {
	fake_azure_reset >/dev/null
	export LEGION_BACKEND=aci LEGION_IMAGE=registry.test/legion/spark:test
	cd "$BATS_TEST_TMPDIR"
	echo 'print("hello")' >app.py
	# the price file of the tests' --price-file: westus's row, and "*" for any other
	cat >prices <<'EOF'
# region  per vCPU-second  per GB-second  currency
*       0.5   0.25  XTS
westus  0.01  0.001 XTS
EOF
	mark_log
}

# kept_cluster N: app.py's job on N workers of 2 cores and 2 GB, its cluster kept
# (--keep-alive) and named in $cluster.
kept_cluster() {
	run --separate-stderr legion submit --num-executors "$1" --executor-cores 2 \
		--executor-memory 2g --keep-alive true app.py sleep=2
	[ "$status" -eq 0 ]
	cluster=$(cluster_of <(echo "$stderr"))
}

@test "the cost line: vCPU- and GB-seconds of every group from its PUT to its DELETE, priced" {
	run --separate-stderr legion submit --num-executors 2 --executor-cores 2 \
		--executor-memory 2g --price-file prices app.py sleep=3
	echo "$stderr"
	[ "$status" -eq 0 ]
	local line
	line=$(grep '^legion: cost: ' <<<"$stderr")
	[[ $line =~ ^legion:\ cost:\ this\ run\'s\ cluster\ \(3\ container\ groups,\ [0-9]+\ s\):\ ([0-9.]+)\ vCPU-seconds,\ ([0-9.]+)\ GB-seconds\;\ about\ ([0-9.]+)\ XTS\ at\ prices\'s\ westus\ prices$ ]]
	local vcpu=${BASH_REMATCH[1]} gb=${BASH_REMATCH[2]} money=${BASH_REMATCH[3]}
	# what the emulator saw: each group's size from its PUT, held until its DELETE
	fa_log_jq 'select((.path | test("/containerGroups/[^/]+$")) and
		((.method == "PUT" and (.status == 200 or .status == 201)) or
		 (.method == "DELETE" and .status != null and .status < 300))) |
		{name: (.path | split("/") | last), method, time,
		 cpu: .body.properties.containers[0].properties.resources.requests.cpu?,
		 gb: .body.properties.containers[0].properties.resources.requests.memoryInGB?}' |
		python3 -c '
import datetime, json, sys
vcpu, gb, seen = float(sys.argv[1]), float(sys.argv[2]), {}
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
for e in map(json.loads, sys.stdin):
    g = seen.setdefault(e["name"], {})
    if e["method"] == "PUT":
        g.update(put=t(e["time"]), cpu=e["cpu"], gb=e["gb"])
    else:
        g.setdefault("delete", t(e["time"]))
assert len(seen) == 3 and all("put" in g and "delete" in g for g in seen.values()), seen
want_vcpu = sum(g["cpu"] * (g["delete"] - g["put"]) for g in seen.values())
want_gb = sum(g["gb"] * (g["delete"] - g["put"]) for g in seen.values())
print("emulator: %.1f vCPU-s, %.1f GB-s; legion: %.1f, %.1f" % (want_vcpu, want_gb, vcpu, gb))
# legion counts from just before each PUT to just after each DELETE: a little more
cpus, gbs = sum(g["cpu"] for g in seen.values()), sum(g["gb"] for g in seen.values())
for want, got, size in ((want_vcpu, vcpu, cpus), (want_gb, gb, gbs)):
    assert want * 0.97 - 0.5 <= got <= want * 1.1 + 2 * size, (want, got)
' "$vcpu" "$gb"
	# the price of the region asked for (westus, the default), not the "*" row
	python3 -c 'import sys; v, g, m = map(float, sys.argv[1:])
assert abs(v * 0.01 + g * 0.001 - m) < 0.0006, (v, g, m)  # v and g are shown to 0.1' "$vcpu" "$gb" "$money"
}

@test "--price-file: a malformed line is refused with the file and line before anything starts (78)" {
	printf 'westus 0.01 0.001 XTS\nwestus cheap 0.001 XTS\n' >prices
	run --separate-stderr legion submit --price-file prices app.py
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: prices:2: not 'region vcpu-second-price gb-second-price currency'"* ]]
	[ -z "$(fa_log_jq 'select(.method == "PUT")')" ]
}

@test "legion status: a finished job's cost while it ran, and what the running groups hold" {
	local cluster
	kept_cluster 2
	run --separate-stderr legion status "$cluster"
	[ "$status" -eq 0 ]
	echo "$output"
	local before after
	# the job's share: every group made before it ended, over the part of its run time
	# the group existed; GB as ACI is asked for them (one decimal, rounded up)
	jq -e '.clusters[0] as $c | ([$c.master] + $c.workers) as $g | $c.jobs[0] as $j |
		($g | map(select(.created <= $j.ended) |
			{s: ($j.ended - ([$j.started, .created] | max)), cpu,
			 gb: ((.memoryMB / 1024 * 10) | ceil / 10)})) as $h |
		$j.state == "SUCCEEDED" and $j.ended > $j.started and
		$j.cost.vcpuSeconds == ($h | map(.cpu * .s) | add) and
		$j.cost.gbSeconds == (($h | map(.gb * .s) | add) * 10 | round / 10) and
		$j.cost.vcpuSeconds > 0' <<<"$output"
	# the cluster's running groups, from their creation until now (it grows)
	before=$(jq -r '.clusters[0].cost.vcpuSeconds' <<<"$output")
	jq -e --argjson now "$(date +%s)" '.clusters[0] as $c | ([$c.master] + $c.workers) as $g |
		($g | map(.cpu * ($now - .created)) | add) as $want |
		$c.cost.vcpuSeconds <= $want and $c.cost.vcpuSeconds >= $want - 5 * ($g | map(.cpu) | add)' \
		<<<"$output"
	sleep 1
	after=$(legion status "$cluster" | jq -r '.clusters[0].cost.vcpuSeconds')
	python3 -c "import sys; assert float(sys.argv[2]) > float(sys.argv[1])" "$before" "$after"
	legion delete "$cluster" 2>/dev/null
	no_groups_left
}

@test "legion status --price-file: the estimate of a finished job and of the running cluster at the region's prices; a malformed file is 78" {
	local cluster
	kept_cluster 1
	# without a price file, units only
	legion status "$cluster" | jq -e '.clusters[0] | (.cost | has("estimate") | not) and
		(.jobs[0].cost | has("estimate") | not)'
	run --separate-stderr legion status --price-file prices "$cluster"
	[ "$status" -eq 0 ]
	echo "$output"
	# westus's row, not "*"'s: vCPU-seconds x 0.01 + GB-seconds x 0.001 (the JSON's units
	# are rounded to 0.1, the estimate is not: 0.0006 at most apart)
	jq -e '.clusters[0] | [.cost, .jobs[0].cost] | all(.currency == "XTS" and .estimate > 0 and
		((.estimate - (.vcpuSeconds * 0.01 + .gbSeconds * 0.001)) | fabs) < 0.0006)' <<<"$output"
	echo 'westus 0.01 XTS' >bad
	run --separate-stderr legion status --price-file bad "$cluster"
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[[ $stderr == *"bad:1: not 'region vcpu-second-price gb-second-price currency'"* ]]
	legion delete "$cluster" 2>/dev/null
	no_groups_left
}

@test "the default price file: 'legion prices > ~/.config/legion/prices' once puts an estimate on every aci cost line" {
	mkdir -p "$XDG_CONFIG_HOME/legion"
	LEGION_PRICES_URL=$FAKE_AZURE_URL/api/retail/prices legion prices >"$XDG_CONFIG_HOME/legion/prices"
	run --separate-stderr legion submit --num-executors 1 app.py
	echo "$stderr"
	[ "$status" -eq 0 ]
	local line
	line=$(grep '^legion: cost: ' <<<"$stderr")
	[[ $line =~ \ ([0-9.]+)\ vCPU-seconds,\ ([0-9.]+)\ GB-seconds\;\ about\ ([0-9.]+)\ USD\ at\ $XDG_CONFIG_HOME/legion/prices\'s\ westus\ prices$ ]]
	# westus in t/fake_retail.py (made up): 0.05 per vCPU-hour, 0.005 per GB-hour
	python3 -c 'import sys; v, g, m = map(float, sys.argv[1:])
want = v * 0.05 / 3600 + g * 0.005 / 3600
assert abs(want - m) < 0.00006, (v, g, m, want)' "${BASH_REMATCH[@]:1}"
	# a short run costs less than a cent: the estimate keeps its digits
	[[ ${BASH_REMATCH[3]} != 0.0000 ]]
	# no warning: the file is new
	! grep -q 'days ago' <<<"$stderr"
}

@test "a price file fetched over 90 days ago: one warning line naming it, and still used" {
	mkdir -p "$XDG_CONFIG_HOME/legion"
	printf '# fetched: 2020-01-02T03:04:05Z\nwestus 0.01 0.001 XTS\n' >"$XDG_CONFIG_HOME/legion/prices"
	run --separate-stderr legion submit --num-executors 1 app.py
	[ "$status" -eq 0 ]
	local f=$XDG_CONFIG_HOME/legion/prices
	[ "$(grep -c 'days ago' <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"legion: $f: its prices were fetched "[0-9]*" days ago (2020-01-02): still used; refresh them with 'legion prices > $f'"* ]]
	[[ $(grep '^legion: cost: ' <<<"$stderr") == *" XTS at $f's westus prices" ]]
}

@test "the config file's price-file, and --price-file over it; a malformed default file is refused (78) before anything starts" {
	mkdir -p "$XDG_CONFIG_HOME/legion"
	printf 'eastus 0.02 0.002 XTS\n' >mine
	printf 'price-file %s/mine\n' "$PWD" >"$XDG_CONFIG_HOME/legion/config"
	run --separate-stderr legion submit --location eastus --num-executors 1 app.py
	[ "$status" -eq 0 ]
	[[ $(grep '^legion: cost: ' <<<"$stderr") == *" XTS at $PWD/mine's eastus prices" ]]
	printf '* 0.03 0.003 XTS\n' >flag
	run --separate-stderr legion submit --price-file flag --location eastus --num-executors 1 app.py
	[ "$status" -eq 0 ]
	[[ $(grep '^legion: cost: ' <<<"$stderr") == *" XTS at flag's * prices" ]]
	rm "$XDG_CONFIG_HOME/legion/config"
	printf 'westus 0.01\n' >"$XDG_CONFIG_HOME/legion/prices"
	mark_log
	run --separate-stderr legion submit app.py
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: $XDG_CONFIG_HOME/legion/prices:1: not 'region vcpu-second-price gb-second-price currency'"* ]]
	[ -z "$(fa_log_jq 'select(.method == "PUT")')" ]
}
