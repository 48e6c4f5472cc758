#!/usr/bin/env bash
# Idempotent setup for pytest-roo on a Debian/Ubuntu machine: system packages (apt, only what
# is missing), a virtualenv .venv with the Python dependencies, and the npm packages.
#   ci/bootstrap.sh                 everything
#   ci/bootstrap.sh --system-only   apt packages only (CI images that bring their own Python)
set -euo pipefail
cd "$(dirname "$0")/.."

system_only=0
[ "${1:-}" = "--system-only" ] && system_only=1

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- system packages ---------------------------------------------------------------------------
. /etc/os-release 2>/dev/null || true
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 \
  || need+=(postgresql)
# the load-hosts test starts its own sshd on 127.0.0.1 (the system's sshd is not started:
# policy-rc.d below keeps the package from starting it)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
if [ "${ID:-}" = "debian" ]; then
  # Playwright cannot download its browsers here: drive Debian's (see docs/browser.md).
  [ -x /usr/lib/chromium/chromium ] || need+=(chromium)
  command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${need[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
  # Debian's postgresql packages try to start a cluster: not wanted, pytest-roo starts its own.
  echo 'exit 101' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}"
  $sudo rm -f /usr/sbin/policy-rc.d
else
  say "system packages present"
fi
[ "$system_only" -eq 1 ] && exit 0

# --- Python ------------------------------------------------------------------------------------
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.roo-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
else
  say "Python packages up to date"
fi

# --- npm ---------------------------------------------------------------------------------------
if [ -f package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
    say "installing npm packages"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent
    touch node_modules
  fi
fi
# the node socket.io server of tests/integration/socketio (a server not written here)
sio=tests/integration/socketio
if [ -f $sio/package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d $sio/node_modules ] || [ $sio/package.json -nt $sio/node_modules ]; then
    say "installing npm packages of $sio"
    (cd $sio && npm ci --no-audit --no-fund --silent) && touch $sio/node_modules
  fi
fi
