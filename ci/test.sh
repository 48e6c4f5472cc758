#!/usr/bin/env bash
# The tests of pytest-roo: set up what is missing, then lint, type-check and run every tier.
# The docker-backend tier runs against a private engine (ci/docker.sh) where one can be started
# (root on Debian); elsewhere it is skipped with the reason.
#   ROO_CI_STEPS="docker" ci/test.sh    only some steps: bootstrap lint types tests docker
set -euo pipefail
cd "$(dirname "$0")/.."
steps=" ${ROO_CI_STEPS:-bootstrap lint types tests docker} "
step() { [[ "$steps" == *" $1 "* ]]; }

step bootstrap && ci/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
step lint && ruff check .
step types && mypy
step tests && pytest --doctest-modules pytest_roo -q -p no:cacheprovider
step tests && pytest tests -n 2 --dist worksteal "$@"

docker_tier_blocker() {
  [ "$(id -u)" -eq 0 ] || { echo "not root (a private dockerd and its bridge need root)"; return; }
  . /etc/os-release 2>/dev/null || true
  [ "${ID:-}" = debian ] || { echo "not Debian (the images are built from Debian packages)"; return; }
  command -v ip >/dev/null 2>&1 || { echo "no ip command (iproute2) for the bridge"; return; }
}

if step docker; then
  blocker=$(docker_tier_blocker)
  if [ -n "$blocker" ]; then
    echo "test.sh: docker tier skipped: $blocker; GitHub Actions runs it with its own engine" >&2
  else
    started=0
    [ -f "${ROO_DOCKER_STATE:-/run/pytest-roo-docker}/engine-started" ] || started=1
    # stop the engine afterwards (also when `up` fails half-way) only if this run starts it
    [ "$started" -eq 1 ] && trap 'ci/docker.sh down' EXIT
    settings=$(ci/docker.sh up)
    eval "$settings"
    ROO_CI_DOCKER=1 pytest tests/integration/services/test_services_docker.py \
      tests/integration/services/test_services_backends.py::test_docker_backend \
      tests/integration/monitor/test_container_stats.py \
      -n 2 -p no:cacheprovider "$@"
  fi
fi
