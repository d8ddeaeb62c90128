#!/usr/bin/env bash
# A real MLflow tracking server on 127.0.0.1 for the tests and for local use, from PyPI, without Docker.
#
#   scripts/services/mlflow.sh setup    make the venv and install mlflow (once per requirements file, kept per user)
#   scripts/services/mlflow.sh start    start the server (SQLite backend, artifacts through its proxy); waits for /health
#   scripts/services/mlflow.sh stop     stop it by its pid (SIGTERM, then SIGKILL after 20 s)
#   scripts/services/mlflow.sh status   exit 0 when running
#   scripts/services/mlflow.sh venv     setup, then print the venv's path (bench:serving runs `mlflow models serve` from it)
#
# Versions: scripts/services/mlflow-requirements.txt. Environment: MLFLOW_PORT (15000), MLFLOW_DATA_DIR (.data/mlflow-<port>),
# MLFLOW_FRESH=1 wipes the data before start, MLFLOW_VENV (~/.cache/activity-tracking/mlflow-<requirements hash>:
# the venv depends only on the requirements, so it is kept per user like Maven's ~/.m2, and a fresh clone
# starts the server in seconds instead of a minute of pip install). Point the system at it with MLFLOW_TRACKING_URI=http://127.0.0.1:<port>.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
requirements="$root/scripts/services/mlflow-requirements.txt"
version="$(sed -n 's/^mlflow==//p' "$requirements")"
port="${MLFLOW_PORT:-15000}"
venv="${MLFLOW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/activity-tracking/mlflow-$(sha256sum "$requirements" | cut -c1-12)}"
data="${MLFLOW_DATA_DIR:-$root/.data/mlflow-$port}"
pidfile="$data/mlflow.pid"

setup() {
  if [ -f "$venv/.requirements" ] && cmp -s "$venv/.requirements" "$requirements"; then return 0; fi
  command -v python3 >/dev/null || { echo "mlflow.sh: python3 is needed" >&2; exit 1; }
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  setup
  if running; then echo "mlflow already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if [ "${MLFLOW_FRESH:-0}" = 1 ]; then rm -rf "$data"; fi
  mkdir -p "$data/artifacts"
  # --workers 1: one process, so the pid stops it all; telemetry off: no network here.
  MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true nohup "$venv/bin/mlflow" server \
    --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$data/mlflow.db" \
    --serve-artifacts --artifacts-destination "$data/artifacts" \
    > "$data/server.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      echo "mlflow $version ready on http://127.0.0.1:$port (pid $(cat "$pidfile"), data $data)"
      return 0
    fi
    if ! running; then
      echo "mlflow.sh: the server exited during start; last lines of its log:" >&2
      tail -n 30 "$data/server.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "mlflow.sh: the server did not answer /health within 120 s (see $data/server.log)" >&2
  exit 1
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "mlflow not running"; return 0; fi
  pid="$(cat "$pidfile")"
  # The server forks workers (gunicorn/uvicorn): stop the whole process group when it has its own.
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "mlflow stopped"; return 0; }
    sleep 0.25
  done
  pkill -KILL -P "$pid" 2>/dev/null || true
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "mlflow killed after 20 s"
}

case "${1:-}" in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  status) running ;;
  venv) setup >&2; echo "$venv" ;;
  *) echo "usage: $0 setup|start|stop|status|venv" >&2; exit 2 ;;
esac
