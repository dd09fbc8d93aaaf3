#!/bin/sh
# Builds Legion's images (see the Dockerfile and the README's "Images").
#   image  what `make image` runs: the spark image, LEGION_IMAGE_REPO:VERSION (default
#          legion/spark:VERSION, VERSION = legion's), with whichever of podman or docker
#          is installed (podman first; LEGION_IMAGE_ENGINE=podman|docker picks one). With
#          podman the base is made as in `base` when missing; docker pulls
#          debian:bookworm-slim. Exit 69 when neither engine is there or answers.
# The steps below use podman, on a machine with no Docker engine and no registry; each
# is done once:
#   setup  apt-get install podman debootstrap runc; write /etc/containers/containers.conf
#          and storage.conf (only when absent, or when this script wrote them)
#   base   local/debian:bookworm from `debootstrap --variant=minbase`, trimmed like the
#          registry's debian:bookworm-slim (~50 s, once)
#   cli    legion/cli:VERSION    (Dockerfile --target cli; ~2.5 min cold)
#   spark  legion/spark:VERSION  (Dockerfile --target spark; ~1 min more cold), with the
#          Makefile's PYSPARK_VERSION and this machine's pip index and CA bundle
#   all    the four above, in order (the default; seconds when nothing changed)
# A build's output goes to $TMPDIR/legion-image-TARGET.log, its tail to stderr on failure.
# Environment: LEGION_IMAGE_BASE (default local/debian:bookworm), LEGION_IMAGE_MIRROR
# (default http://deb.debian.org/debian), PODMAN_BUILD_FLAGS (extra `podman build` flags).
set -eu
cd "$(dirname "$0")/.."

ENGINE=podman
BASE=${LEGION_IMAGE_BASE:-local/debian:bookworm}
MIRROR=${LEGION_IMAGE_MIRROR:-http://deb.debian.org/debian}
VERSION=$(sed -n 's/^#define LEGION_VERSION "\(.*\)"/\1/p' legion.h)
MARK='# written by legion mk/image.sh'

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

say() { printf 'image: %s\n' "$*" >&2; }

# put FILE: writes stdin to FILE unless FILE exists and is not ours.
put() {
	if [ -f "$1" ] && ! grep -qF "$MARK" "$1"; then
		say "leaving $1 alone (not written by this script)"
		cat >/dev/null
		return 0
	fi
	{ echo "$MARK"; cat; } | $SUDO tee "$1.tmp" >/dev/null
	if cmp -s "$1.tmp" "$1"; then $SUDO rm -f "$1.tmp"; else $SUDO mv "$1.tmp" "$1"; say "wrote $1"; fi
}

setup() {
	missing=
	for c in podman debootstrap runc; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
	if [ -n "$missing" ]; then
		say "apt-get install$missing"
		$SUDO apt-get update -qq
		$SUDO apt-get install -y -qq $missing >/dev/null
	fi
	$SUDO mkdir -p /etc/containers
	# crun fails on hybrid cgroups; raising ulimits above the host's is not permitted.
	put /etc/containers/containers.conf <<-'EOF'
	[containers]
	netns = "host"
	default_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]

	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	EOF
	# overlay needs a filesystem that can carry it (not overlay itself); else vfs.
	driver=overlay
	case $(stat -f -c %T /var/lib 2>/dev/null) in overlayfs | tmpfs | fuseblk) driver=vfs ;; esac
	grep -qw overlay /proc/filesystems || driver=vfs
	put /etc/containers/storage.conf <<-EOF
	[storage]
	driver = "$driver"
	runroot = "/run/containers/storage"
	graphroot = "/var/lib/containers/storage"
	EOF
}

