#!/usr/bin/env bash
# Everything `npm start` and `npm test` need on a fresh machine, each step skipped when done:
# node_modules, Chromium and two reverse proxies for tests, a Docker engine, the sandbox images,
# the build. Usage: setup.sh [lang ...]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# npm runs this script before dependencies exist on a fresh clone; install them once, and again
# when package-lock.json changed since.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Exactly the locked versions, and never a rewrite of the lock file (scripts/lock-file.test.ts
  # keeps it complete for every platform, which is what `npm ci` needs).
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# The desktop app's windows are tested in a real headless Chromium (desktop/**/*.browser.test.ts):
# Debian's package, driven by playwright-core (which downloads no browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no /usr/bin/chromium, and no apt-get to install it: install Chromium there for the desktop browser tests"
  elif [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    say "no /usr/bin/chromium: run 'apt-get install chromium' as root for the desktop browser tests"
  else
    say "installing chromium (apt-get)"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

# The reverse-proxy tests (test/e2e-proxy.test.ts) run private nginx and Caddy instances on
# loopback: Debian's nginx-light and caddy. Their packages would start the system's services (on
# ports 80 and 443); a policy-rc.d that forbids every start keeps them stopped while they install,
# and they are left disabled: nothing here serves anything until a test starts its own.
proxies=()
[ -x /usr/sbin/nginx ] || proxies+=(nginx-light)
[ -x /usr/bin/caddy ] || proxies+=(caddy)
if [ "${#proxies[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    say "no ${proxies[*]}: install them as root (apt-get install ${proxies[*]}) for the reverse-proxy tests"
  else
    say "installing ${proxies[*]} (apt-get; their system services stay stopped)"
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
    fi
    apt-get update -qq
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${proxies[@]}" >/dev/null || status=$?
    [ -z "$own_policy" ] || rm -f "$policy"
    [ "$status" -eq 0 ] || exit "$status"
    for service in nginx caddy; do
      if [ -d /run/systemd/system ]; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
      if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$service" disable >/dev/null 2>&1 || true; fi
    done
  fi
fi

bash images/ensure-engine.sh
bash images/build.sh "$@"

say "building (tsup)"
npx tsup --silent
