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

# --- npm, in the background -----------------------------------------------------------------
# Unpacking Artillery's 65,000 files takes npm about half a minute; it runs while Python installs.
# --prefer-offline takes what npm's cache already holds without asking the registry again.
npm_log=$(mktemp)
npm_pid=""
npm_packages() {
  if [ -f package.json ]; then
    if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
      say "installing npm packages (npm ci)"
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefer-offline --no-audit --no-fund --silent \
        || return 1
      touch node_modules
    fi
  fi
  # the node socket.io server of tests/integration/socketio (a server not written here)
  local sio=tests/integration/socketio
  if [ -f $sio/package.json ]; then
    if [ ! -d $sio/node_modules ] || [ $sio/package.json -nt $sio/node_modules ]; then
      say "installing npm packages of $sio"
      (cd $sio && npm ci --prefer-offline --no-audit --no-fund --silent) || return 1
      touch $sio/node_modules
    fi
  fi
}
# whatever ends this script (a failed Python install too) waits for npm: nothing left running
trap 'if [ -n "$npm_pid" ]; then wait "$npm_pid" 2>/dev/null || true; fi; rm -f "$npm_log"' EXIT
if command -v npm >/dev/null 2>&1; then
  npm_packages >"$npm_log" 2>&1 &
  npm_pid=$!
else
  say "npm not found: Artillery scenarios and the node socket.io server will be skipped (install Node.js 18+ and npm)"
fi

# --- Python ------------------------------------------------------------------------------------
# uv installs the same packages from PyPI as pip, in seconds instead of about a minute; pip does
# it where uv cannot be had. Bytecode is compiled at install, as pip does: without it the first
# start of every module compiles it, and the reference system's cold start measures that.
# It runs niced: npm, in the background, is the longer of the two.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.roo-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages into .venv"
  if [ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q uv 2>/dev/null; then
    nice -n 10 .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python -e ".[dev]"
  else
    say "uv could not be installed; installing with pip"
    .venv/bin/python -m pip install -q -e ".[dev]"
  fi
  echo "$want" > "$stamp"
else
  say "Python packages up to date"
fi

if [ -n "$npm_pid" ]; then
  status=0
  wait "$npm_pid" || status=$?
  npm_pid=""
  cat "$npm_log" >&2
  if [ "$status" -ne 0 ]; then
    say "npm ci failed (output above)"
    exit 1
  fi
fi
