#!/usr/bin/env bats
# t/local-addr.bats: the local backend's loopback addresses are claimed machine-wide:
# another LEGION_HOME (or another user) and other programs' listeners are skipped.
# Leaves out the groups themselves (t/local.bats).

load test_helper

setup() {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	[ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null || true
	local h
	for h in "$BATS_TEST_TMPDIR/home-a" "$BATS_TEST_TMPDIR/home-b"; do
		[ -d "$h" ] && LEGION_HOME=$h legion delete "$(cat "$h.id" 2>/dev/null)" >/dev/null 2>&1
	done
	true
}

master_ip() { # LEGION_HOME: the job API address of its one cluster
	jq -r .ip "$1"/clusters/*.json
}

@test "two LEGION_HOMEs and another program's listener never share a loopback address" {
	# the first address a fresh LEGION_HOME would take is held by someone else's server
	python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.1.1.2", 7090)); s.listen(); time.sleep(600)' 3>&- &
	LISTENER=$!
	wait_for -t 10 python3 -c 'import socket; socket.create_connection(("127.1.1.2", 7090), 1)'
	local a=$BATS_TEST_TMPDIR/home-a b=$BATS_TEST_TMPDIR/home-b
	mkdir -m 0700 "$a" "$b"
	run --separate-stderr env LEGION_HOME="$a" "$LEGION" deploy-master --idle-timeout 60
	[ "$status" -eq 0 ]
	jq -r .cluster <<<"$output" >"$a.id"
	run --separate-stderr env LEGION_HOME="$b" "$LEGION" deploy-master --idle-timeout 60
	[ "$status" -eq 0 ]
	jq -r .cluster <<<"$output" >"$b.id"
	local ia ib
	ia=$(master_ip "$a")
	ib=$(master_ip "$b")
	echo "a: $ia b: $ib"
	[ "$ia" != 127.1.1.2 ]
	[ "$ib" != 127.1.1.2 ]
	[ "$ia" != "$ib" ]
}