# slim ROOT: makes a debootstrap tree like the registry's debian:SUITE-slim, which the
# Dockerfile's default BASE is: deb822 sources with -updates and -security, no docs,
# man pages or locales from later installs, apt's caches cleaned after each install.
slim() {
	$SUDO rm -f "$1/etc/apt/sources.list"
	$SUDO tee "$1/etc/apt/sources.list.d/debian.sources" >/dev/null <<-EOF
	Types: deb
	URIs: ${MIRROR}
	Suites: $suite $suite-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: ${MIRROR}-security
	Suites: $suite-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	$SUDO tee "$1/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<-'EOF'
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/lintian/*
	path-exclude /usr/share/linda/*
	path-exclude /usr/share/locale/*
	EOF
	$SUDO tee "$1/etc/apt/apt.conf.d/docker-clean" >/dev/null <<-'EOF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
	EOF
	$SUDO tee "$1/etc/apt/apt.conf.d/docker-no-languages" >/dev/null <<-'EOF'
	Acquire::Languages "none";
	EOF
	for d in doc man groff info lintian linda locale; do
		$SUDO find "$1/usr/share/$d" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	done
}

base() {
	case $BASE in local/debian:*) ;; *) return 0 ;; esac # the build pulls it
	if podman image exists "$BASE"; then return 0; fi
	if ! command -v debootstrap >/dev/null 2>&1; then
		say "fatal: no image $BASE, and debootstrap (which makes it) is not installed: 'mk/image.sh setup' installs it, or LEGION_IMAGE_BASE=debian:bookworm-slim pulls one"
		exit 69
	fi
	suite=${BASE#local/debian:}
	root=$(mktemp -d "${TMPDIR:-/var/tmp}/legion-rootfs.XXXXXX")
	trap '$SUDO rm -rf "$root"' EXIT
	say "debootstrap --variant=minbase $suite (about a minute)"
	$SUDO debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >/dev/null
	slim "$root"
	$SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	$SUDO tar -C "$root" -c . | podman import -q - "$BASE" >/dev/null
	$SUDO rm -rf "$root"
	trap - EXIT
	say "imported $BASE"
}

# pick_engine: podman, else docker (or LEGION_IMAGE_ENGINE), into ENGINE; exit 69 when
# there is none, or docker's engine does not answer.
pick_engine() {
	want=${LEGION_IMAGE_ENGINE:-}
	case $want in '' | podman | docker) ;; *) say "fatal: LEGION_IMAGE_ENGINE: '$want' is not podman or docker"; exit 64 ;; esac
	for e in ${want:-podman docker}; do
		if command -v "$e" >/dev/null 2>&1; then ENGINE=$e; break; fi
		ENGINE=
	done
	if [ -z "$ENGINE" ]; then
		if [ -n "$want" ]; then what="$want is"; else what="neither podman nor docker is"; fi
		say "fatal: $what installed: install one ('mk/image.sh setup' installs podman)"
		exit 69
	fi
	if [ "$ENGINE" = docker ] && ! docker info >/dev/null 2>&1; then
		say "fatal: docker is installed but its engine does not answer ('docker info'): start it, or install podman"
		exit 69
	fi
	[ "$ENGINE" = podman ] || BASE=${LEGION_IMAGE_BASE:-debian:bookworm-slim}
}

# image: the spark image as LEGION_IMAGE_REPO:VERSION; its name on stdout.
image() {
	pick_engine
	[ "$ENGINE" = docker ] || base
	build spark "${LEGION_IMAGE_REPO:-legion/spark}:$VERSION"
	say "built $tag: push it ('podman push' or 'docker push' $tag, after 'az acr login -n REGISTRY' or '$ENGINE login'), then LEGION_IMAGE=$tag"
	echo "$tag"
}

# build TARGET [TAG]: one Dockerfile target with $ENGINE, tagged TAG (default
# legion/TARGET:VERSION).
build() {
	target=$1
	tag=${2:-legion/$1:$VERSION}
	say "$ENGINE build --target $target -t $tag"
	set --
	if [ "$target" = spark ]; then
		set -- --build-arg PYSPARK_VERSION="$(sed -n 's/^PYSPARK_VERSION = //p' Makefile)"
		# pip as on this machine: its index, and the CA bundle it trusts (a proxy that
		# intercepts TLS), mounted for the build only.
		[ -z "${PIP_INDEX_URL:-}" ] || set -- "$@" --build-arg PIP_INDEX="$PIP_INDEX_URL"
		cert=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
		# (docker build mounts nothing: there pip trusts the image's own CA bundle)
		[ -z "$cert" ] || [ ! -f "$cert" ] || [ "$ENGINE" != podman ] ||
			set -- "$@" -v "$cert:/run/pip-ca.crt:ro" --build-arg PIP_CA=/run/pip-ca.crt
	fi
	log=${TMPDIR:-/tmp}/legion-image-$target.log
	# shellcheck disable=SC2086
	$ENGINE build --network host --build-arg BASE="$BASE" "$@" ${PODMAN_BUILD_FLAGS:-} \
		--target "$target" -t "$tag" . >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		say "fatal: $ENGINE build --target $target failed (all of it in $log)"
		exit 1
	}
}

case ${1:-all} in
image) image ;;
setup) setup ;;
base) base ;;
cli | spark) build "$1" ;;
all) setup; base; build cli; build spark ;;
*) echo "usage: mk/image.sh [image|setup|base|cli|spark|all]" >&2; exit 64 ;;
esac
