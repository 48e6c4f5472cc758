#!/usr/bin/env bash
# A private Docker engine and registry-free PostgreSQL/Redis images, for testing the docker
# backend on a machine without Docker (Debian, as root). Idempotent.
#   ci/docker.sh up     install what is missing, start the engine, build or load the images,
#                       then print the settings (as `env` does)
#   ci/docker.sh env    print `export DOCKER_HOST=... ROO_POSTGRES_IMAGE=... ROO_REDIS_IMAGE=...`
#   ci/docker.sh down   stop what `up` started (engine, its containers, the bridge); the
#                       images stay in the engine's data root and in the cache file
#   eval "$(ci/docker.sh up)"
#
# The engine listens on a private socket only, never /var/run/docker.sock: a default socket
# would make every other pytest session's `auto` pick an engine that cannot pull images.
# Port publishing needs a bridge and the userland proxy (no iptables here).
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${ROO_DOCKER_STATE:-/run/pytest-roo-docker}        # socket, exec root, pidfile, log
DATA=${ROO_DOCKER_DATA:-/var/lib/pytest-roo-docker}       # images and containers
SOCK="$STATE/docker.sock"
BRIDGE=${ROO_DOCKER_BRIDGE:-roo-dk0}
BRIDGE_CIDR=${ROO_DOCKER_BRIDGE_CIDR:-172.31.250.1/24}
RECIPES=ci/docker
CACHE_DIR=${ROO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pytest-roo}/docker
# One Debian bootstrap holds both servers: one apt run instead of one per image, and the two
# images share that layer. Installed without a cluster and without starting anything.
BASE_PACKAGES=postgresql-15,redis-server
BASE_HOOK='mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf" && printf "#!/bin/sh\nexit 101\n" > "$1/usr/sbin/policy-rc.d" && chmod +x "$1/usr/sbin/policy-rc.d"'
# the images' tags carry a hash of their recipes: a changed Dockerfile makes new images
KEY=$( (cat "$RECIPES"/postgres/* "$RECIPES"/redis/*; echo "$BASE_PACKAGES $BASE_HOOK") \
      | sha256sum | cut -c1-12)
BASE_IMAGE=pytest-roo/debian-servers:bookworm-$KEY
POSTGRES_IMAGE=pytest-roo/postgres:15-$KEY
REDIS_IMAGE=pytest-roo/redis:7-$KEY
CACHE_FILE="$CACHE_DIR/images-$KEY.tar.zst"

say() { printf 'docker.sh: [%3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { say "$*"; exit 1; }
dk() { docker -H "unix://$SOCK" "$@"; }

engine_pid() {
  local pid
  pid=$(cat "$STATE/docker.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

ping() {
  [ -S "$SOCK" ] && curl -fsS --max-time 2 --unix-socket "$SOCK" http://docker/_ping >/dev/null 2>&1
}

print_env() {
  printf 'export DOCKER_HOST=unix://%s\n' "$SOCK"
  printf 'export ROO_POSTGRES_IMAGE=%s\n' "$POSTGRES_IMAGE"
  printf 'export ROO_REDIS_IMAGE=%s\n' "$REDIS_IMAGE"
}

install_missing() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v zstd >/dev/null 2>&1 || need+=(zstd)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  [ ${#need[@]} -eq 0 ] && return
  say "installing ${need[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  # the packages must not start a system engine on the default socket
  local policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >&2
  [ "$policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

start_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
    touch "$STATE/bridge-created"
  fi
  ip link set "$BRIDGE" up
}

start_engine() {
  if engine_pid >/dev/null && ping; then
    return
  fi
  command -v dockerd >/dev/null || die "dockerd is missing (apt-get install docker.io)"
  say "starting dockerd on $SOCK"
  mkdir -p "$DATA" "$STATE/exec"
  # its own session: Ctrl-C in the calling terminal must not stop it mid-run
  setsid dockerd -H "unix://$SOCK" --data-root "$DATA" --exec-root "$STATE/exec" \
    --pidfile "$STATE/docker.pid" --bridge="$BRIDGE" --iptables=false --ip-forward=false \
    --ip-masq=false --userland-proxy=true --log-level=warn \
    </dev/null >>"$STATE/dockerd.log" 2>&1 &
  echo $! > "$STATE/engine-started"
  local i
  for i in $(seq 1 300); do
    ping && return
    kill -0 "$(cat "$STATE/engine-started")" 2>/dev/null \
      || die "dockerd exited at start; its log: $(tail -5 "$STATE/dockerd.log")"
    sleep 0.1
  done
  die "dockerd did not answer on $SOCK within 30 s; its log: $(tail -5 "$STATE/dockerd.log")"
}

have_images() {
  dk image inspect "$POSTGRES_IMAGE" "$REDIS_IMAGE" >/dev/null 2>&1
}

build_images() {
  local mirror=${ROO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  if ! dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "bootstrapping Debian bookworm minbase with $BASE_PACKAGES (mmdebstrap) as $BASE_IMAGE"
    # force-confold: keep the createcluster.conf the hook wrote (no conffile prompt)
    mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" \
      --essential-hook="$BASE_HOOK" --dpkgopt=force-confold --dpkgopt=force-confdef \
      --aptopt='Acquire::Languages "none"' bookworm - "$mirror" \
      | dk import - "$BASE_IMAGE" >/dev/null
  fi
  say "building $POSTGRES_IMAGE and $REDIS_IMAGE"
  # --network host: a build step that needs the network reaches it without NAT (no iptables)
  local log="$STATE/build"
  DOCKER_BUILDKIT=0 dk build -q --network host --build-arg "BASE=$BASE_IMAGE" \
    -t "$POSTGRES_IMAGE" "$RECIPES/postgres" >"$log-postgres.log" 2>&1 &
  local pg=$!
  DOCKER_BUILDKIT=0 dk build -q --network host --build-arg "BASE=$BASE_IMAGE" \
    -t "$REDIS_IMAGE" "$RECIPES/redis" >"$log-redis.log" 2>&1 \
    || die "the Redis image did not build: $(tail -20 "$log-redis.log")"
  wait "$pg" || die "the PostgreSQL image did not build: $(tail -20 "$log-postgres.log")"
  mkdir -p "$CACHE_DIR"
  say "saving the images to $CACHE_FILE"
  dk save "$POSTGRES_IMAGE" "$REDIS_IMAGE" | zstd -q -T0 -3 -o "$CACHE_FILE.tmp$$" \
    && mv -f "$CACHE_FILE.tmp$$" "$CACHE_FILE"
  # images of older recipes are not loaded again
  find "$CACHE_DIR" -maxdepth 1 -name 'images-*.tar.zst' ! -name "${CACHE_FILE##*/}" -delete
}

