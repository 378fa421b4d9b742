#!/usr/bin/env bash
# Installs what building (with --deb, packaging; with --test, testing)
# Quicksilver needs and is missing. Debian/Ubuntu: apt-get, as root or through sudo. macOS: prints the
# Homebrew line. Safe to run again: it installs only what is missing.
set -euo pipefail

want_test=0 want_deb=0
[ "${1:-}" = "--test" ] && want_test=1 && want_deb=1
[ "${1:-}" = "--deb" ] && want_deb=1

build_packages=(cmake ninja-build pkg-config gcc make libuv1-dev node-llhttp libnghttp2-dev libssl-dev
  libjansson-dev libpcre2-dev liblmdb-dev libidn2-dev libhiredis-dev libcurl4-openssl-dev)
# The package tests (tests/package) build, check, install and purge the .deb,
# verify its systemd unit and render the manual page; the container test
# makes a base image with mmdebstrap and builds and runs the image with podman
# on runc (crun refuses hybrid cgroup hierarchies), with CNI port mapping.
test_packages=(libcmocka-dev curl openssl python3 clang-format lintian man-db systemd redis-server redis-sentinel
  podman runc containernetworking-plugins iptables mmdebstrap debian-archive-keyring)
deb_packages=(debhelper dpkg-dev adduser)

if [ "$(uname -s)" = "Darwin" ]; then
  echo "On macOS, install the dependencies with:"
  echo "  brew install cmake ninja pkg-config libuv llhttp nghttp2 openssl@3 jansson pcre2 lmdb libidn2 hiredis curl cmocka"
  exit 0
fi

packages=("${build_packages[@]}")
[ $want_deb = 1 ] && packages+=("${deb_packages[@]}")
[ $want_test = 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
