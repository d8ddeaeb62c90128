import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMainJob } from '../../src/cli/main-job.ts';
import type { DashboardSnapshot } from '../../src/dashboard/state.ts';
import { isLiveEvidence } from '../../src/evaluation/live.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { ModelEvent } from '../../src/schemas/types.gen.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { MlflowTrackingStore } from '../../src/tracking/mlflow/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import { requireMlflow, testKafka } from '../setup/services.ts';
import { dashboardSnapshot } from '../support/dashboard.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The README's first command, in-process: the whole loop on the bundled sample, on the embedded log and
 * store (`embedded`) or on the real broker and a real MLflow server (`real`). Each kind has its own test
 * file, so that the two (the longest cases of the suite) run side by side.
 */
export function describeMainJob(name: string, kind: 'embedded' | 'real'): void {
  describe(`main job on ${name}`, () => {
    it('trains, serves, detects the drift, retrains, switches, and reports the recovery', {
      timeout: 400_000,
    }, async () => {
      const out = mkdtempSync(path.join(tmpdir(), 'main-job-'));
      const real = kind === 'real';
      const transport = real ? testKafka('main-job-test') : new EmbeddedLog();
      const mlflow = real ? await requireMlflow() : '';
      const backend = real
        ? new MlflowTrackingStore({ uri: mlflow })
        : new EmbeddedTrackingStore(path.join(out, 'tracking'));
      const model = `activity-classifier-${path.basename(out)}`;
      const lines: string[] = [];
      const topics = namespacedTopics(`main-${path.basename(out)}`);
      // The dashboard `run` serves, looked at once the test phones stream: their samples/s shows.
      let dashboardUrl: string | undefined;
      let dashboardSeen: Promise<DashboardSnapshot> | undefined;
      const print = (line: string) => {
        lines.push(line);
        dashboardUrl ??= /^dashboard: (http:\/\/127\.0\.0\.1:\d+)\/$/.exec(line)?.[1];
        if (dashboardUrl && !dashboardSeen && line.startsWith('test phones')) {
          const url = dashboardUrl;
          dashboardSeen = (async () => {
            let snapshot: DashboardSnapshot | undefined;
            await waitFor(
              async () => {
                snapshot = await dashboardSnapshot(url);
                return snapshot.devices.some((d) => d.samplesPerSecond > 0);
              },
              'the dashboard to show the test phones streaming',
              { timeoutMs: 120_000, intervalMs: 500 },
            );
            return snapshot!;
          })();
          dashboardSeen.catch(() => undefined);
        }
      };
      try {
        const s = await runMainJob(
          transport,
          backend,
          {
            data: 'sample',
            drift: 'rotation:z:45',
            speed: 25,
            partitions: 3,
            reportPath: path.join(out, 'report.html'),
            registry: real ? { trackingUri: mlflow } : { trackingDir: path.join(out, 'tracking') },
            model,
            topics,
            dashboard: { port: 0 },
          },
          silentLogger,
          print,
        );
        expect(s.devices).toBe(3);
        expect(s.deadLetters).toBe(0);
        for (const [device, t] of Object.entries(s.firstDetectionSeconds)) expect(t, device).not.toBeNull();
        expect(s.versions[0]).toMatchObject({ version: 1, promoted: true, trigger: 'bootstrap' });
        const retrained = s.versions.slice(1).filter((v) => v.promoted);
        // The loop adapts by calibrating the drifted phones or by a retrained version, whichever comes
        // first: once the phones are calibrated, a retrained version need not beat production (a
        // fresh-clone run under load promoted none and recovered all the same). At least one of the two.
        expect(retrained.length + s.calibrations.length).toBeGreaterThan(0);
        for (const v of retrained) {
          // Each promotion is the paired test's decision, on post-drift windows neither model trained on.
          expect(v.reason).toMatch(/beats production v\d+ at alpha 0.05/);
          expect(v.pValue!).toBeLessThan(0.05);
          expect(v.gateWindows!).toBeGreaterThanOrEqual(40);
        }
        const champion = (await backend.byAlias(model, CHAMPION))!.version;
        expect(champion).toBe(retrained.length > 0 ? retrained[retrained.length - 1].version : 1);
        // The phones wait while the loop retrains, so the story does not depend on the machine's speed:
        // the drift costs the old model, and the retrained versions win part of it back on the same
        // windows, hundreds of them, none of which they trained on. (Measured on this sample: 85.7 % before,
        // 63.3 % old model, 78.4 % retrained; "within 5 points of before" is not reached, see the issue notes.)
        const { beforeDrift, afterDriftOldModel, afterDriftAdapted } = s.accuracy;
        expect(afterDriftAdapted.windows).toBeGreaterThanOrEqual(300);
        expect(afterDriftOldModel.windows).toBe(afterDriftAdapted.windows);
        expect(afterDriftOldModel.accuracy!).toBeLessThan(beforeDrift.accuracy! - 0.1);
        expect(afterDriftAdapted.accuracy!).toBeGreaterThan(afterDriftOldModel.accuracy! + 0.05);
        // Live accuracy counts only windows a version never trained on (its trained-until horizon).
        for (const p of s.predictions) {
          const until = s.trainedUntil.get(p.version);
          if (p.version > 1 && until && p.label && p.window.firstSample! <= (until[p.device] ?? -1))
            expect(isLiveEvidence(p, s.trainedUntil)).toBe(false);
        }
        for (const v of s.versions.filter((v) => v.live.windows > 0)) expect(v.live.windows).toBeLessThanOrEqual(200);
        // The predictor published each version's live accuracy once it had 200 such windows, beside the gate's estimate.
        const evaluated: ModelEvent[] = [];
        for await (const r of readTopic(transport, topics.modelEvents)) {
          const e = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.model] }).data as ModelEvent;
          if (e.event === 'evaluated') evaluated.push(e);
        }
        const full = s.versions.filter((v) => v.live.windows === 200).map((v) => v.version);
        expect(full.length).toBeGreaterThan(0);
        expect(evaluated.map((e) => e.version).sort()).toEqual(expect.arrayContaining(full));
        for (const e of evaluated) {
          expect(e.live!.windows).toBe(200);
          expect(e.live!.accuracy).toBeGreaterThan(0);
        }
        expect(existsSync(s.reportPath)).toBe(true);
        const html = readFileSync(s.reportPath, 'utf8');
        expect(html).toContain('data-chart="drift-timeline"');
        expect(html.match(/<section class="version"/g)?.length).toBe(s.versions.length);
        expect(lines.some((l) => l.includes('test phones'))).toBe(true);
        expect(dashboardSeen, lines.join('\n')).toBeDefined();
        const seen = await dashboardSeen!;
        expect(seen.devices.filter((d) => d.samplesPerSecond > 0).length).toBeGreaterThan(0);
        expect(seen.versions.map((v) => v.version)).toContain(1);
        // The report shows each version's gate estimate next to its live accuracy (metrics on its run), for
        // every version that served its 200 live windows (v1, and a retrained one when one was promoted).
        expect(
          html.match(/<p class="gate-live" data-gate="0?\.?\d*" data-live="0\.\d+"/g)?.length,
        ).toBeGreaterThanOrEqual(full.length);
      } finally {
        await transport.close();
      }
    });
  });
}