images() {
  have_images && return
  if [ -s "$CACHE_FILE" ]; then
    say "loading the images from $CACHE_FILE"
    if zstd -q -dc "$CACHE_FILE" | dk load -q >/dev/null && have_images; then
      return
    fi
    say "the cache file did not load; building instead"
    rm -f "$CACHE_FILE"
  fi
  build_images
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root (dockerd, a bridge): run as root or use a Docker engine you have"
  mkdir -p "$STATE"
  chmod 0711 "$STATE"
  install_missing
  start_bridge
  start_engine
  images
  print_env
}

down() {
  local pid
  if [ ! -f "$STATE/engine-started" ]; then
    say "no engine started by ci/docker.sh up"
  else
    if pid=$(engine_pid); then
      # remove the containers first: dockerd would otherwise wait for each to stop
      if ping; then
        dk ps -aq | xargs -r docker -H "unix://$SOCK" rm -f -v >/dev/null 2>&1 || true
      fi
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && { say "dockerd did not stop within 30 s: SIGKILL"; kill -KILL "$pid"; }
    fi
    rm -f "$STATE/engine-started"
  fi
  # what a killed engine may leave: its containerd and shims (they name the exec root), mounts
  local leftover
  # and the userland proxies of its published ports (they name a container address on the bridge)
  leftover=$( (pgrep -f -- "$STATE/exec"; pgrep -f -- "docker-proxy .*-container-ip ${BRIDGE_CIDR%.*}\.") || true)
  if [ -n "$leftover" ]; then
    say "stopping leftover engine processes: $leftover"
    # shellcheck disable=SC2086
    kill -KILL $leftover 2>/dev/null || true
  fi
  awk -v d="$DATA" -v s="$STATE" '$2 ~ "^"d || $2 ~ "^"s {print $2}' /proc/self/mounts \
    | sort -r | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  if [ -f "$STATE/bridge-created" ]; then
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -f "$STATE/bridge-created"
  fi
  rm -f "$SOCK"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  *) echo "usage: ci/docker.sh up|down|env" >&2; exit 2 ;;
esac
