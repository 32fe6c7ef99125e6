# Sourced by scripts/serve and scripts/test: make sure .venv exists and holds what setup.cfg asks.
# Re-installs only when setup.cfg changed since the last install.
set -euo pipefail
PY="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ..."
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum setup.cfg | cut -c1-16)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
  echo "Installing repo-server and its dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
