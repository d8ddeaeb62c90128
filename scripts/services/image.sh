#!/usr/bin/env bash
# The serving image (Dockerfile), built and run on this machine without a Docker engine or a container
# registry: podman with runc, all of its state in .data/podman (containers.conf and storage.conf written
# here, passed through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF). A working Docker engine is used instead.
#
#   scripts/services/image.sh build    install podman & co with apt-get when missing (needs root); make a local
#                                      Debian base when no registry answers (once, cached); build
#                                      localhost/activity-tracking-serving:<package version>; print its size
#   scripts/services/image.sh run      start it detached, IMAGE_MODEL_DIR mounted read-only on /models, and wait
#                                      until the server is ready (exit 1 with its error when it exits first)
#   scripts/services/image.sh stop     stop it (SIGTERM; SIGKILL after IMAGE_STOP_TIMEOUT s), print its exit code, remove it
#   scripts/services/image.sh status   exit 0 when the container runs
#   scripts/services/image.sh health   run the image's HEALTHCHECK once (podman without systemd has no timer for it); exit 0 when healthy
#   scripts/services/image.sh env      print the environment for running podman by hand: eval "$(scripts/services/image.sh env)"
#                                      (IMAGE_ENGINE, and for podman CONTAINERS_CONF and CONTAINERS_STORAGE_CONF)
#
# dist/ and the production node_modules are made on the host (tsc; npm ci --omit=dev, cached by package-lock.json)
# and copied in (Dockerfile --target prebuilt): the build never needs the npm registry from inside a container.
#
# Environment: IMAGE (localhost/activity-tracking-serving:<version>), IMAGE_ENGINE (podman or docker; docker when its
# engine answers), IMAGE_BASE (the base image; node:20-bookworm-slim when a registry answers, else the local one),
# IMAGE_PORT (28080, on 127.0.0.1), IMAGE_CONTAINER (activity-serving-<port>), IMAGE_MODEL_DIR (required for run),
# IMAGE_STOP_TIMEOUT (10), IMAGE_READY_TIMEOUT (120), IMAGE_CACHE_DIR (~/.cache/activity-tracking/image: the base and the
# production dependencies). Passed to the container when set: MODEL_NAME, MODEL_VERSION,
# SERVING_API_KEY (by name: the key never appears in a command line), LOG_LEVEL.
set -euo pipefail
shopt -s inherit_errexit
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json")"
image="${IMAGE:-localhost/activity-tracking-serving:$version}"
port="${IMAGE_PORT:-28080}"
container="${IMAGE_CONTAINER:-activity-serving-$port}"
cache="$root/.cache/image"
# The Debian base and the production dependencies depend only on Node's version and package-lock.json,
# not on this checkout: kept per user, like Maven's ~/.m2, so that a fresh clone does not make them again.
shared="${IMAGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/activity-tracking/image}"
state="$root/.data/podman"

say() { echo "image.sh: $*" >&2; }

