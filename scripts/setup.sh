#!/usr/bin/env bash
# Everything `npm start` and `npm test` need on a fresh machine, each step skipped when done:
# node_modules, a Docker engine, the sandbox images, the build. Usage: setup.sh [lang ...]
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

bash images/ensure-engine.sh
bash images/build.sh "$@"

say "building (tsup)"
npx tsup --silent
