#!/usr/bin/env bats
# t/image-engine.bats: `make image` builds the Spark image with whichever of podman or
# docker is installed, tagged with legion's version. The engines here are stand-ins
# (test fixtures that record what they were asked), on a PATH that holds nothing else
# but the tools mk/image.sh needs; t/image.bats builds real images with podman.

load test_helper

setup() {
	VERSION=$(sed -n 's/^#define LEGION_VERSION "\(.*\)"/\1/p' "$ROOT/legion.h")
	BIN=$BATS_TEST_TMPDIR/bin
	CALLS=$BATS_TEST_TMPDIR/calls
	mkdir -p "$BIN"
	local t
	for t in sh sed grep cat id tail mktemp python3 make dirname tee cmp rm mv env stat; do
		ln -s "$(command -v "$t")" "$BIN/$t"
	done
	export CALLS TMPDIR=$BATS_TEST_TMPDIR
}

# stand_in NAME: a fake engine on $BIN that records each call; `image exists` says yes,
# `info` fails when $BATS_TEST_TMPDIR/NAME-down exists, `build` succeeds.
stand_in() {
	cat >"$BIN/$1" <<'EOF'
#!/bin/sh
# TEST FIXTURE: a stand-in container engine; records its arguments, builds nothing.
echo "${0##*/} $*" >>"$CALLS"
case $1 in
info) [ ! -e "$CALLS-${0##*/}-down" ] ;;
*) exit 0 ;;
esac
EOF
	chmod +x "$BIN/$1"
}

builds() { # the engine build calls, one a line
	grep -E '^(podman|docker) build ' "$CALLS" || true
}

@test "make image with podman alone: podman builds legion/spark:VERSION" {
	stand_in podman
	run --separate-stderr env PATH="$BIN" make -s -C "$ROOT" image
	[ "$status" -eq 0 ]
	[ "$output" = "legion/spark:$VERSION" ]
	[ "$(builds | wc -l)" -eq 1 ]
	[[ $(builds) == "podman build --network host --build-arg BASE=local/debian:bookworm "*" --target spark -t legion/spark:$VERSION ." ]]
	[[ $stderr == *"LEGION_IMAGE=legion/spark:$VERSION"* ]]
}

@test "make image with docker alone: docker builds it FROM debian:bookworm-slim; IMAGE_REPO names it for a registry" {
	stand_in docker
	run --separate-stderr env PATH="$BIN" make -s -C "$ROOT" image IMAGE_REPO=myreg.azurecr.io/legion/spark
	[ "$status" -eq 0 ]
	[ "$output" = "myreg.azurecr.io/legion/spark:$VERSION" ]
	[[ $(builds) == "docker build --network host --build-arg BASE=debian:bookworm-slim "*" --target spark -t myreg.azurecr.io/legion/spark:$VERSION ." ]]
	[[ $(builds) != *" -v "* ]] # docker build mounts nothing
}

@test "make image with both: podman first; LEGION_IMAGE_ENGINE=docker picks docker" {
	stand_in podman
	stand_in docker
	run --separate-stderr env PATH="$BIN" make -s -C "$ROOT" image
	[ "$status" -eq 0 ]
	[[ $(builds) == "podman build "* ]]
	: >"$CALLS"
	run --separate-stderr env PATH="$BIN" LEGION_IMAGE_ENGINE=docker make -s -C "$ROOT" image
	[ "$status" -eq 0 ]
	[[ $(builds) == "docker build "* ]]
}

@test "no engine, or docker's engine down: exit 69 with one line saying what to do" {
	run --separate-stderr env PATH="$BIN" sh "$ROOT/mk/image.sh" image
	[ "$status" -eq 69 ]
	[ "$stderr" = "image: fatal: neither podman nor docker is installed: install one ('mk/image.sh setup' installs podman)" ]
	stand_in docker
	touch "$CALLS-docker-down"
	run --separate-stderr env PATH="$BIN" sh "$ROOT/mk/image.sh" image
	[ "$status" -eq 69 ]
	[ "$stderr" = "image: fatal: docker is installed but its engine does not answer ('docker info'): start it, or install podman" ]
	[ -z "$(builds)" ]
}
