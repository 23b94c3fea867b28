#!/usr/bin/env bash
# Build the sandbox images codeexec/<lang>:latest from images/<lang>/Dockerfile, on top of
# codeexec/base:latest (images/base: the user, paths and environment they all share).
#
#   bash images/build.sh [lang ...]          # no args: every images/<lang>/Dockerfile
#   CODEEXEC_IMAGES=python,go bash images/build.sh
#
# Idempotent: an image is rebuilt only when the sha256 of the files in its folder, and for a
# language image those of images/base too (label org.codeexec.hash), changed. The base image debian:bookworm-slim is pulled where a registry is
# reachable; on a Debian host as root without it (no registry here), it is bootstrapped from
# deb.debian.org with debootstrap and imported. Nothing else is ever pulled.
set -euo pipefail

say() { printf '[images] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=debian:bookworm-slim

# --- which languages ---------------------------------------------------------------------------
langs=()
if [ "$#" -gt 0 ]; then
  langs=("$@")
elif [ -n "${CODEEXEC_IMAGES:-}" ]; then
  IFS=', ' read -r -a langs <<<"$CODEEXEC_IMAGES"
else
  for f in "$here"/*/Dockerfile; do
    name=$(basename "$(dirname "$f")")
    [ -f "$f" ] && [ "$name" != base ] && langs+=("$name")
  done
fi
[ "${#langs[@]}" -gt 0 ] || die "no languages to build"
for lang in "${langs[@]}"; do
  [ "$lang" != base ] || die "base is not a language (it is built before every language image)"
  [ -f "$here/$lang/Dockerfile" ] || die "unknown language '$lang': no $here/$lang/Dockerfile"
done

# --- engine ------------------------------------------------------------------------------------
bash "$here/ensure-engine.sh"

# --- base image --------------------------------------------------------------------------------
ensure_base() {
  if docker image inspect "$base" >/dev/null 2>&1; then
    say "base image $base present"
    return
  fi
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      say "installing debootstrap from Debian's archive"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local tmp
    tmp=$(mktemp -d /tmp/codeexec-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    say "bootstrapping $base with debootstrap (minbase, about 40 s)"
    debootstrap --variant=minbase bookworm "$tmp/rootfs" http://deb.debian.org/debian 2>&1 \
      | sed -u 's/^/[images] debootstrap: /' >&2
    # The same trims as the official slim image: no docs, man pages or translations (now, and
    # for every package installed later), no apt cache, no package lists, no logs.
    local r="$tmp/rootfs"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
      'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
      'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
      'path-include /usr/share/locale/locale.alias' >"$r/etc/dpkg/dpkg.cfg.d/docker"
    find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf "$r/usr/share/man/"* "$r/usr/share/groff/"* "$r/usr/share/info/"* \
      "$r/usr/share/lintian/"* "$r/var/cache/apt/archives/"*.deb "$r/var/cache/apt/"*.bin \
      "$r/var/lib/apt/lists/"* "$r/var/log/"*.log "$r/var/log/apt/"* "$r/var/cache/debconf/"*-old
    say "importing rootfs as $base"
    tar -C "$tmp/rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
    rm -rf "$tmp"
    trap - EXIT
    say "base image $base imported"
  else
    say "base image $base missing; pulling it"
    docker pull "$base"
  fi
}
ensure_base

# --- builder -----------------------------------------------------------------------------------
# The docker CLI uses BuildKit only through the buildx plugin; without it (docker.io client or a
# bare CLI) use the classic builder, which the 20.10 engine supports fully.
build_env=()
build_args=()
if docker buildx version >/dev/null 2>&1; then
  build_env=(DOCKER_BUILDKIT=1)
  build_args=(--progress plain)
else
  build_env=(DOCKER_BUILDKIT=0)
  build_args=(--force-rm) # no stopped intermediate containers left behind by a failed step
fi

# Stable content hash of an image's folder: relative path and sha256 of each file, sorted.
content_hash() {
  (
    cd "$here"
    find "$1" -type f -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
      printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
    done
  ) | sha256sum | cut -d' ' -f1
}

# Builds codeexec/$1:latest from images/$1 unless it already carries hash $2. Fails (status 1)
# when the build does.
build_image() {
  local name=$1 hash=$2 tag="codeexec/$1:latest" have old_id new_id start
  have=$(docker image inspect -f '{{ index .Config.Labels "org.codeexec.hash" }}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$hash" ]; then
    say "codeexec/$name up to date"
    return 0
  fi
  say "building $tag (hash ${hash:0:12})"
  old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  start=$(date +%s)
  if ! env "${build_env[@]}" docker build "${build_args[@]}" --network host \
      --label "org.codeexec.hash=$hash" -t "$tag" "$here/$name" 2>&1 \
      | sed -u "s/^/[images] $name: /" >&2; then
    say "FAILED to build $tag"
    return 1
  fi
  say "built $tag in $(($(date +%s) - start)) s"
  # Drop the image this build replaced, if nothing else uses it (a container, another tag).
  new_id=$(docker image inspect -f '{{.Id}}' "$tag")
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

base_hash=$(content_hash base)
build_image base "$base_hash" || die "failed: base"

failed=()
for lang in "${langs[@]}"; do
  # A language image is rebuilt when its base changed too.
  hash=$(printf '%s %s\n' "$(content_hash "$lang")" "$base_hash" | sha256sum | cut -d' ' -f1)
  build_image "$lang" "$hash" || failed+=("$lang")
done

if [ "${#failed[@]}" -gt 0 ]; then
  die "failed: ${failed[*]}"
fi
say "done: ${langs[*]}"
