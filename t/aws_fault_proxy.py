"""t/aws_fault_proxy.py PORT UPSTREAM TARGET COUNT LOG: an HTTP proxy on 127.0.0.1:PORT
in front of moto (UPSTREAM) for t/fargate.bats. The first COUNT requests whose
X-Amz-Target ends with ".TARGET" get AWS's throttling answer (HTTP 400,
ThrottlingException); everything else goes to UPSTREAM unchanged, Host header included,
so moto's signature check still holds. Each request appends "throttled TARGET" or
"passed TARGET" to LOG. Leaves out streaming and keep-alive tricks: one request, one
answer."""
import http.client
import http.server
import sys
import urllib.parse

port, upstream, target, count, log = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                      int(sys.argv[4]), sys.argv[5])
up = urllib.parse.urlsplit(upstream)
left = [count]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        op = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        with open(log, "a") as f:
            throttle = op == target and left[0] > 0
            f.write("%s %s\n" % ("throttled" if throttle else "passed", op))
        if throttle:
            left[0] -= 1
            out = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        conn.request("POST", self.path, body, dict(self.headers.items()))
        r = conn.getresponse()
        out = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                 "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        conn.close()


http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
