#!/usr/bin/env bash
# Runs the static ARM builds under qemu-user: the arm64 and armv6 binaries
# must pass their self test (crypto round trips and a bbolt write/read), the
# armv7 one must at least start.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
	local qemu=$1 bin=$2
	shift 2
	if ! command -v "$qemu" >/dev/null; then
		echo "arm-smoke: $qemu not found; install qemu-user-static" >&2
		exit 1
	fi
	echo "arm-smoke: $qemu $bin $*"
	"$qemu" "$bin" "$@"
}

for arch in arm64 armv7 armv6; do
	file "dist/edgegw-linux-$arch" 2>/dev/null | grep -q "statically linked" || {
		echo "arm-smoke: dist/edgegw-linux-$arch is not a static binary" >&2
		exit 1
	}
done
run qemu-aarch64-static dist/edgegw-linux-arm64 selftest
run qemu-arm-static dist/edgegw-linux-armv6 selftest
run qemu-arm-static dist/edgegw-linux-armv7 version
echo "arm-smoke: ok"
