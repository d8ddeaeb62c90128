#!/usr/bin/env bash
# Creates the project-local venv with river (the ADWIN reference) in .venv/river.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv/river"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import river' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/river/requirements.txt"
fi
echo "$venv/bin/python"