docker_works() {
  command -v docker >/dev/null && timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if [ -z "${IMAGE_ENGINE:-}" ]; then
  if docker_works; then IMAGE_ENGINE=docker; else IMAGE_ENGINE=podman; fi
fi
engine() { echo "$IMAGE_ENGINE"; }

# podman keeps images, containers, locks and events in .data/podman; runroot and tmp_dir are reset
# after a reboot (podman would otherwise trust their stale state, as it trusts /run after a boot).
podman_config() {
  mkdir -p "$state"
  local boot
  boot="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)"
  if [ "$(cat "$state/boot_id" 2>/dev/null)" != "$boot" ]; then
    rm -rf "$state/run" "$state/tmp"
    echo "$boot" > "$state/boot_id"
  fi
  mkdir -p "$state/run" "$state/tmp" "$state/networks"
  cat > "$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
  # runc, not crun (crun refuses hybrid cgroups); explicit ulimits (the inherited ones are refused).
  cat > "$state/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$state/events.log"
tmp_dir = "$state/tmp"

[network]
network_config_dir = "$state/networks"
CONF
  export CONTAINERS_CONF="$state/containers.conf" CONTAINERS_STORAGE_CONF="$state/storage.conf"
}

install_podman() {
  if command -v podman >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    say "podman, runc and mmdebstrap are missing; install Debian's podman, buildah, runc and mmdebstrap packages (needs root), or start a Docker engine"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq podman buildah runc mmdebstrap >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq podman buildah runc mmdebstrap >/dev/null
  fi
}

ce() {
  if [ "$(engine)" = docker ]; then docker "$@"; return; fi
  # Without systemd, podman 4 logs an error on every start and stop of a container with a HEALTHCHECK
  # (it cannot add its timer, even with --health-interval=disable); the check itself runs on demand.
  # Through a file, not a pipe: conmon, which outlives `podman run -d`, inherits podman's stderr and
  # would hold a pipe (and whoever waits for its end, e.g. Node's execFile) open while the container runs.
  local err rc=0
  err="$(mktemp)"
  podman "$@" 2>"$err" || rc=$?
  grep -v 'unable to get systemd connection' "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}

setup_engine() {
  if [ "$(engine)" = podman ]; then
    install_podman
    podman_config
  fi
}

registry_answers() {
  # Any HTTP answer (401 included) means the registry is reachable.
  local code
  code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != 000 ]
}

debian_mirror() {
  local uri
  uri="$(sed -n 's/^URIs: *\([^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
  [ -n "$uri" ] || uri="$(sed -n 's/^deb  *\(http[^ ]*\)  *bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# A Debian bookworm rootfs (mmdebstrap, essential variant) with this machine's Node at /usr/local/bin/node and a
# user node (1000), as node:20-bookworm-slim has them. Debian's own nodejs is 18; the target is Node 20.
local_base() {
  local node node_version base tar
  node="$(command -v node)"
  node_version="$("$node" --version)"
  case "$node_version" in v20.*) ;; *) say "the local base needs Node 20 on this machine (found $node_version)"; exit 1 ;; esac
  base="localhost/activity-tracking-base:bookworm-node${node_version#v}"
  if podman image exists "$base"; then echo "$base"; return 0; fi
  tar="$shared/base-bookworm-node${node_version#v}.tar"
  if [ ! -f "$tar" ]; then
    [ "$(id -u)" = 0 ] || { say "making the local base image needs root (mmdebstrap --mode=root)"; exit 1; }
    mkdir -p "$shared"
    local started=$SECONDS
    mmdebstrap --quiet --variant=essential --include=ca-certificates,libstdc++6 --mode=root \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook="copy-in $node /usr/local/bin" \
      --customize-hook='echo "node:x:1000:1000::/home/node:/bin/sh" >> "$1/etc/passwd"' \
      --customize-hook='echo "node:x:1000:" >> "$1/etc/group"' \
      --customize-hook='mkdir -p "$1/home/node" && chown 1000:1000 "$1/home/node"' \
      --customize-hook='rm -rf "$1/var/cache/apt"/*.bin "$1/var/lib/apt/lists"/*' \
      bookworm "${tar%.tar}.partial.tar" "$(debian_mirror)" >&2
    mv "${tar%.tar}.partial.tar" "$tar"
    say "local base rootfs made in $((SECONDS - started)) s ($tar)"
  fi
  podman import --quiet \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD=["node"]' "$tar" "$base" >/dev/null
  echo "$base"
}

base_image() {
  if [ -n "${IMAGE_BASE:-}" ]; then echo "$IMAGE_BASE"; return 0; fi
  if [ "$(engine)" = docker ] || registry_answers; then echo node:20-bookworm-slim; return 0; fi
  local_base
}

# Build context: the Dockerfile, and app/ with dist/ (compiled here, not in the repository's dist/ that
# `npm run build` and the test set-up write meanwhile), the production node_modules, package.json, schemas/.
prepare_context() {
  local lock_hash deps ctx
  lock_hash="$(sha256sum "$root/package-lock.json" | cut -c1-16)"
  deps="$shared/deps-$lock_hash"
  if [ ! -f "$deps/.complete" ]; then
    rm -rf "$deps"
    mkdir -p "$deps"
    cp "$root/package.json" "$root/package-lock.json" "$deps/"
    (cd "$deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    touch "$deps/.complete"
  fi
  node "$root/node_modules/typescript/bin/tsc" -p "$root/tsconfig.build.json" \
    --outDir "$cache/dist" --tsBuildInfoFile "$cache/dist.tsbuildinfo" --declaration false
  ctx="$cache/context"
  rm -rf "$ctx"
  mkdir -p "$ctx/app"
  cp "$root/Dockerfile" "$ctx/"
  cp -al "$deps/node_modules" "$ctx/app/node_modules"
  cp -a "$cache/dist" "$ctx/app/dist"
  cp -a "$root/package.json" "$root/schemas" "$ctx/app/"
  echo "$ctx"
}

build() {
  setup_engine
  mkdir -p "$cache"
  # One build at a time: the base, the deps cache and the context are shared.
  exec 9>"$cache/build.lock"
  flock 9
  local started=$SECONDS base ctx
  base="$(base_image)"
  ctx="$(prepare_context)"
  # The context's content and the base's id, as a label: when both are unchanged the build is skipped.
  # podman's layer cache would give the same image, but only after hashing the context's 120 MB three times
  # (20–40 s on two busy cores). IMAGE_REBUILD=1 builds anyway (e.g. to pull a newer node:20-bookworm-slim).
  local digest
  digest="$( (ce image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base"
    tar -C "$ctx" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .) | sha256sum | cut -c1-64)"
  local label=org.activity-tracking.build-input fresh=rebuilt
  if [ "${IMAGE_REBUILD:-0}" != 1 ] &&
    [ "$(ce image inspect --format "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null)" = "$digest" ]; then
    fresh=unchanged
  else
    local args=(--build-arg "BASE_IMAGE=$base" --target prebuilt --label "$label=$digest" -t "$image" "$ctx")
    if [ "$(engine)" = docker ]; then
      docker build --quiet "${args[@]}" >/dev/null
    else
      # docker format keeps HEALTHCHECK (OCI images have no field for it).
      podman build --quiet --pull=never --format docker --layers "${args[@]}" >/dev/null
    fi
  fi
  local size
  size="$(ce image inspect --format '{{.Size}}' "$image")"
  echo "built $image ($(( size / 1000000 )) MB, base $base, $(engine), $fresh) in $((SECONDS - started)) s"
}

