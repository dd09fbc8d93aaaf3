#!/usr/bin/env bash
# bench/abuse.sh: the job API under a slow-client attack. A cheap legion-jobd (a
# stand-in Spark) on 127.0.29.1 and a heartbeating worker agent (legion-idle, every 5 s,
# stops after 30 s without an answer, as on a cluster); t/slowloris.py holds CONNS
# connections (silent, trickled ClientHellos, half-finished handshakes, trickled heads,
# from the same loopback address) for SECS seconds while a legitimate client asks
# GET /v1/health with the token every 0.25 s (curl, pinned certificate). Prints a
# Markdown report: the share of health checks answered within 1 s, the slowest, and
# whether the worker and the daemon are still there. Target (issue 9): 1,000
# connections for 2 minutes, 100% within 1 s, no worker stops.
#   bench/abuse.sh [CONNS [SECS]]   (defaults 1000 120)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONNS=${1:-1000} SECS=${2:-120}
ADDR=127.0.29.1 NAME=master.legion-bench.legion
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${pids[@]}"; do pkill -KILL -s "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
export PATH=$ROOT/helpers:$PATH
TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$tmp/spark/bin"
printf '#!/bin/sh\nwhile :; do sleep 1; done\n' >"$tmp/spark/bin/spark-class"
cp "$tmp/spark/bin/spark-class" "$tmp/worker"
chmod +x "$tmp/spark/bin/spark-class" "$tmp/worker"

LEGION_HOST=$ADDR LEGION_TOKEN=$TOKEN LEGION_SPARK_SECRET=bench LEGION_TLS_NAME=$NAME \
	SPARK_HOME=$tmp/spark setsid legion-master -i 3600 -d "$tmp/m" >"$tmp/jobd.out" 2>"$tmp/jobd.err" &
pids+=($!)
jobd=$!
for _ in $(seq 200); do [ -s "$tmp/m/tls.crt" ] && break; sleep 0.1; done
health() { # prints "CODE SECONDS"
	curl -sS -o /dev/null --max-time 5 --cacert "$tmp/m/tls.crt" --resolve "$NAME:7090:$ADDR" \
		-H "Authorization: Bearer $TOKEN" -w '%{http_code} %{time_total}\n' \
		"https://$NAME:7090/v1/health" 2>/dev/null || echo "000 5"
}
for _ in $(seq 100); do [ "$(health | cut -d' ' -f1)" = 200 ] && break; sleep 0.1; done

LEGION_WORKER_NAME=w1 LEGION_HOST=127.0.29.2 LEGION_MASTER=$ADDR LEGION_TLS_NAME=$NAME \
	LEGION_TLS_CERT=$(cat "$tmp/m/tls.crt") LEGION_TOKEN=$TOKEN \
	setsid legion-idle -n 5 -u 30 -i 0 -w - "$tmp/worker" w1 >"$tmp/idle.out" 2>"$tmp/idle.err" &
pids+=($!)
idle=$!
sleep 2

python3 t/slowloris.py --host "$ADDR" --name "$NAME" --conns "$CONNS" --secs "$((SECS + 15))" \
	--gap 2 --status "$tmp/attack.json" >/dev/null 2>"$tmp/attack.err" &
pids+=($!)
held() { [ -s "$tmp/attack.json" ] && jq -e ".held >= $1" "$tmp/attack.json" >/dev/null; }
for _ in $(seq 300); do held $((CONNS * 9 / 10)) && break; sleep 0.1; done
end=$((SECONDS + SECS))
: >"$tmp/checks"
while [ "$SECONDS" -lt "$end" ]; do
	health >>"$tmp/checks"
	jq -r .held "$tmp/attack.json" >>"$tmp/held"
	sleep 0.25
done
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$(pgrep -s "$jobd" -x legion-jobd)/status")
alive() { kill -0 "$1" 2>/dev/null && echo yes || echo no; }

echo "## Job API under a slow-client attack: $CONNS connections for ${SECS} s"
echo
awk -v conns="$CONNS" -v secs="$SECS" '
	{ n++; if ($1 == 200 && $2 < 1) ok++; if ($2 > max) max = $2; sum += $2 }
	END {
		printf "| health checks | answered 200 within 1 s | share | mean s | slowest s |\n"
		printf "| --- | --- | --- | --- | --- |\n"
		printf "| %d | %d | %.1f%% | %.3f | %.3f |\n", n, ok, 100 * ok / n, sum / n, max
	}' "$tmp/checks"
echo
sort -n "$tmp/held" | awk '{ a[NR] = $1 } END { printf "Attacker connections held while measuring: min %d, median %d, max %d. ", a[1], a[int((NR + 1) / 2)], a[NR] }'
jq -r '"Attacker: \(.opened) connections opened, \(.closed) closed by the daemon."' "$tmp/attack.json"
echo
echo "legion-jobd VmRSS under attack: ${rss} kB. Worker agent still running: $(alive "$idle"). Daemon still running: $(alive "$jobd")."
grep -h "stopping" "$tmp/idle.err" || true
