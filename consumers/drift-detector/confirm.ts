import type { DriftFinding } from '../../src/drift/bank.ts';

export interface ConfirmationOptions {
  /** Distinct features that must drift within `windowVectors` before any is reported. @defaultValue 3 */
  minFeatures?: number;
  /** How many vectors of one device and activity a confirmation may span. @defaultValue 16 */
  windowVectors?: number;
}

export interface Pending {
  finding: DriftFinding;
  at: number;
  reported: boolean;
}

/**
 * Turns raw per-feature ADWIN alarms of one (device, activity) stream into
 * reported drifts. With ~240 features at delta = 0.002, single-feature alarms
 * on real, non-stationary signals are frequent; a real change (a rotated phone,
 * a biased sensor) moves many features at once. A finding is reported only
 * when at least `minFeatures` distinct features alarmed within the last
 * `windowVectors` vectors; then every pending finding of that burst is reported
 * with the count of features that confirmed it. Alarms that never reach the
 * quorum expire unreported (counted by the caller). docs/drift.md.
 */
export class Confirmation {
  readonly minFeatures: number;
  readonly windowVectors: number;
  #pending: Pending[] = [];

  constructor(options: ConfirmationOptions = {}) {
    this.minFeatures = options.minFeatures ?? 3;
    this.windowVectors = options.windowVectors ?? 16;
  }

  /**
   * Adds the findings of the vector at index `at` (a running count per stream);
   * returns the findings to report now, each with its confirming feature count,
   * and how many unreported alarms expired.
   */
  add(
    findings: readonly DriftFinding[],
    at: number,
  ): { report: { finding: DriftFinding; at: number; confirmedBy: number }[]; expired: number } {
    let expired = 0;
    if (this.#pending.length > 0) {
      const keep: Pending[] = [];
      for (const p of this.#pending) {
        if (at - p.at < this.windowVectors) keep.push(p);
        else if (!p.reported) expired++;
      }
      this.#pending = keep;
    }
    if (findings.length === 0) return { report: [], expired };
    for (const finding of findings) this.#pending.push({ finding, at, reported: false });
    const distinct = new Set(this.#pending.map((p) => p.finding.index)).size;
    if (distinct < this.minFeatures) return { report: [], expired };
    const report = [];
    for (const p of this.#pending) {
      if (p.reported) continue;
      p.reported = true;
      report.push({ finding: p.finding, at: p.at, confirmedBy: distinct });
    }
    return { report, expired };
  }

  /** The alarms awaiting their quorum, for a checkpoint. */
  pending(): readonly Pending[] {
    return this.#pending;
  }

  /** A confirmation continuing from `pending()` of another. */
  static restore(options: ConfirmationOptions | undefined, pending: Pending[]): Confirmation {
    const c = new Confirmation(options);
    c.#pending = pending.map((p) => ({ ...p, finding: { ...p.finding } }));
    return c;
  }
}