state_of() {
  ce container inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$container" 2>/dev/null || true
}

run() {
  setup_engine
  [ -n "${IMAGE_MODEL_DIR:-}" ] || { say "set IMAGE_MODEL_DIR to the model folder (<dir>/<name>/<version>/model.json + digest)"; exit 1; }
  [ -d "$IMAGE_MODEL_DIR" ] || { say "IMAGE_MODEL_DIR $IMAGE_MODEL_DIR is not a directory"; exit 1; }
  ce rm -f "$container" >/dev/null 2>&1 || true
  local envs=()
  for name in MODEL_NAME MODEL_VERSION SERVING_API_KEY LOG_LEVEL; do
    if [ -n "${!name:-}" ]; then envs+=(-e "$name"); fi
  done
  # podman runs the HEALTHCHECK from systemd timers: without systemd, only on demand (podman healthcheck run).
  local health=()
  if [ "$(engine)" = podman ] && [ ! -d /run/systemd/system ]; then health=(--health-interval=disable); fi
  # The container binds 0.0.0.0 inside; the host publishes it on loopback only.
  ce run -d --name "$container" -p "127.0.0.1:$port:8080" "${health[@]}" \
    -v "$(cd "$IMAGE_MODEL_DIR" && pwd):/models:ro" "${envs[@]}" "$image" >/dev/null
  local deadline=$((SECONDS + ${IMAGE_READY_TIMEOUT:-120})) st
  while [ $SECONDS -lt $deadline ]; do
    if ce logs "$container" 2>/dev/null | grep -q '"ready":true'; then
      echo "serving ready on http://127.0.0.1:$port (container $container, image $image)"
      return 0
    fi
    st="$(state_of)"
    case "$st" in
      running*|created*|configured*|initialized*) ;;
      *)
        say "the container exited with code ${st#* } before it was ready; its log:"
        ce logs "$container" >&2 2>&1 || true
        ce rm -f "$container" >/dev/null 2>&1 || true
        exit 1
        ;;
    esac
    sleep 0.25
  done
  say "the server was not ready within ${IMAGE_READY_TIMEOUT:-120} s; its log:"
  ce logs "$container" >&2 2>&1 || true
  exit 1
}

stop() {
  setup_engine
  if [ -z "$(state_of)" ]; then echo "$container not running"; return 0; fi
  local started code
  started="$(date +%s%N)"
  ce stop -t "${IMAGE_STOP_TIMEOUT:-10}" "$container" >/dev/null
  local ms=$((($(date +%s%N) - started) / 1000000))
  code="$(state_of)"
  code="${code#* }"
  ce rm -f "$container" >/dev/null
  echo "stopped $container in $ms ms, exit code $code"
  # 0: closed on SIGTERM; 143: SIGTERM while the model was loading; anything else (137: SIGKILL) is not clean.
  case "$code" in 0|143) ;; *) say "$container did not stop cleanly (exit code $code)"; exit 1 ;; esac
}

status() {
  setup_engine >/dev/null
  case "$(state_of)" in running*) return 0 ;; *) return 1 ;; esac
}

health() {
  setup_engine
  if [ "$(engine)" = docker ]; then
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$container")" = healthy ]
  else
    ce healthcheck run "$container" >/dev/null
  fi
}

case "${1:-}" in
  build) build ;;
  health) health ;;
  run) run ;;
  stop) stop ;;
  status) status ;;
  env)
    # IMAGE_ENGINE too: the engine is chosen once (src/deploy/container.ts reads this line), not probed per command.
    if [ "$(engine)" = podman ]; then
      podman_config
      echo "export IMAGE_ENGINE='podman' CONTAINERS_CONF='$CONTAINERS_CONF' CONTAINERS_STORAGE_CONF='$CONTAINERS_STORAGE_CONF'"
    else
      echo "export IMAGE_ENGINE='$(engine)'"
    fi
    ;;
  *) echo "usage: $0 build|run|stop|status|health|env" >&2; exit 2 ;;
esac
