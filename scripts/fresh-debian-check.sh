#!/usr/bin/env bash
# Reproduces the fresh-machine check: a minimal Debian 12 root (debootstrap
# --variant=minbase, plus the /etc/hosts every real install has) gets a copy of
# this repository (and ../shared when it is there), and the README's two
# commands run in it as root: scripts/demo.sh, then scripts/test.sh.
#
#   sudo bash scripts/fresh-debian-check.sh [ROOT_DIR]
#
# Needs root and Debian's package mirror; the mirror is the first one this
# machine's apt uses (MW_DEBIAN_MIRROR=URL to choose another). Takes about as
# long as a full test run plus debootstrap. Not run by CI (it is what CI's
# clean machine approximates).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-debian-check: run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$(mktemp -d /var/tmp/mwkit-fresh.XXXXXX)}

mirror=${MW_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  echo "fresh-debian-check: no Debian mirror in this machine's apt sources; set MW_DEBIAN_MIRROR" >&2
  exit 1
fi

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
echo "fresh-debian-check: debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -n 30 "$root.debootstrap.log" >&2; exit 1; }
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mkdir -p "$root/src"
cp -a "$repo" "$root/src/mwkit"
rm -rf "$root/src/mwkit/build"
if [ -d "$repo/../shared" ]; then cp -a "$repo/../shared" "$root/src/shared"; fi

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" || true; done
}
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
  case $fs in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sysfs "$root/sys" ;;
    dev) mount --bind /dev "$root/dev" ;;
    dev/pts) mount --bind /dev/pts "$root/dev/pts" ;;
  esac
  mounts+=("$root/$fs")
done

echo "fresh-debian-check: running the README's two commands in $root"
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin CI=true \
  /bin/bash -c 'cd /src/mwkit && bash scripts/demo.sh && bash scripts/test.sh'
echo "fresh-debian-check: both commands passed in a fresh Debian 12 root ($root)"
