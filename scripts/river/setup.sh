#!/usr/bin/env bash
# Creates a project-local venv with river and prints its python's path.
#   setup.sh          -> .venv/river          river 0.26.1 (Rust core): the reference of the golden fixtures
#   setup.sh cython   -> .venv/river-cython   river 0.21.2, the last release whose ADWIN core is Cython
#                        (bench/adwin.ts times it for context only: its ADWIN predates 0.22's MOA fixes)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
case "${1:-}" in
  "") venv="$root/.venv/river"; requirements="$root/scripts/river/requirements.txt" ;;
  cython) venv="$root/.venv/river-cython"; requirements="$root/scripts/river/requirements-cython.txt" ;;
  *) echo "usage: $0 [cython]" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import river' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$requirements" >&2
fi
echo "$venv/bin/python"
