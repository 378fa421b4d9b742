#!/usr/bin/env bash
# Installs what the browser and Symfony end-to-end tests (tests/browser) need
# and is missing: Debian's chromium, php-cli and php-symfony-mercure (the
# Symfony Mercure component, with its HttpClient and lcobucci/jwt), haproxy,
# redis-server and redis-sentinel (the several-node tests: cluster.test.js,
# tests/integration/test_failover.py), Node.js and npm,
# then the npm packages of tests/browser (playwright-core, which drives the
# system chromium and downloads no browser of its own, and
# event-source-polyfill, served to the test page), and the npm packages of
# tests/differential (urlpattern-polyfill, the reference for the URL Pattern
# differential test). Safe to run again: it installs only what is missing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
browser_dir="$root/tests/browser"
differential_dir="$root/tests/differential"

if [ "$(uname -s)" = "Darwin" ]; then
  echo "On macOS: brew install node php chromium, then composer require symfony/mercure"
  echo "in tests/browser and (cd tests/browser && npm ci) and (cd tests/differential && npm ci)."
  exit 0
fi

packages=(chromium php-cli php-symfony-mercure nodejs npm ca-certificates fonts-liberation haproxy redis-server redis-sentinel)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Node.js installed by other means (with its own npm) is fine as long as it
# has the built-in test runner (Node >= 20).
if command -v node >/dev/null && command -v npm >/dev/null; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge 20 ]; then
    filtered=()
    for p in "${missing[@]}"; do
      [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p")
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages: reinstall only when the lock file is newer than what was
# installed (npm writes node_modules/.package-lock.json on every install).
if [ ! -f "$browser_dir/node_modules/.package-lock.json" ] ||
  [ "$browser_dir/package-lock.json" -nt "$browser_dir/node_modules/.package-lock.json" ]; then
  echo "Installing the npm packages of tests/browser"
  (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -f "$differential_dir/package-lock.json" ] &&
  { [ ! -f "$differential_dir/node_modules/.package-lock.json" ] ||
    [ "$differential_dir/package-lock.json" -nt "$differential_dir/node_modules/.package-lock.json" ]; }; then
  echo "Installing the npm packages of tests/differential"
  (cd "$differential_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
