#!/usr/bin/env bats
# t/jobd-abuse.bats: the job daemon under abuse: slow clients (t/slowloris.py: silent
# connections, trickled TLS handshakes, half-finished handshakes, trickled request
# heads) from the same loopback address as the legitimate clients, and a deeply nested
# job document. A cheap daemon (legion-master with a stand-in Spark) on 127.0.19.1 and
# a heartbeating worker agent (legion-idle) on 127.0.19.2. No timing targets here (those
# are in bench/abuse.sh): only bounds far from what a working daemon needs.

load test_helper
load jobd_helper

setup_file() {
	jd_env
	for h in legion-master legion-jobd legion-idle; do
		[ -x "$HELPERS/$h" ] || {
			echo "missing $HELPERS/$h (make build)" >&2
			return 1
		}
	done
	export JD=$BATS_FILE_TMPDIR
	export JD_ADDR=127.0.19.1 JD_NAME=master.legion-0abu5e.legion
	JD_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	export JD_TOKEN
	printf 'Authorization: Bearer %s\n' "$JD_TOKEN" >"$JD/auth.hdr"
	mkdir -p "$JD/fakespark/bin"
	printf '#!/bin/sh\nwhile :; do sleep 1; done\n' >"$JD/fakespark/bin/spark-class"
	cp "$JD/fakespark/bin/spark-class" "$JD/fake-worker"
	chmod +x "$JD/fakespark/bin/spark-class" "$JD/fake-worker"
	LEGION_HOST=$JD_ADDR LEGION_TOKEN=$JD_TOKEN LEGION_SPARK_SECRET=spark-abuse \
		LEGION_TLS_NAME=$JD_NAME SPARK_HOME=$JD/fakespark \
		bg_start jobd legion-master -i 600 -d "$JD/m"
	wait_for -t 20 test -s "$JD/m/tls.crt"
	wait_for -t 30 healthy
}

teardown_file() {
	bg_stop attack
	bg_stop idle1
	bg_stop jobd
}

teardown() {
	bg_stop attack
}

healthy() {
	[ "$(api GET /v1/health 2>/dev/null | tail -n 1)" = 200 ]
}

# attack CONNS SECS MODES [GAP]: t/slowloris.py in the background, status in $JD/attack.json.
attack() {
	rm -f "$JD/attack.json"
	bg_start attack python3 "$ROOT/t/slowloris.py" --host "$JD_ADDR" --name "$JD_NAME" \
		--conns "$1" --secs "$2" --modes "$3" --gap "${4:-1}" --status "$JD/attack.json"
}

# held N: the attacker holds at least N connections.
held() {
	[ -s "$JD/attack.json" ] && jq -e ".held >= $1" "$JD/attack.json" >/dev/null
}

# health_ok: one health check with the token, answered within 5 s.
health_ok() {
	local out
	out=$(curl -sS --max-time 5 --cacert "$JD/m/tls.crt" --resolve "$JD_NAME:7090:$JD_ADDR" \
		-H @"$JD/auth.hdr" -w '\n%{http_code} %{time_total}' "https://$JD_NAME:7090/v1/health" 2>&1) || {
		echo "health check failed: $out"
		return 1
	}
	echo "health: ${out//$'\n'/ }"
	[ "${out##*$'\n'}" != "${out##*$'\n'200 }" ]
}

@test "connections that trickle their TLS handshake or request head are closed about 10 s after accept" {
	local mode
	for mode in trickle head; do
		# one byte a second: a whole ClientHello would take minutes, a head over an hour
		attack 10 30 $mode 1
		wait_for -t 10 held 10
		closed() { jq -e '.closed >= 10' "$JD/attack.json" >/dev/null; }
		wait_for -t 25 closed
		bg_stop attack
		jq -c . "$JD/attack.json"
		jq -e '.lives | length >= 10 and max < 16' "$JD/attack.json"
	done
	bg_alive jobd
}

@test "with 300 slow connections held open, health checks and a worker's heartbeats get through" {
	worker_env() {
		export LEGION_WORKER_NAME=idle1 LEGION_HOST=127.0.19.2 LEGION_MASTER=$JD_ADDR
		export LEGION_TLS_CERT=$(cat "$JD/m/tls.crt") LEGION_TLS_NAME=$JD_NAME LEGION_TOKEN=$JD_TOKEN
	}
	(
		worker_env
		# heartbeats every second; stops itself after 8 s without an answer
		bg_start idle1 legion-idle -n 1 -u 8 -i 0 -w - "$JD/fake-worker" idle1
	)
	registered() { grep -q "worker idle1 registered" "$JD/jobd.err"; }
	wait_for -t 20 registered
	attack 300 60 silent,trickle,half,head 2
	wait_for -t 30 held 300
	local fails=0 i
	for i in $(seq 15); do
		health_ok || fails=$((fails + 1))
		sleep 1
	done
	jq -c '{held, opened, closed, failed}' "$JD/attack.json"
	echo "failed health checks: $fails of 15"
	[ "$fails" -eq 0 ]
	run --separate-stderr api GET /v1/status
	[ "${lines[1]}" = 200 ]
	bg_alive idle1 || {
		cat "$JD/idle1.err"
		false
	}
	bg_alive jobd
	bg_stop attack
	bg_stop idle1
}

@test "a deeply nested job document gets 400 at once, and the daemon stays responsive" {
	python3 -c 'import sys
n = 5 << 20
sys.stdout.write("{\"app\":\"x.py\",\"appData\":\"cHJpbnQoMSkK\",\"conf\":" + "[" * n + "]" * n + "}")' >"$BATS_TEST_TMPDIR/deep.json"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/deep.json")" -gt $((10 << 20)) ]
	run --separate-stderr api POST /v1/jobs --max-time 20 --data-binary @"$BATS_TEST_TMPDIR/deep.json"
	echo "$output $stderr"
	[ "${lines[1]}" = 400 ]
	echo "${lines[0]}" | jq -e '.error.code == "BadJson" and (.error.message | test("nest"))'
	# 64 levels are allowed (the document then fails for what it is), 65 are not
	body() { python3 -c 'import sys; d = int(sys.argv[1]); print("{\"app\":\"x.py\",\"appData\":\"cHJpbnQoMSkK\",\"conf\":" + "[" * (d - 1) + "]" * (d - 1) + "}")' "$1"; }
	run --separate-stderr api POST /v1/jobs --data-binary "$(body 64)"
	echo "$output"
	[ "${lines[1]}" = 400 ]
	echo "${lines[0]}" | jq -e '(.error.message | test("nest")) | not'
	run --separate-stderr api POST /v1/jobs --data-binary "$(body 65)"
	[ "${lines[1]}" = 400 ]
	echo "${lines[0]}" | jq -e '.error.code == "BadJson" and (.error.message | test("nest"))'
	run --separate-stderr curl -sS --max-time 5 --cacert "$JD/m/tls.crt" --resolve "$JD_NAME:7090:$JD_ADDR" \
		-H @"$JD/auth.hdr" "https://$JD_NAME:7090/v1/health"
	[ "$(jq -r .ok <<<"$output")" = true ]
}
