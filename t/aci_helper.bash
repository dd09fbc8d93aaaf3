# t/aci_helper.bash: what t/aci.bats uses to drive `legion --backend aci` against
# t/fake-azure in exec mode. Leaves out Spark: the master and worker commands are
# stand-ins, written as test fixtures of the CLI's ARM path.
#
#   aci_stubs DIR          writes DIR/legion-master and DIR/legion-worker (python3); put DIR
#                          first on PATH *before* fake_azure_start so the emulator runs them
#   $ACI_STUB_DIR/master-health: when present, the JSON the master's /v1/health answers
#   stub_mode ROLE MODE    how the next stand-ins of ROLE (master|worker) behave:
#                          master: serve (default) | silent (runs, never answers) | exit
#                          worker: register (default) | silent (runs, never registers)
#   fa_groups              names of the emulator's container groups, one a line
#   fa_log_jq FILTER       jq -c FILTER over each line of the request log (since mark_log)
#   mark_log               later fa_log_jq calls only see requests after this point
#   bg_legion OUT ARGS...  runs `legion ARGS` in the background, stdout/stderr in OUT.{out,err},
#                          pid in $BG_PID; bg_wait sets BG_RC to its exit status (deadline
#                          60 s; call it directly, not in $(...): only this shell can wait)
#
# The stand-ins take their orders from files in $ACI_STUB_DIR (the emulator hands its own
# environment to the processes it starts), and record what they got there.

# aci_emulator_start: for setup_file: the stand-ins in $BATS_FILE_TMPDIR/bin, first on
# PATH, their orders in $ACI_STUB_DIR, and the emulator in exec mode running them.
aci_emulator_start() {
	export ACI_STUB_DIR=$BATS_FILE_TMPDIR/ctl
	mkdir -p "$ACI_STUB_DIR"
	aci_stubs "$BATS_FILE_TMPDIR/bin"
	export PATH=$BATS_FILE_TMPDIR/bin:$PATH # the emulator runs the stand-ins from PATH
	fake_azure_start --exec --provision-delay 0.2 --kill-grace 1
}

aci_stubs() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/legion-master" <<'EOF'
#!/usr/bin/env python3
# TEST FIXTURE, not the product: a stand-in for helpers/legion-master that serves just the
# job API the CLI calls (TLS with the cluster's certificate on $CONTAINER_IP:7090, bearer
# LEGION_TOKEN), so t/aci.bats can test legion's ARM lifecycle without Spark.
# A job prints its app name and args; args "sleep=S" and "exit=N" shape it.
import base64, http.server, json, os, socketserver, ssl, sys, threading, time

ctl = os.environ.get("ACI_STUB_DIR", ".")
def mode():
    try:
        return open(os.path.join(ctl, "master-mode")).read().strip()
    except OSError:
        return "serve"
m = mode()
if m == "silent":
    while True:
        time.sleep(60)
if m == "exit":
    print("stub master: told to exit", flush=True)
    sys.exit(3)

token = os.environ["LEGION_TOKEN"]
with open("tls.pem", "w") as f:
    f.write(os.environ["LEGION_TLS_CERT"])
with open("tls.key", "w") as f:
    os.chmod("tls.key", 0o600)
    f.write(os.environ["LEGION_TLS_KEY"])
