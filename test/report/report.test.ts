import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/html.ts';
import type { ReportData } from '../../src/report/types.ts';
import { useChromium } from '../setup/chromium.ts';

function sample(): ReportData {
  const classes = ['LAYING', 'SITTING', 'STANDING'];
  const version = (v: number, promoted: boolean) => ({
    version: v,
    promoted,
    reason: promoted ? 'beats production' : 'does not beat production',
    candidate: `knn-k${v}`,
    metrics: { accuracy: 0.9 + v / 100, macroF1: 0.89 + v / 100, precision_LAYING: 1 },
    confusion: {
      classes,
      matrix: [
        [10, 0, 0],
        [0, 8, 2],
        [0, 1, 9],
      ],
    },
    lineage: {
      topic: 'features',
      ranges: [{ partition: 0, fromOffset: 0, toOffset: 99, records: 60 }],
      records: 60,
      digest: `sha256:${'a'.repeat(64)}`,
    },
  });
  return {
    title: 'Activity Tracking run <test>',
    generatedAt: '2026-11-22T00:00:00.000Z',
    facts: { transport: 'embedded', phones: 3 },
    driftStart: 60,
    drifts: [
      { time: 70, device: 'user-02', feature: 'tGravityAcc-mean-x', activity: 'WALKING' },
      { time: 71, device: 'user-04', feature: 'tGravityAcc-mean-x', activity: 'SITTING' },
      { time: 75, device: 'user-09', feature: 'tGravityAcc-mean-y', activity: 'WALKING' },
      { time: 90, device: 'user-02', feature: null, activity: null },
    ],
    accuracy: [
      ...Array.from({ length: 20 }, (_, i) => ({ time: i * 5, accuracy: i < 13 ? 0.92 : 0.5, version: 1 })),
      ...Array.from({ length: 10 }, (_, i) => ({ time: 100 + i * 5, accuracy: 0.9, version: 2 })),
    ],
    deployments: [
      { time: 1, version: 1, event: 'succeeded' },
      { time: 99, version: 2, event: 'succeeded' },
    ],
    versions: [version(1, true), version(2, true), version(3, false)],
  };
}

describe('HTML report', () => {
  it('is self-contained and escapes what it shows', () => {
    const html = renderReport(sample());
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('Activity Tracking run &#60;test&#62;');
  });

  describe('in a real browser (headless Chromium)', () => {
    const browser = useChromium();

    it('renders the charts with one marker per drift and deployment, and a card per version', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'report-'));
      const file = path.join(dir, 'report.html');
      writeFileSync(file, renderReport(sample()));
      const page = await browser().newPage({ viewport: { width: 1100, height: 900 } });
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      await page.goto(`file://${file}`);
      expect(await page.locator('svg[data-chart="drift-timeline"] circle.drift-marker').count()).toBe(4);
      expect(await page.locator('svg[data-chart="accuracy"] polyline.accuracy-line').count()).toBe(2);
      expect(await page.locator('svg[data-chart="accuracy"] g.deployment-marker').count()).toBe(2);
      expect(await page.locator('section.version').count()).toBe(3);
      expect(await page.locator('section.version[data-promoted="false"]').count()).toBe(1);
      expect(await page.locator('table.confusion').count()).toBe(3);
      // Drawn, not just present: the charts have a real size on the page.
      const box = await page.locator('svg[data-chart="accuracy"]').boundingBox();
      expect(box!.width).toBeGreaterThan(500);
      expect(box!.height).toBeGreaterThan(100);
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(failed).toEqual([]);
      process.stdout.write(`[report] screenshot ${shot}\n`);
    }, 60_000);
  });
});
