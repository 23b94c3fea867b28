#!/usr/bin/env bash
# Everything `npm start` and `npm test` need on a fresh machine, each step skipped when done:
# node_modules, Chromium, two reverse proxies, nats-server and PostgreSQL for tests, a Docker
# engine, the sandbox images, the build. Usage: setup.sh [lang ...]
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

# Servers the tests run private instances of, on loopback ports and temporary directories: their
# Debian packages would start the system's own services (nginx and Caddy on 80 and 443,
# nats-server on 4222, PostgreSQL's cluster on 5432). A policy-rc.d that forbids every start keeps
# them stopped while they install, and they are left disabled: nothing here serves anything until
# a test starts its own. install_stopped "what for" "package ..." -- "service ..."
install_stopped() {
  local what=$1
  shift
  local packages=() services=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do packages+=("$1"); shift; done
  [ "$#" -eq 0 ] || shift
  services=("$@")
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    say "no ${packages[*]}: install as root (apt-get install ${packages[*]}) for $what"
    return 0
  fi
  say "installing ${packages[*]} (apt-get; system services stay stopped) for $what"
  local policy=/usr/sbin/policy-rc.d own_policy="" status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null || status=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  [ "$status" -eq 0 ] || exit "$status"
  local service
  for service in "${services[@]}"; do
    if [ -d /run/systemd/system ]; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$service" disable >/dev/null 2>&1 || true; fi
  done
}

# The reverse-proxy tests (test/e2e-proxy.test.ts): Debian's nginx-light and caddy.
proxies=()
[ -x /usr/sbin/nginx ] || proxies+=(nginx-light)
[ -x /usr/bin/caddy ] || proxies+=(caddy)
if [ "${#proxies[@]}" -gt 0 ]; then
  install_stopped "the reverse-proxy tests" "${proxies[@]}" -- nginx caddy
fi

# The NATS bus's tests (test/bus-nats.test.ts, test/nats-server.ts): Debian's nats-server.
if [ ! -x /usr/sbin/nats-server ]; then
  install_stopped "the NATS bus tests" nats-server -- nats-server
fi

# The PostgreSQL store's tests (test/store-postgres.test.ts, test/postgres-server.ts): initdb and
# pg_ctl from Debian's postgresql. Its package also creates a cluster: one that started anyway is
# stopped (the tests never use it).
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  install_stopped "the PostgreSQL store tests" postgresql -- postgresql
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header | while read -r version cluster _port state _rest; do
      case "$state" in online*) pg_ctlcluster "$version" "$cluster" stop || true ;; esac
    done
  fi
fi

bash images/ensure-engine.sh
bash images/build.sh "$@"

say "building (tsup)"
npx tsup --silent
