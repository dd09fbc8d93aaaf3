#!/usr/bin/env bash
# bench/run.sh: Legion's benchmarks (`make bench`). Prints a Markdown report on stdout;
# BENCHMARKS.md records the results. Targets live here, never in timed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
tmp=$(mktemp -d)
trap 'fake_azure_stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
source t/fake_azure_helper.bash

echo "# Legion benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))"
echo

# 1. size of the stripped static binary (target <= 600 KiB)
size=$(stat -c %s legion)
echo "## Binary size"
echo
echo "| binary | bytes | KiB | target |"
echo "| --- | --- | --- | --- |"
printf '| legion (static, stripped) | %d | %d | <= 600 KiB: %s |\n' "$size" $((size / 1024)) \
	"$([ "$size" -le $((600 * 1024)) ] && echo met || echo MISSED)"
for h in helpers/legion-*; do
	[ -x "$h" ] && case $h in *.c|*.o) ;; *) printf '| %s | %d | %d | |\n' "$h" "$(stat -c %s "$h")" $(($(stat -c %s "$h") / 1024)) ;; esac
done
echo

# 2. start-up (target <= 1 ms), side by side with curl in the same run
echo "## Start-up: \`legion version\` vs \`curl --version\`"
echo
hyperfine -N --warmup 20 --runs 300 --export-markdown "$tmp/start.md" \
	'./legion version' 'curl --version' >/dev/null 2>&1
cat "$tmp/start.md"
echo

# 3. one HTTPS request (a token from the emulator): compiled-in-size CA set vs the
#    whole system bundle, each with the test CA added so the request succeeds.
fake_azure_start --dir "$tmp/fa" >/dev/null
sh mk/roots.sh >/dev/null # the same four roots legion compiles in
cat /usr/share/ca-certificates/mozilla/{DigiCert_Global_Root_G2,DigiCert_Global_Root_CA,Microsoft_RSA_Root_Certificate_Authority_2017,Microsoft_ECC_Root_Certificate_Authority_2017}.crt \
	"$FAKE_AZURE_CA" >"$tmp/roots.pem"
cat /etc/ssl/certs/ca-certificates.crt "$FAKE_AZURE_CA" >"$tmp/bundle.pem"
echo "## One HTTPS request: 4 Azure roots vs the system bundle ($(grep -c BEGIN /etc/ssl/certs/ca-certificates.crt) certificates)"
echo
hyperfine -N --warmup 5 --runs 50 --export-markdown "$tmp/ca.md" \
	-n 'legion auth, 4 roots' "env SSL_CERT_FILE=$tmp/roots.pem ./legion auth" \
	-n 'legion auth, system bundle' "env SSL_CERT_FILE=$tmp/bundle.pem ./legion auth" >/dev/null 2>&1
cat "$tmp/ca.md"
echo
echo "CPU time (user+sys, mean of 50 runs):"
for set in roots bundle; do
	/usr/bin/env time -f '%U %S' -o "$tmp/t.$set" bash -c \
		"for i in \$(seq 50); do SSL_CERT_FILE=$tmp/$set.pem ./legion auth >/dev/null; done"
	awk -v s="$set" '{ printf "- %s: %.2f ms\n", s, ($1 + $2) * 1000 / 50 }' "$tmp/t.$set"
done
echo

# 4. fan-out: 64 worker groups created and deleted with 100 ms added per request
curl -fsS --cacert "$FAKE_AZURE_CA" -X POST -d '{"latency_ms":100}' "$FAKE_AZURE_URL/_fake/faults" >/dev/null
echo "## Fan-out: create + delete 64 groups, 100 ms added latency per ARM request"
echo
echo "| parallel | create ms | delete ms | total ms |"
echo "| --- | --- | --- | --- |"
for p in 16 1; do
	./bench/fanout 64 $p 2>/dev/null | jq -r '"| \(.parallel) | \(.createMs) | \(.deleteMs) | \(.createMs + .deleteMs) |"'
done
echo
echo "Ideal with 16 in flight: 64/16 = 4 rounds each of PUT, GET (provisioned) and DELETE = 1200 ms."
echo

# 5. (local backend) pi.py through legion vs the same cluster by hand
if [ -x helpers/legion-jobd ] && [ -f bench/spark.sh ]; then
	bash bench/spark.sh
fi

# 5b. (local backend) time to result: with and without class archives vs local[2]
if [ -x helpers/legion-jobd ] && [ -f bench/startup.sh ]; then
	[ -f "$HOME/.cache/legion/cds/master.ok" ] || make -s cds >&2
	bash bench/startup.sh
	bash bench/aci.sh "${PROVISION_DELAY:-20}"
fi

# 6. the job API under 1,000 slow connections (issue 9)
if [ -x helpers/legion-jobd ] && command -v python3 >/dev/null; then
	bash bench/abuse.sh "${ABUSE_CONNS:-1000}" "${ABUSE_SECS:-120}"
fi
