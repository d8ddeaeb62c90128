/** Intervals between consecutive readings (gaps left out) behind the input-rate estimate. */
export const RATE_INTERVALS = 32;
/** Rates phones deliver; an estimate within RATE_SNAP (relative) of one is taken to be it. */
const NOMINAL_RATES = [40, 50, 100, 200, 400];
const RATE_SNAP = 0.15;

/**
 * Robust input rate from the first `RATE_INTERVALS` reading intervals: intervals above 4× their
 * median (a hiccup, not jitter) are left out and the rest averaged. The mean of consecutive
 * intervals telescopes to (span / count), so ±2 ms timestamp jitter moves it by at most
 * 4 ms / span (≈ 5 % at 400 Hz over 32 intervals, less at lower rates), where the median of
 * such jittered intervals wanders by ~15 % at 400 Hz. The result snaps to a nominal rate within
 * 15 %. It only places the anti-aliasing filter's cut-off (and whether there is one): timing comes
 * from the timestamps themselves, so an error of a few % is harmless.
 */
export function estimateRate(intervals: Float64Array, n: number): number {
  if (n === 0) return 0;
  const sorted = intervals.slice(0, n).sort();
  const median = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  let sum = 0;
  let used = 0;
  for (let i = 0; i < n; i++) {
    if (sorted[i] <= 4 * median) {
      sum += sorted[i];
      used++;
    }
  }
  const rate = sum > 0 ? (1000 * used) / sum : 0;
  for (const nominal of NOMINAL_RATES) if (Math.abs(rate / nominal - 1) <= RATE_SNAP) return nominal;
  return rate;
}
