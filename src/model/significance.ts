/**
 * Paired comparison of two classifiers on the same labelled windows.
 *
 * McNemar's test looks only at the discordant windows: `b` where the
 * challenger is right and the champion wrong, `c` the other way round. Under
 * "no difference" each discordant window is a fair coin, so the one-sided exact
 * p-value is P(X >= b) for X ~ Binomial(b + c, 1/2). The exact form is used at
 * every size (no chi-squared approximation): the gate often decides on a few
 * dozen discordant windows, where the approximation is poor (Edwards 1948;
 * Fagerland, Lydersen & Laake, BMC Med Res Methodol 2013).
 */
export interface PairedComparison {
  /** Windows compared. */
  n: number;
  /** Windows the challenger got right and the champion wrong. */
  challengerOnly: number;
  /** Windows the champion got right and the challenger wrong. */
  championOnly: number;
  challengerAccuracy: number;
  championAccuracy: number;
  /** One-sided exact McNemar p-value for "the challenger is more accurate". */
  pValue: number;
}

/** One-sided exact McNemar p-value: P(X >= b), X ~ Binomial(b + c, 1/2). 1 when nothing is discordant. */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  // Sum the upper tail in log space: n reaches thousands of windows, where 2^-n underflows.
  let logTerm = -n * Math.LN2; // log C(n, 0) 2^-n
  const terms: number[] = [];
  for (let k = 0; k <= n; k++) {
    if (k >= b) terms.push(logTerm);
    logTerm += Math.log(n - k) - Math.log(k + 1);
  }
  const max = Math.max(...terms);
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - max);
  return Math.min(1, Math.exp(max) * sum);
}

/** Compares two label sequences predicted for the same windows against the truth. */
export function comparePaired(
  truth: readonly string[],
  challenger: readonly string[],
  champion: readonly string[],
): PairedComparison {
  const n = truth.length;
  let b = 0;
  let c = 0;
  let right1 = 0;
  let right2 = 0;
  for (let i = 0; i < n; i++) {
    const a = challenger[i] === truth[i];
    const z = champion[i] === truth[i];
    if (a) right1++;
    if (z) right2++;
    if (a && !z) b++;
    else if (z && !a) c++;
  }
  return {
    n,
    challengerOnly: b,
    championOnly: c,
    challengerAccuracy: n > 0 ? right1 / n : 0,
    championAccuracy: n > 0 ? right2 / n : 0,
    pValue: mcnemarExact(b, c),
  };
}
