#!/usr/bin/env bats
# t/prices.bats: `legion prices`: ACI's Linux standard pay-as-you-go prices per region
# from the Azure Retail Prices API (t/fake_retail.py inside t/fake-azure, made-up
# prices), printed as the price file the cost line reads: exact lines, paging, the rows
# it must skip, --location, and what a broken answer gives (one line, an exit code,
# nothing on stdout). The cost line that uses the file is t/cost.bats'.

load test_helper
load fake_azure_helper
load aci_helper

setup_file() {
	fake_azure_start
}

teardown_file() {
	fake_azure_stop
}

setup() {
	fake_azure_reset >/dev/null
	export LEGION_PRICES_URL=$FAKE_AZURE_URL/api/retail/prices
	mark_log
}

retail() {
	_fake_azure_control POST "$1" retail >/dev/null
}

# The fake's rows, as legion prints them: Standard vCPU Duration ("1 Hour") / 3600 and
# Standard Memory Duration ("1 GB Hour") / 3600; japaneast's newer vCPU row wins over
# its older one; the Spot, Windows, GPU, confidential and DevTest rows are left out.
ROWS="eastus 0.00001111111111 0.00000122222222 USD # since 2021-06-08
japaneast 0.00001444444444 0.00000158333333 USD # since 2021-06-08
swedencentral 0.00001294444444 0.00000141666667 USD # since 2021-06-08
westeurope 0.0000125 0.00000136111111 USD # since 2021-06-08
westus 0.00001388888889 0.00000138888889 USD # since 2021-06-08"

FILTER="serviceName eq 'Container Instances' and priceType eq 'Consumption'"

@test "legion prices: a price file of every region's Linux standard vCPU and memory prices per second, its source and date on top" {
	run --separate-stderr "$LEGION" prices
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "# Azure Container Instances: Linux, standard (not Spot, GPU or confidential), pay-as-you-go retailPrice" ]
	[ "${lines[1]}" = "# per vCPU-second (Standard vCPU Duration) and per GB-second (Standard Memory Duration)" ]
	[ "${lines[2]}" = "# source: $LEGION_PRICES_URL?\$filter=$FILTER" ]
	[[ ${lines[3]} =~ ^#\ fetched:\ ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z)$ ]]
	local day=${BASH_REMATCH[1]:0:10}
	[ "$day" = "$(date -u +%Y-%m-%d)" ] || [ "$day" = "$(date -u -d '1 min ago' +%Y-%m-%d)" ]
	[ "${lines[4]}" = "# effective: 2021-06-08 to 2021-06-08 (effectiveStartDate of the rows used)" ]
	[ "${lines[5]}" = "# region vcpu-second-price gb-second-price currency" ]
	[ "$(tail -n +7 <<<"$output")" = "$ROWS" ]
	# one request, with the OData filter the API documents
	[ "$(fa_log_jq 'select(.path == "/api/retail/prices") | .query."$filter"')" = "\"$FILTER\"" ]
}

@test "legion prices follows NextPageLink through every page (\$skip) and prints the same file" {
	retail '{"pageSize": 4}'
	run --separate-stderr "$LEGION" prices
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(tail -n +7 <<<"$output")" = "$ROWS" ]
	# 47 rows, 4 a page: 12 pages, $skip 0 (none) then 4, 8, ... 44
	[ "$(fa_log_jq 'select(.path == "/api/retail/prices") | .query."$skip" // "-"' | tr '\n' ' ')" = \
		'"-" "4" "8" "12" "16" "20" "24" "28" "32" "36" "40" "44" ' ]
	[ "$(fa_log_jq 'select(.path == "/api/retail/prices") | .status' | sort -u)" = 200 ]
}

@test "legion prices --location asks the API for that region only" {
	run --separate-stderr "$LEGION" prices --location japaneast
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "# source: $LEGION_PRICES_URL?\$filter=$FILTER and armRegionName eq 'japaneast'" ]
	[ "$(tail -n +7 <<<"$output")" = "japaneast 0.00001444444444 0.00000158333333 USD # since 2021-06-08" ]
	[ "$(fa_log_jq 'select(.path == "/api/retail/prices") | .query."$filter"')" = \
		"\"$FILTER and armRegionName eq 'japaneast'\"" ]
}

@test "legion prices --location with no ACI prices: one line, exit 64, stdout empty" {
	run --separate-stderr "$LEGION" prices --location nowhere
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: prices: no Linux standard prices of Container Instances in 'nowhere' (is it a region of ACI?)" ]
	run --separate-stderr "$LEGION" prices --location "West US"
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "legion: prices: --location: 'West US' is not a region name (like westus)" ]
}

@test "legion prices: a malformed answer, HTTP 500 and a page loop each give one line, a documented exit code and nothing on stdout" {
	retail '{"mode": "malformed"}'
	run --separate-stderr "$LEGION" prices
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: prices: page 1 of $LEGION_PRICES_URL is not a price list (no Items array)" ]

	retail '{"mode": "500"}'
	run --separate-stderr "$LEGION" prices
	[ "$status" -eq 75 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: prices: GET $LEGION_PRICES_URL: HTTP 500 InternalServerError: An error has occurred." ]

	retail '{"mode": "loop", "pageSize": 10}'
	run --separate-stderr "$LEGION" prices
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: prices: page 3: NextPageLink goes back to page 2 (a loop)" ]
}

@test "legion prices: the other clouds have no retail prices (64); LEGION_PRICES_URL must be https, or http to loopback (78)" {
	run --separate-stderr "$LEGION" prices --cloud AzureUSGovernment
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "legion: prices: the Azure Retail Prices API has the public cloud's prices only, not AzureUSGovernment's: make a price file by hand (README: What a job cost)" ]
	AZURE_CLOUD=AzureChinaCloud run --separate-stderr "$LEGION" prices
	[ "$status" -eq 64 ]
	LEGION_PRICES_URL=http://prices.example.test/api/retail/prices run --separate-stderr "$LEGION" prices
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "$stderr" = "legion: LEGION_PRICES_URL: 'http://prices.example.test/api/retail/prices' is not an https URL without a query (http only to 127.0.0.1 or localhost)" ]
	[ -z "$(fa_log_jq 'select(.path == "/api/retail/prices")')" ]
}

@test "legion prices refuses a NextPageLink to another host (65) and fetches no more" {
	retail '{"mode": "elsewhere", "pageSize": 10}'
	run --separate-stderr "$LEGION" prices
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[[ $stderr == "legion: prices: page 1: NextPageLink 'https://prices.example.test/api/retail/prices?"*"' is not on https://localhost:$FAKE_AZURE_PORT" ]]
	[ "$(fa_log_jq 'select(.path == "/api/retail/prices")' | wc -l)" -eq 1 ]
}
