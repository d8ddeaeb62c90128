#!/usr/bin/env bash
# Checks that `npm pack` makes a package that installs into an empty folder and runs there with plain node
# (issue 18): no dev dependency (tsx, typescript) installed, `activity-tracking --help` and `serve --help`
# work, and `serve` answers /readyz on a model from a folder that is not the package's.
#
#   scripts/pack-check.sh       about 45 s (pack with its build ~15 s, install from the registry ~25 s)
#
# Too slow for the test suite (needs the registry too); run it before a release. Leaves nothing behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pack-check-XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
echo "pack-check: $(basename "$tgz"), $(du -k "$tgz" | cut -f1) KiB"

mkdir "$work/app"
cd "$work/app"
npm install --silent --no-audit --no-fund "$tgz"
for dev in tsx typescript vitest; do
  if [ -e "node_modules/$dev" ]; then echo "pack-check: dev dependency $dev was installed" >&2; exit 1; fi
done
npx activity-tracking --help >/dev/null
npx activity-tracking serve --help >/dev/null
echo "pack-check: --help and serve --help work"

# The client library through the package's entry point (package.json exports), as a user's service imports it.
node --input-type=module -e "
  import { connect } from 'activity-tracking';
  const client = await connect({ transport: 'embedded' });
  await client.sendReadings('pack-phone', Array.from({ length: 50 }, () => [0, 0, 1, 0, 0, 0]));
  await client.close();
"
echo "pack-check: import { connect } from 'activity-tracking' works"

# A model written by the package's own code (the serving side's loader reads what this writes).
pkg="$work/app/node_modules/activity-tracking/dist/src"
node --input-type=module -e "
  const { KnnClassifier, serializeModel } = await import('$pkg/model/index.js');
  const { writeModelDirectory } = await import('$pkg/serving/model-source.js');
  const rows = [0, 0, 5, 5].map((c, i) => Float64Array.from([c + i * 0.1, c]));
  const data = { featureSet: 'check-2', featureNames: ['a', 'b'], rows, labels: ['SITTING', 'SITTING', 'WALKING', 'WALKING'] };
  const { bytes, digest } = serializeModel(KnnClassifier.train(data, { k: 1 }), data.featureNames);
  await writeModelDirectory('$work/models', { name: 'har', version: 1 }, bytes, digest);
"
# node itself, not npx: $! must be the server's pid for the SIGTERM below (npx does not pass it on).
node node_modules/.bin/activity-tracking serve --model har --version 1 --artifact "$work/models" --port 0 \
  >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 100); do
  if grep -q '"ready":true' "$work/serve.out"; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$work/serve.err" >&2; exit 1; fi
  sleep 0.1
done
url="$(node -e "console.log(JSON.parse(require('fs').readFileSync('$work/serve.out', 'utf8').split('\n')[0]).url)")"
node -e "fetch('$url/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
echo "pack-check: serve answered /readyz at $url"
kill -TERM "$server"
code=0
wait "$server" || code=$?
server=""
if [ "$code" -ne 0 ]; then echo "pack-check: serve exited with $code on SIGTERM" >&2; exit 1; fi
echo "pack-check: ok in $(($(date +%s) - started)) s"
