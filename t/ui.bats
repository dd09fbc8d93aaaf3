#!/usr/bin/env bats
# t/ui.bats: `legion ui`, Spark's web UIs for the cluster's owner. One local cluster
# (deploy-master) runs a PySpark job that waits on a file while `legion ui` serves its
# UIs on 127.0.0.1; the tests look at them with curl and with a real browser (Debian's
# chromium, headless), and at the job API's /v1/ui/ without the token. The job ends and
# the cluster is deleted in teardown_file.

load test_helper

setup_file() {
	[ -x "$ROOT/helpers/legion-jobd" ] || return 0
	[ -d "$LEGION_CACHE_VENV" ] || return 0
	export UI_HOME=$BATS_FILE_TMPDIR/legion-home UI_DIR=$BATS_FILE_TMPDIR
	export LEGION_HOME=$UI_HOME
	cd "$UI_DIR"
	cat >busy.py <<-'EOF'
		import os, sys, time
		from pyspark.sql import SparkSession
		spark = SparkSession.builder.appName("legion-ui-test").getOrCreate()
		stop = sys.argv[1]
		def wait(x):
		    end = time.time() + 900
		    while not os.path.exists(stop) and time.time() < end:
		        time.sleep(0.2)
		    return x
		print("busy", flush=True)
		print("count", spark.sparkContext.parallelize(range(2), 2).map(wait).count(), flush=True)
	EOF
	legion deploy-master --idle-timeout 900 >master.json 2>master.err
	UI_CLUSTER=$(jq -r .cluster master.json)
	UI_IP=$(jq -r .master.ip master.json)
	export UI_CLUSTER UI_IP
	legion submit --master "$UI_CLUSTER" --num-executors 1 --executor-memory 512m --detach \
		busy.py "$UI_DIR/stop" >job.json 2>job.err
	# legion ui in its own session, so that teardown can stop it and all it started
	(setsid legion ui "$UI_CLUSTER" >ui.out 2>ui.err </dev/null & echo $! >ui.pid) 3>&-
	wait_for -t 20 test -s ui.out
	UI_URL=$(cat ui.out)
	UI_URL=${UI_URL%/}
	export UI_URL
	# the driver's UI answers once the job's SparkContext is up
	WAIT_FOR_TIMEOUT=180 wait_for curl -sf -o /dev/null "$UI_URL/v1/ui/driver/jobs/"
	# and the master lists the app (it registers a moment after its UI is up)
	app_listed() { curl -sf "$UI_URL/v1/ui/master/json/" | jq -e '.activeapps | length == 1'; }
	wait_for -t 60 app_listed
	# and its job runs (once its executor registered)
	job_active() { curl -sf "$UI_URL/v1/ui/driver/jobs/" | grep -q 'Active Jobs (1)'; }
	wait_for -t 120 job_active
}

