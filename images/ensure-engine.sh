#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent: does nothing when `docker info` already works.
# On Debian as root it installs docker.io and starts dockerd with no bridge network and no
# iptables (sandboxes run with NetworkMode none; nothing needs a bridge). Elsewhere it says what
# to do instead of guessing.
set -euo pipefail

say() { printf '[engine] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  say "Docker engine answers"
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  say "No Docker engine answers, and this script can only install one on Debian as root."
  say "Start Docker yourself (Docker Desktop, or your distribution's docker package), make sure"
  say "'docker info' works for this user, then run this command again."
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing docker.io from Debian's archive (about 20 s)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

# A previous session's daemon may have died and left its pid file; dockerd refuses to start
# while it exists. Remove it only when the pid in it is not alive.
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) is running but not answering yet; waiting for it"
  else
    say "removing stale $pidfile"
    rm -f "$pidfile"
  fi
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd --bridge=none --iptables=false (log: /var/log/dockerd.log)"
  # setsid: the daemon must outlive the shell (and test run) that started it.
  setsid dockerd --bridge=none --iptables=false --ip-masq=false >>/var/log/dockerd.log 2>&1 < /dev/null &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    say "Docker engine answers"
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within 60 s; see /var/log/dockerd.log"
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
