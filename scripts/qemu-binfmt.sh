#!/usr/bin/env bash
# Lets this machine run aarch64 programs through qemu-user, as a Debian 12
# system with qemu-user-static does after boot (systemd-binfmt reads
# /usr/lib/binfmt.d/qemu-aarch64.conf). Containers and machines without
# systemd skip that step; this script does it. The handler's F flag opens
# qemu once, at registration, so aarch64 programs also run inside a chroot
# that has no qemu (the aarch64 host test, tests/client_wrapper/bare_host_test.cpp).
# Idempotent; needs root and qemu-user-static (scripts/install-deps.sh).
set -euo pipefail

conf=/usr/lib/binfmt.d/qemu-aarch64.conf
misc=/proc/sys/fs/binfmt_misc
[ -f "$conf" ] || { echo "qemu-binfmt: $conf is missing (install qemu-user-static: bash scripts/install-deps.sh)" >&2; exit 1; }
if [ ! -e "$misc/register" ]; then
  mount -t binfmt_misc binfmt_misc "$misc" ||
    { echo "qemu-binfmt: cannot mount binfmt_misc on $misc (needs root, and a kernel or container that allows it)" >&2; exit 1; }
fi
if [ -e "$misc/qemu-aarch64" ]; then
  echo "qemu-binfmt: $(head -n 1 "$misc/qemu-aarch64"): $(grep '^interpreter' "$misc/qemu-aarch64")"
  exit 0
fi
cat "$conf" >"$misc/register"
echo "qemu-binfmt: registered qemu-aarch64 from $conf"
