# Sourced by scripts/serve and scripts/test: make sure .venv exists and holds what the caller needs.
#
#   source scripts/_venv.sh serve     # the server only
#   source scripts/_venv.sh test      # the server and the test tools (extra "test")
#
# Always pass the argument: a file sourced without arguments sees the caller's "$@" (this is how
# `scripts/serve --port 8081` once reached pip as `.[--port]`).
#
# One .venv serves both scripts. A stamp file records the hash of the packaging files and the
# extras installed; nothing is installed again while they still hold, so switching between
# scripts/serve and scripts/test starts in seconds and works offline once installed. The package
# is installed in editable mode: a change to the code needs no reinstall, only a change of
# setup.cfg or pyproject.toml does.
set -euo pipefail
case "${1:-}" in
  serve) _want="" ;;
  test) _want="test" ;;
  *) echo "scripts/_venv.sh: say 'serve' or 'test', not '${1:-}'" >&2; exit 2 ;;
esac
_py="${PYTHON:-python3}"
_hash="$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)"
_stamp=".venv/.installed-$_hash"
_have=""
if [ -f "$_stamp" ]; then _have="$(cat "$_stamp")"; fi
if [ ! -x .venv/bin/python ]; then
  echo "First run: creating the virtual environment in .venv (once) ..."
  "$_py" -m venv .venv
fi
# Extras already installed stay installed: the union of what was there and what is asked for.
_extras="$(printf '%s\n%s\n' "$_have" "$_want" | tr ', ' '\n\n' | sed '/^$/d' | sort -u | paste -sd, -)"
if [ ! -f "$_stamp" ] || [ "$_extras" != "$_have" ]; then
  echo "Installing repo-server${_extras:+ with [$_extras]} and its dependencies into .venv" \
       "(once; a minute or two) ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${_extras:+[$_extras]}"
  rm -f .venv/.installed-*
  printf '%s\n' "$_extras" > "$_stamp"
fi
unset _want _py _hash _stamp _have _extras
export PATH="$PWD/.venv/bin:$PATH"
