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

bash images/ensure-engine.sh
bash images/build.sh "$@"

say "building (tsup)"
npx tsup --silent
