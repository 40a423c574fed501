#!/usr/bin/env bash
# Shared by scripts/demo and scripts/test: make this checkout ready to run, idempotently.
#  - Debian packages chromium and chromium-driver (apt-get update first) when missing,
#    and python3-venv when the system Python cannot make a venv;
#  - Debian's postgresql package when missing (its server binaries start the tests' throwaway
#    cluster; the system's own cluster is not used);
#  - Debian's nodejs and npm when missing (sao, Tryton's web client, comes from npm);
#  - a venv in .venv with paybot installed (editable) with its dev tools, the postgres extra
#    and the pinned [tryton] extra, and sao at its pinned version in ~/.cache/paybot/tryton;
#  - our `robot` command on .venv/bin, not Robot Framework's.
# Safe to run again: it only installs what is missing or what pyproject.toml changed.
set -euo pipefail

PAYBOT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PAYBOT_VENV:-$PAYBOT_ROOT/.venv}"
PYTHON="${PAYBOT_PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "Installing Debian packages: $*"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

ensure_system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  # Tryton's web client (sao) comes from the npm registry (robot tryton setup).
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3)
  if [ ! -x "$VENV/bin/python" ] && command -v "$PYTHON" >/dev/null 2>&1 \
     && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  "$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"paybot needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.paybot-installed"
  local want
  want="$( { cat "$PAYBOT_ROOT/pyproject.toml"; cat "$PAYBOT_ROOT/constraints.txt" 2>/dev/null || true; } | sha256sum | cut -c1-64)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! "$VENV/bin/python" -c 'import paybot, mockerp, psycopg, alembic, trytond' 2>/dev/null; then
    say "Installing paybot and its packages into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    local constraints=()
    [ -f "$PAYBOT_ROOT/constraints.txt" ] && constraints=(-c "$PAYBOT_ROOT/constraints.txt")
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${constraints[@]}" -e "$PAYBOT_ROOT[dev,postgres,tryton]"
    echo "$want" > "$stamp"
  fi
  # Robot Framework writes a `robot` script too; when it was (re)installed after us, ours is
  # put back. `robot --paybot-version` only answers when the script is ours.
  if ! "$VENV/bin/robot" --paybot-version >/dev/null 2>&1; then
    say "Putting paybot's robot command back in front of Robot Framework's"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall -e "$PAYBOT_ROOT"
  fi
}

# sao (Tryton's web client) at its pinned version from npm, into the cache that
# `robot tryton setup` and the Tryton tests use; once (a second call finds it installed).
ensure_sao() {
  if ! "$VENV/bin/python" -c 'from trytonerp.cli import default_cache; from trytonerp.sao import sao_root; import sys; sys.exit(0 if (sao_root(default_cache()) / ".installed").exists() else 1)' 2>/dev/null; then
    say "Installing sao (Tryton's web client) from npm"
    "$VENV/bin/python" -c 'from trytonerp.cli import default_cache; from trytonerp.sao import ensure_sao; print(ensure_sao(default_cache()))'
  fi
}

ensure_env() {
  ensure_system_packages
  ensure_venv
  ensure_sao
  export PATH="$VENV/bin:$PATH"
}
