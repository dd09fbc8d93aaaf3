"""fake_aci_procs: a cgroup-like record of every process one container of t/fake-azure
started, so that stopping or deleting the container ends all of them, as ACI does, not
only its main process group: a Spark JVM that made its own session, or a daemon that
forked twice and was handed to init, goes too.

A process belongs to a container when any of these holds (Linux /proc):
- its session or process group is the container's (the main process is a session leader);
- its parent belongs (learnt while the parent lives: refresh() is called periodically);
- its environment carries the container's mark (MARK_VAR=<random>), which children
  inherit unless they clear their environment.
Leaves out processes that clear their environment after leaving the session of a parent
that died before a refresh saw them (real cgroups have no such gap). Standard library only.
"""

import os
import secrets
import signal
import time

MARK_VAR = "FAKE_AZURE_CONTAINER"


def new_mark():
    return secrets.token_hex(12)


def _stat(pid):
    """(ppid, pgid, sid, starttime, state) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    try:
        return int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]), rest[0].decode()
    except (IndexError, ValueError):
        return None


def _has_mark(pid, needle):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


def _scan():
    out = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            if pid == me:
                continue
            st = _stat(pid)
            if st is not None:
                out[pid] = st
    return out


class Tracker:
    """The processes of one container whose main process is pid (a session leader)."""

    def __init__(self, pid, mark):
        self.root = pid
        self.needle = ("%s=%s" % (MARK_VAR, mark)).encode()
        st = _stat(pid)
        self.known = {pid: st[3]} if st else {}

    def _members(self, with_environ):
        procs = _scan()
        # forget pids that were reused by someone else
        self.known = {p: t for p, t in self.known.items() if p in procs and procs[p][3] == t}
        members = set(self.known)
        for pid, (ppid, pgid, sid, start, state) in procs.items():
            if sid == self.root or pgid == self.root:
                members.add(pid)
            elif with_environ and pid not in members and _has_mark(pid, self.needle):
                members.add(pid)
        grew = True
        while grew:  # children of members, to any depth
            grew = False
            for pid, st in procs.items():
                if pid not in members and st[0] in members:
                    members.add(pid)
                    grew = True
        for pid in members:
            self.known[pid] = procs[pid][3]
        return {p: procs[p][4] for p in members}

    def refresh(self):
        """Learns the current members (cheap: no environment reads)."""
        self._members(False)

    def pids(self):
        """Live members (zombies left out), every rule applied."""
        return sorted(p for p, state in self._members(True).items() if state != "Z")

    def signal(self, sig):
        """Sends sig to every live member; returns how many there were."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        return len(pids)

    def kill_all(self, wait=5.0):
        """SIGKILL to every member until none is left (or wait seconds pass)."""
        deadline = time.monotonic() + wait
        while self.signal(signal.SIGKILL) and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_gone(self, secs):
        """True when no member is left within secs."""
        deadline = time.monotonic() + secs
        while self.pids():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
