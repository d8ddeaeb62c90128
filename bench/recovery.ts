/**
 * bench:recovery — does accuracy come back after a drift, how soon, and how honest is the gate?
 *
 * Each scenario is the main job on the full data (`../shared/data/har`: 21 training phones, 9 test
 * phones, each test phone's recordings streamed once, drifted from the middle of its samples), run
 * with the drift and once without it (`rotation:z:0`, the identity): same model v1, same windows. Per
 * drift kind it reports (accuracies are fractions; gaps are percentage points):
 * - pre_drift_accuracy: v1 on the windows before each phone's drift;
 * - post_drift_old_model_accuracy: v1 on the drifted windows the loop had adapted to, as sent (uncalibrated);
 * - recovered_accuracy: live, on the drifted windows once the loop adapted to them: calibrated
 *   (docs/calibration.md) or served by a retrained version (none trained on them);
 * - no_drift_accuracy: the run without the drift on the same windows (device and sample range);
 * - drifted_windows_to_recover / stream_s_to_recover: drifted windows of all phones in order of time
 *   since their drift, until the rolling accuracy over the last 100 is within 3 points of the no-drift
 *   run's over the same windows, and the stream seconds since the drift at that window;
 *   stays_recovered: the share of later points that stay within those 3 points;
 * - drift_to_calibrated_wall_s: wall seconds from a retraining's trigger to the device calibration it
 *   published (the slowest);
 * - drift_to_promoted_wall_s: wall seconds from a retraining's trigger (the burst's first drift event,
 *   or the growth step) to its stored, promoted version, for the first promoted and the slowest;
 * - gate_estimate / live_accuracy_after_promotion / gate_gap: per promoted version, the gate's estimate
 *   and its live accuracy over its first 200 unseen windows (worst gap reported).
 * The phones wait while the loop retrains (as in `npm start`), so stream-time figures do not depend on
 * this machine's speed; wall times are this machine's.
 *
 * Run: npm run bench:recovery [-- --quick]   (quick: 2 kinds; needs ../shared/data/har)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type MainJobSummary, runMainJob } from '../src/cli/main-job.ts';
import { hasSharedHar } from '../src/data/hapt.ts';
import { isLiveEvidence } from '../src/evaluation/live.ts';
import { silentLogger } from '../src/log/logger.ts';
import type { Prediction } from '../src/schemas/types.gen.ts';
import { EmbeddedTrackingStore } from '../src/tracking/embedded/store.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';

const KINDS = ['rotation:y:90', 'rotation:z:45', 'bias:acc:0.2,0,0', 'gain:gyro:1.5', 'noise:acc:0.05'];
const QUICK = ['rotation:y:90', 'bias:acc:0.2,0,0'];
const ROLLING = 100;
const WITHIN_POINTS = 3;

async function scenario(drift: string): Promise<MainJobSummary> {
  const out = mkdtempSync(path.join(tmpdir(), 'bench-recovery-'));
  const transport = new EmbeddedLog();
  const backend = new EmbeddedTrackingStore(path.join(out, 'tracking'));
  const started = performance.now();
  try {
    const s = await runMainJob(
      transport,
      backend,
      {
        data: 'shared',
        drift,
        speed: 25,
        partitions: 3,
        reportPath: path.join(out, 'report.html'),
        registry: { trackingDir: path.join(out, 'tracking') },
      },
      silentLogger,
      () => {},
    );
    console.log(`  ${drift}: ${((performance.now() - started) / 1000).toFixed(0)} s, ${s.versions.length} versions`);
    return s;
  } finally {
    await transport.close();
    await backend.close();
  }
}

const windowKey = (p: Prediction) => `${p.device}:${p.window.firstSample}`;

function measure(drifted: MainJobSummary, clean: MainJobSummary) {
  const cleanHit = new Map<string, number>();
  for (const p of clean.predictions) if (p.label) cleanHit.set(windowKey(p), p.activity === p.label ? 1 : 0);
  // Drifted windows served by a retrained version that never trained on them, in order of time since the drift.
  const after = drifted.predictions
    .filter((p) => {
      const at = drifted.driftAtMs.get(p.device);
      return at !== undefined && p.window.start >= at && isLiveEvidence(p, drifted.trainedUntil);
    })
    .map((p) => ({
      p,
      since: (p.window.start - drifted.driftAtMs.get(p.device)!) / 1000,
      hit: p.activity === p.label ? 1 : 0,
      clean: cleanHit.get(windowKey(p)),
    }))
    .filter((w) => w.clean !== undefined)
    .sort((a, b) => a.since - b.since);
  // Handled: the window was calibrated, or a retrained version served it.
  const retrained = after.filter((w) => w.p.version !== 1 || w.p.calibration);
  const share = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  let recoveredAt = -1;
  let stay = 0;
  let later = 0;
  for (let i = ROLLING - 1; i < after.length; i++) {
    const slice = after.slice(i - ROLLING + 1, i + 1);
    const gap = (share(slice.map((w) => w.clean!))! - share(slice.map((w) => w.hit))!) * 100;
    if (recoveredAt < 0 && gap <= WITHIN_POINTS) recoveredAt = i;
    else if (recoveredAt >= 0) {
      later++;
      if (gap <= WITHIN_POINTS) stay++;
    }
  }
  const promoted = drifted.versions.filter((v) => v.version > 1 && v.promoted);
  const gates = promoted.map((v) => ({
    version: v.version,
    trigger: v.trigger,
    gate_estimate: v.gateEstimate,
    live_accuracy_after_promotion: v.live.accuracy,
    live_windows: v.live.windows,
    gate_gap:
      v.live.accuracy === null || v.gateEstimate === null ? null : Math.abs(v.gateEstimate - v.live.accuracy) * 100,
    wall_s: v.wallSeconds,
  }));
  const recovered = share(retrained.map((w) => w.hit));
  const noDrift = share(retrained.map((w) => w.clean!));
  return {
    pre_drift_accuracy: drifted.accuracy.beforeDrift.accuracy,
    post_drift_old_model_accuracy: drifted.accuracy.afterDriftOldModel.accuracy,
    recovered_accuracy: recovered,
    no_drift_accuracy: noDrift,
    recovered_windows: retrained.length,
    recovered_gap_points: recovered === null || noDrift === null ? null : (noDrift - recovered) * 100,
    drifted_windows_to_recover: recoveredAt < 0 ? null : recoveredAt + 1,
    stream_s_to_recover: recoveredAt < 0 ? null : after[recoveredAt].since,
    stays_recovered: later > 0 ? stay / later : null,
    first_detection_s: Object.values(drifted.firstDetectionSeconds),
    calibrations: drifted.calibrations.map(
      (c) => `${c.device} ${c.model} ${c.degrees.toFixed(0)}° ${c.offsetNorm.toFixed(2)} g (${c.activities.length})`,
    ),
    drift_to_calibrated_wall_s: drifted.calibrations.length
      ? Math.max(...drifted.calibrations.map((c) => (c.at - c.requestedAt) / 1000))
      : null,
    drift_to_promoted_wall_s: gates[0]?.wall_s ?? null,
    slowest_promotion_wall_s: Math.max(...gates.map((g) => g.wall_s ?? 0), 0),
    gate_estimate: gates[0]?.gate_estimate ?? null,
    live_accuracy_after_promotion: gates[0]?.live_accuracy_after_promotion ?? null,
    gate_gap: gates[0]?.gate_gap ?? null,
    worst_gate_gap: Math.max(...gates.map((g) => g.gate_gap ?? 0), 0),
    versions: drifted.versions.length,
    promoted: gates,
  };
}

if (!hasSharedHar()) {
  console.error('bench:recovery needs the full recordings in ../shared/data/har');
  process.exit(2);
}
const kinds = process.argv.includes('--quick') ? QUICK : KINDS;
console.log(
  `bench:recovery: ${kinds.length} drift kinds and a run without drift, full data, phones held while retraining`,
);
const clean = await scenario('rotation:z:0');
const results: Record<string, ReturnType<typeof measure>> = {};
for (const kind of kinds) {
  results[kind] = measure(await scenario(kind), clean);
  const r = results[kind];
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  console.log(
    `    before ${pct(r.pre_drift_accuracy)}, old model after ${pct(r.post_drift_old_model_accuracy)}, recovered ${pct(r.recovered_accuracy)} vs no drift ${pct(r.no_drift_accuracy)} over ${r.recovered_windows} windows; ` +
      `back within ${WITHIN_POINTS} points after ${r.drifted_windows_to_recover ?? 'never'} drifted windows (${r.stream_s_to_recover?.toFixed(0) ?? '-'} s of stream); ` +
      `calibrations ${r.calibrations.length} (slowest ${r.drift_to_calibrated_wall_s?.toFixed(1) ?? '-'} s wall); ` +
      `first promotion ${r.drift_to_promoted_wall_s?.toFixed(1) ?? '-'} s wall, gate ${pct(r.gate_estimate)} vs live ${pct(r.live_accuracy_after_promotion)}`,
  );
}
const worst = (f: (r: ReturnType<typeof measure>) => number | null) =>
  Math.max(...Object.values(results).map((r) => f(r) ?? Number.POSITIVE_INFINITY));
const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
console.log(
  JSON.stringify({
    worst_recovered_gap_points: round(worst((r) => r.recovered_gap_points)),
    worst_drift_to_promoted_wall_s: round(worst((r) => r.slowest_promotion_wall_s)),
    worst_drift_to_calibrated_wall_s: round(
      Math.max(0, ...Object.values(results).map((r) => r.drift_to_calibrated_wall_s ?? 0)),
    ),
    worst_gate_gap_points: round(worst((r) => r.worst_gate_gap)),
    worst_drifted_windows_to_recover: round(worst((r) => r.drifted_windows_to_recover)),
    no_drift_versions: clean.versions.length,
    kinds: results,
  }),
);