lock = threading.Lock()
workers, jobs = {}, []

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def send(self, code, doc):
        b = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def authed(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            self.send(401, {"error": {"code": "Unauthorized", "message": "bad token"}})
            return False
        return True
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")
    def do_GET(self):
        if not self.authed():
            return
        p = self.path
        if p == "/v1/health":  # what legion-jobd answers, or what master-health says
            try:
                return self.send(200, json.load(open(os.path.join(ctl, "master-health"))))
            except OSError:
                return self.send(200, {"ok": True, "version": "stub", "api": 1})
        if p == "/v1/status":
            try:  # how long the stand-in claims to have had no job (file master-idle)
                idle = int(open(os.path.join(ctl, "master-idle")).read())
            except (OSError, ValueError):
                idle = 0
            with lock:
                return self.send(200, {"workers": list(workers.values()), "jobs": jobs,
                                       "idleTimeout": int(os.environ.get("LEGION_IDLE_TIMEOUT", "600")),
                                       "idleSeconds": idle})
        if p.startswith("/v1/jobs/") and "/log" in p:
            jid = p.split("/")[3]
            job = next((j for j in jobs if j["id"] == jid), None)
            if not job:
                return self.send(404, {"error": {"code": "NotFound", "message": jid}})
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            def line(d):
                self.wfile.write((json.dumps(d) + "\n").encode())
                self.wfile.flush()
            line({"stream": "stdout", "line": "stub job %s: app=%s args=%s" % (
                jid, job["app"], " ".join(job["args"]))})
            line({"stream": "stderr", "line": "stub job %s: running" % jid})
            code = 0
            job["started"] = int(time.time())  # Unix seconds, as the job API's
            for a in job["args"]:
                if a.startswith("sleep="):
                    time.sleep(float(a[6:]))
                if a.startswith("exit="):
                    code = int(a[5:])
            job["state"] = "SUCCEEDED" if code == 0 else "FAILED"
            job["exitCode"] = code
            job["ended"] = int(time.time())
            return line({"state": job["state"], "exitCode": code})
        self.send(404, {"error": {"code": "NotFound", "message": p}})
    def do_POST(self):
        if not self.authed():
            return
        d = self.body()
        if self.path == "/v1/workers":
            with lock:
                workers[d["name"]] = d
            return self.send(200, {"ok": True, "stop": False})
        if self.path == "/v1/jobs":
            data = base64.b64decode(d.get("appData", ""))
            with lock:
                job = {"id": "job-%d" % (len(jobs) + 1), "name": d.get("name"),
                       "app": d.get("app"), "args": d.get("args", []), "state": "RUNNING",
                       "exitCode": None}
                jobs.append(job)
            with open(os.path.join(ctl, "jobs.jsonl"), "a") as f:
                f.write(json.dumps({"id": job["id"], "app": job["app"], "args": job["args"],
                                    "appBytes": len(data), "conf": d.get("conf")}) + "\n")
            return self.send(201, {"id": job["id"]})
        self.send(404, {"error": {"code": "NotFound", "message": self.path}})
    def do_DELETE(self):
        if not self.authed():
            return
        self.send(200, {"ok": True})

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    def shutdown_request(self, request):
        try:
            request.unwrap()  # close_notify: the CLI treats a bare EOF as a broken stream
        except (OSError, ValueError):
            pass
        request.close()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("tls.pem", "tls.key")
srv = S((os.environ["CONTAINER_IP"], 7090), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("stub master: serving on %s:7090" % os.environ["CONTAINER_IP"], flush=True)
srv.serve_forever()
EOF
	cat >"$dir/legion-worker" <<'EOF'
#!/usr/bin/env python3
# TEST FIXTURE, not the product: a stand-in for helpers/legion-worker that only
# registers with the master's job API (verifying the pinned certificate) and waits.
import json, os, socket, ssl, time

ctl = os.environ.get("ACI_STUB_DIR", ".")
try:
    mode = open(os.path.join(ctl, "worker-mode")).read().strip()
except OSError:
    mode = "register"
name = os.environ["LEGION_WORKER_NAME"]
if mode == "register":
    ctx = ssl.create_default_context(cadata=os.environ["LEGION_TLS_CERT"])
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    body = json.dumps({"name": name, "host": os.environ["CONTAINER_IP"],
                       "cores": int(os.environ["LEGION_WORKER_CORES"]),
                       "memoryMB": int(os.environ["LEGION_WORKER_MEMORY"])}).encode()
    req = (b"POST /v1/workers HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Authorization: Bearer " + os.environ["LEGION_TOKEN"].encode() +
           b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    for _ in range(100):
        try:
            with socket.create_connection((os.environ["LEGION_MASTER"], 7090), 5) as s:
                with ctx.wrap_socket(s, server_hostname=os.environ["LEGION_TLS_NAME"]) as t:
                    t.sendall(req)
                    answer = t.recv(100)
            print("stub worker %s: %s" % (name, answer.split(b"\r\n")[0].decode()), flush=True)
            break
        except OSError as e:
            print("stub worker %s: %s" % (name, e), flush=True)
            time.sleep(0.2)
while True:
    time.sleep(60)
EOF
	chmod +x "$dir/legion-master" "$dir/legion-worker"
}

stub_mode() {
	echo "$2" >"$ACI_STUB_DIR/$1-mode"
}

fa_groups() {
	local doc
	doc=$(fake_azure_groups) || return 1
	jq -r '.value | map(.name)[]' <<<"$doc"
}

no_groups_left() {
	local names
	names=$(fa_groups) || return 1
	[ -z "$names" ]
}

mark_log() {
	LOG_MARK=$(wc -l <"$FAKE_AZURE_LOG")
}

fa_log_jq() {
	tail -n +"$((${LOG_MARK:-0} + 1))" "$FAKE_AZURE_LOG" | jq -c "$1"
}

bg_legion() {
	local out=$1
	shift
	"$LEGION" "$@" >"$out.out" 2>"$out.err" 3>&- &
	BG_PID=$!
}

bg_wait() {
	local i
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	BG_RC=0
	wait "$BG_PID" || BG_RC=$?
}
