#!/usr/bin/env bash
# Installs the Debian packages the tests need (a real Mosquitto, PostgreSQL,
# qemu-user for the ARM binaries, dpkg, systemd-analyze, man-db and
# bash-completion for the package tests, Chromium for the fleet pages), or, when not run as root, names the
# one command that does. `make test` and .ci/run both call it.
set -euo pipefail

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v file >/dev/null || need+=(file)
command -v make >/dev/null || need+=(make)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v dpkg-deb >/dev/null || need+=(dpkg)
# man renders the packaged man pages; bash-completion runs the packaged
# completion script as an interactive shell would.
command -v man >/dev/null || need+=(man-db)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "the tests need these Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y ${need[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}"
# The distribution's broker and database services are not used: tests start
# their own (a throwaway PostgreSQL cluster per test, as user postgres).
systemctl stop mosquitto postgresql 2>/dev/null || true