teardown_file() {
	[ -n "${UI_DIR:-}" ] || return 0
	export LEGION_HOME=$UI_HOME
	touch "$UI_DIR/stop"
	[ ! -s "$UI_DIR/ui.pid" ] || kill -INT "$(cat "$UI_DIR/ui.pid")" 2>/dev/null || true
	[ -z "${UI_CLUSTER:-}" ] || legion delete "$UI_CLUSTER" >/dev/null 2>&1 || true
}

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	[ -n "${UI_URL:-}" ] || {
		tail -20 "$UI_DIR"/*.err >&2
		false
	}
	export LEGION_HOME=$UI_HOME
	cd "$BATS_TEST_TMPDIR"
}

# An answer's status and Location through the proxy: "CODE LOCATION".
head_of() {
	curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$@"
}

# The job API's /v1/ui/ the way the CLI reaches it: pinned certificate, the master's
# address for the certificate's name; the curl arguments (a token, or none) follow.
job_api() {
	local path=$1 name
	shift
	jq -r .cert "$UI_HOME/clusters/$UI_CLUSTER.json" >cert.pem
	name=$(jq -r .tlsName "$UI_HOME/clusters/$UI_CLUSTER.json")
	curl -s --cacert cert.pem --resolve "$name:7090:$UI_IP" "$@" "https://$name:7090$path"
}

token_header() {
	printf 'Authorization: Bearer %s\n' "$(jq -r .token "$UI_HOME/clusters/$UI_CLUSTER.json")" >auth.hdr
}

@test "legion ui prints its URL on stdout, a line for people on stderr, and listens on 127.0.0.1 only" {
	[[ $(cat "$UI_DIR/ui.out") =~ ^http://127\.0\.0\.1:[0-9]+/$ ]]
	[ "$(wc -l <"$UI_DIR/ui.out")" -eq 1 ]
	grep -q "Spark UIs of $UI_CLUSTER at $UI_URL/.*Ctrl-C" "$UI_DIR/ui.err"
	local port=${UI_URL##*:}
	run ss -ltnH "sport = :$port"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(awk '{print $4}' <<<"$output")" = "127.0.0.1:$port" ]
	# another loopback address of this machine does not reach it
	run curl -s -o /dev/null --max-time 5 "http://127.0.0.2:$port/"
	[ "$status" -eq 7 ] # could not connect
}

@test "the master's page, the running driver's jobs page and a worker's page, through legion ui" {
	[ "$(head_of "$UI_URL/")" = "302 $UI_URL/v1/ui/master/" ]
	run curl -sf "$UI_URL/v1/ui/master/"
	[ "$status" -eq 0 ]
	[[ $output == *"Spark Master at spark://"* ]]
	[[ $output == *">legion-ui-test</a>"* ]] # the running app, linked
	# the app's link on the master's page stays under the proxy (Spark's reverse proxy)
	[[ $output =~ href=\"/v1/ui/master/proxy/app-[0-9-]+\" ]]

	# the driver's UI: / redirects to its jobs page, kept under /v1/ui/driver
	[ "$(head_of "$UI_URL/v1/ui/driver/")" = "302 $UI_URL/v1/ui/driver/jobs/" ]
	run curl -sf "$UI_URL/v1/ui/driver/jobs/"
	[ "$status" -eq 0 ]
	[[ $output == *"<title>legion-ui-test - Spark Jobs</title>"* ]]
	[[ $output == *"Active Jobs (1)"* ]]
	# and through the master's reverse proxy, where its own links point
	local app
	app=$(curl -sf "$UI_URL/v1/ui/master/json/" | jq -r '.activeapps[0].id')
	[[ $app == app-* ]]
	run curl -sfL "$UI_URL/v1/ui/master/proxy/$app"
	[ "$status" -eq 0 ]
	[[ $output == *"<title>legion-ui-test - Spark Jobs</title>"* ]]

	# a worker's page, by the worker id the master's page shows
	local w
	w=$(curl -sf "$UI_URL/v1/ui/master/json/" | jq -r '.workers[0].id')
	[[ $w == worker-* ]]
	run curl -sf "$UI_URL/v1/ui/worker/$w/"
	[ "$status" -eq 0 ]
	[[ $output == *"Spark Worker at"* ]]
	[[ $output == *"$app"* ]] # the executor it runs for the app
	run curl -sf "$UI_URL/v1/ui/master/proxy/$w/"
	[ "$status" -eq 0 ]
	[[ $output == *"Spark Worker at"* ]]
	# the executor's stderr, from the worker's log page
	run curl -sf "$UI_URL/v1/ui/master/proxy/$w/logPage/?appId=$app&executorId=0&logType=stderr"
	[ "$status" -eq 0 ]
	[[ $output == *"CoarseGrainedExecutorBackend"* ]]

	# what does not exist says so
	run curl -s -w ' %{http_code}' "$UI_URL/v1/ui/worker/worker-nope/"
	[[ $output == *'"WorkerNotFound"'*' 404' ]]
	run curl -s -w ' %{http_code}' "$UI_URL/elsewhere"
	[[ $output == *' 404' ]]
}

@test "the UIs are read only: a POST is refused by legion ui and by the job API, the app runs on" {
	local app
	app=$(curl -sf "$UI_URL/v1/ui/master/json/" | jq -r '.activeapps[0].id')
	run curl -s -o /dev/null -w '%{http_code}' -X POST \
		"$UI_URL/v1/ui/master/app/kill/?id=$app&terminate=true"
	[ "$output" = 405 ]
	token_header
	run job_api "/v1/ui/master/app/kill/?id=$app&terminate=true" -H @auth.hdr -X POST \
		-o /dev/null -w '%{http_code}'
	[ "$output" = 405 ]
	[ "$(curl -sf "$UI_URL/v1/ui/master/json/" | jq -r '.activeapps[0].id')" = "$app" ]
}

@test "the job API's /v1/ui/ answers 401 without the cluster token, and the page with it" {
	run job_api /v1/ui/master/ -o /dev/null -w '%{http_code}'
	[ "$output" = 401 ]
	run job_api /v1/ui/driver/jobs/ -H 'Authorization: Bearer 0123456789abcdef0123456789abcdef' \
		-o /dev/null -w '%{http_code}'
	[ "$output" = 401 ]
	token_header
	run job_api /v1/ui/master/ -H @auth.hdr
	[[ $output == *"Spark Master at spark://"* ]]
}

@test "legion ui answers only requests for itself: another Host (DNS rebinding) gets 403" {
	run curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example:80' "$UI_URL/v1/ui/master/"
	[ "$output" = 403 ]
	run curl -s -o /dev/null -w '%{http_code}' -H "Host: localhost:${UI_URL##*:}" "$UI_URL/v1/ui/master/"
	[ "$output" = 200 ]
}

# png_check FILE: prints "WIDTHxHEIGHT INK ORANGE": the share of pixels that are not
# near-white, and the count of pixels in the Spark logo's orange (Python stdlib only).
png_check() {
	python3 - "$1" <<-'EOF'
		import struct, sys, zlib
		data = open(sys.argv[1], "rb").read()
		assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
		pos, idat = 8, b""
		while pos < len(data):
		    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
		    body = data[pos + 8:pos + 8 + n]
		    if kind == b"IHDR":
		        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
		    elif kind == b"IDAT":
		        idat += body
		    pos += 12 + n
		assert depth == 8 and ctype in (2, 6), "unexpected PNG format"
		bpp = 3 if ctype == 2 else 4
		raw, stride = zlib.decompress(idat), w * bpp
		prev, ink, orange, i = bytearray(stride), 0, 0, 0
		for y in range(h):
		    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
		    i += 1 + stride
		    for x in range(stride):
		        a = line[x - bpp] if x >= bpp else 0
		        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
		        if f == 1: line[x] = (line[x] + a) & 255
		        elif f == 2: line[x] = (line[x] + b) & 255
		        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
		        elif f == 4:
		            p = a + b - c
		            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
		            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
		    for x in range(0, stride, bpp):
		        r, g, bl = line[x], line[x + 1], line[x + 2]
		        ink += r < 235 or g < 235 or bl < 235
		        orange += r > 190 and 60 < g < 150 and bl < 90
		    prev = line
		print("%dx%d %.3f %d" % (w, h, ink / (w * h), orange))
	EOF
}

# every href and src of a dumped DOM, made absolute against the page's URL
links_of() {
	python3 - "$1" "$2" <<-'EOF'
		import sys
		from html.parser import HTMLParser
		from urllib.parse import urljoin
		page, out = sys.argv[2], set()
		class P(HTMLParser):
		    def handle_starttag(self, tag, attrs):
		        for k, v in attrs:
		            if k in ("href", "src") and v and not v.startswith(("#", "javascript:")):
		                out.add(urljoin(page, v))
		P().feed(open(sys.argv[1]).read())
		print("\n".join(sorted(out)))
	EOF
}

# chromium headless on a page: NAME.png (screenshot) and NAME.html (the DOM after load).
# Nothing but 127.0.0.1 resolves, no proxy, none of Chromium's own background traffic.
browse() {
	local name=$1 url=$2
	timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--no-default-browser-check --disable-background-networking --disable-component-update \
		--disable-sync --disable-default-apps --disable-extensions --no-proxy-server \
		--host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1' \
		--user-data-dir="$BATS_TEST_TMPDIR/chromium" --window-size=1280,900 \
		--screenshot="$BATS_TEST_TMPDIR/$name.png" --dump-dom "$url" >"$name.html" 2>"$name.err"
}

# A page a browser loaded through the proxy (following its redirects): the text expected, no browser error, a
# screenshot with a page on it (the logo's orange: the image came through), and every
# link and stylesheet of it answering 200 through the proxy (redirects followed, never
# leaving it).
check_page() {
	local name=$1 url=$2 text=$3 final=$4 # final: where url's redirects end
	browse "$name" "$url" || {
		tail -5 "$name.err"
		false
	}
	grep -qF "$text" "$name.html"
	! grep -q 'ERR_\|neterror\|This site can.t be reached' "$name.html"
	read -r size ink orange < <(png_check "$name.png")
	echo "$name: $size, ink $ink, orange pixels $orange"
	[ "$size" = 1280x900 ]
	awk -v i="$ink" 'BEGIN { exit !(i > 0.005) }'
	[ "$orange" -gt 50 ]
	links_of "$name.html" "$final" >"$name.links"
	[ "$(grep -c 'static/.*\.css$' "$name.links")" -ge 2 ]
	local link out n=0
	while read -r link; do
		[[ $link == "$UI_URL/"* ]] || {
			echo "a link leaves the proxy: $link"
			false
		}
		out=$(curl -s -L --max-redirs 5 -o /dev/null -w '%{http_code} %{url_effective}' "$link")
		[ "${out%% *}" = 200 ] || {
			echo "$link -> $out"
			false
		}
		[[ ${out#* } == "$UI_URL/"* ]]
		n=$((n + 1))
	done <"$name.links"
	echo "$name: $n links, all 200"
	[ "$n" -ge 10 ]
}

@test "a real browser (headless Chromium) shows the master's and the driver's pages; every link and stylesheet resolves through the proxy" {
	command -v chromium >/dev/null || skip "no chromium (make check installs it)"
	check_page master "$UI_URL/" "Spark Master at spark://" "$UI_URL/v1/ui/master/"
	grep -q 'legion-ui-test' master.html
	check_page driver "$UI_URL/v1/ui/driver/" "Spark Jobs" "$UI_URL/v1/ui/driver/jobs/"
	grep -q 'legion-ui-test' driver.html
}

@test "Ctrl-C stops legion ui with exit 130 and closes its port; --port picks the port" {
	local port
	port=$(free_port)
	legion ui "$UI_CLUSTER" --port "$port" >ui.out 2>ui.err &
	local pid=$!
	wait_for -t 20 test -s ui.out
	[ "$(cat ui.out)" = "http://127.0.0.1:$port/" ]
	[ "$(head_of "http://127.0.0.1:$port/v1/ui/master/")" = "200 " ]
	# the same port twice: one line naming it, 69
	run --separate-stderr legion ui "$UI_CLUSTER" --port "$port"
	[ "$status" -eq 69 ]
	[[ $stderr == *"--port $port: unable to listen on 127.0.0.1:$port"* ]]
	kill -INT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ]
	run curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/"
	[ "$status" -eq 7 ]
}

@test "legion ui: no cluster, a bad --port, an unknown cluster" {
	run --separate-stderr legion ui
	[ "$status" -eq 64 ]
	[[ $stderr == *"no cluster: give CLUSTER"* ]]
	run --separate-stderr legion ui "$UI_CLUSTER" --port 70000
	[ "$status" -eq 64 ]
	[[ $stderr == *"--port: '70000' is not a port from 1 to 65535"* ]]
	run --separate-stderr legion ui legion-00000000
	[ "$status" -eq 78 ]
	[[ $stderr == *"no credentials for cluster legion-00000000 here"* ]]
	[ -z "$output" ]
}
