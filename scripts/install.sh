#!/usr/bin/env bash
# Installs edgegw on a box without dpkg (or without our package): the binary,
# the systemd unit, the example configuration (never over an existing one),
# the documentation, and then the same accounts, groups and state
# directories as the .deb, by running scripts/deb/postinst. Like the .deb, it
# does not start the agent: commission it first (docs/operations.md).
#
#   sudo scripts/install.sh                       # binary from dist/ for this machine
#   sudo scripts/install.sh --binary ./edgegw     # a given binary
#   sudo scripts/install.sh --root /tmp/r ...     # into a throwaway root (tests)
#
# --root DIR (alias --prefix) installs under DIR, which must hold etc/passwd
# and etc/group; accounts are created there (useradd --prefix), and the
# running systemd is left alone.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

usage() {
	echo "usage: install.sh [--binary FILE] [--root DIR]" >&2
	exit 2
}

binary=""
root=""
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) [ $# -ge 2 ] || usage; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--root | --prefix) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
	--root=* | --prefix=*) root=${1#*=}; shift ;;
	-h | --help) usage ;;
	*) echo "install.sh: unknown argument $1" >&2; usage ;;
	esac
done

die() {
	echo "install.sh: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it creates the edgegw account and chowns its state directory)"

if [ -n "$root" ]; then
	[ -d "$root" ] || die "--root $root: not a directory"
	root=$(cd "$root" && pwd)
	[ "$root" != / ] || root=""
fi

# The binary for this machine, as `make build` / `make build-arm` name them.
if [ -z "$binary" ]; then
	case "$(uname -m)" in
	x86_64 | amd64) candidates="dist/edgegw-linux-amd64 dist/edgegw" ;;
	aarch64 | arm64) candidates="dist/edgegw-linux-arm64" ;;
	armv7l | armv8l) candidates="dist/edgegw-linux-armv7 dist/edgegw-linux-armv6" ;;
	armv6l) candidates="dist/edgegw-linux-armv6" ;;
	*) die "no edgegw build for $(uname -m); give --binary" ;;
	esac
	for c in $candidates; do
		if [ -f "$repo/$c" ]; then
			binary=$repo/$c
			break
		fi
	done
	[ -n "$binary" ] || die "none of $candidates in $repo; run make build (or build-arm) or give --binary"
fi
[ -f "$binary" ] || die "--binary $binary: no such file"
[ -x "$binary" ] || chmod +x "$binary" 2>/dev/null || true

# Refuse a binary that cannot run here (wrong architecture) before touching
# anything, unless installing into another root.
if [ -z "$root" ]; then
	"$binary" version >/dev/null || die "$binary does not run on this machine ($(uname -m))"
fi

# An existing binary makes this an upgrade: postinst then restarts a running
# agent instead of printing the commissioning steps.
previous=""
[ ! -e "$root/usr/bin/edgegw" ] || previous=unknown

install -D -m 0755 -o root -g root "$binary" "$root/usr/bin/edgegw"
install -D -m 0644 -o root -g root "$here/edgegw.service" "$root/lib/systemd/system/edgegw.service"
install -d -m 0755 -o root -g root "$root/etc/edgegw" "$root/usr/share/doc/edgegw/examples"
if [ -e "$root/etc/edgegw/edgegw.yaml" ]; then
	echo "install.sh: keeping the existing $root/etc/edgegw/edgegw.yaml; the example is in /usr/share/doc/edgegw/examples/pi-junction.yaml"
else
	install -m 0644 -o root -g root "$repo/configs/pi-junction.yaml" "$root/etc/edgegw/edgegw.yaml"
fi
install -m 0644 -o root -g root "$repo/configs/pi-junction.yaml" "$root/usr/share/doc/edgegw/examples/pi-junction.yaml"
install -m 0644 -o root -g root "$repo/README.md" "$repo/docs/operations.md" "$root/usr/share/doc/edgegw/"

# Accounts, groups, state directories, daemon-reload and the next steps:
# the .deb's own postinst, so both ways of installing end up the same.
DPKG_ROOT=$root sh "$here/deb/postinst" configure "$previous"
