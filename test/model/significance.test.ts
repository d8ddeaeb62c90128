import { describe, expect, it } from 'vitest';
import { comparePaired, mcnemarExact } from '../../src/model/significance.ts';

/** P(X >= b), X ~ Binomial(b + c, 1/2), by summing exact binomial coefficients (BigInt). */
function bruteForce(b: number, c: number): number {
  const n = b + c;
  let coeff = 1n;
  let tail = 0n;
  for (let k = 0; k <= n; k++) {
    if (k >= b) tail += coeff;
    coeff = (coeff * BigInt(n - k)) / BigInt(k + 1);
  }
  return Number((tail * 10n ** 18n) / 2n ** BigInt(n)) / 1e18;
}

describe('exact McNemar test', () => {
  it('matches the binomial tail computed exactly', () => {
    for (const [b, c] of [
      [0, 0],
      [1, 0],
      [5, 5],
      [10, 0],
      [12, 3],
      [3, 12],
      [40, 25],
      [200, 170],
    ]) {
      expect(mcnemarExact(b, c), `${b}/${c}`).toBeCloseTo(bruteForce(b, c), 12);
    }
    expect(mcnemarExact(10, 0)).toBeCloseTo(2 ** -10, 15);
  });

  it('stays finite where 2^-n underflows', () => {
    const p = mcnemarExact(1500, 1400);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.05);
    expect(mcnemarExact(1400, 1500)).toBeGreaterThan(0.95);
  });

  it('counts the discordant windows of two predictions against the truth', () => {
    const truth = ['a', 'a', 'b', 'b', 'c', 'c'];
    const challenger = ['a', 'a', 'b', 'b', 'c', 'x'];
    const champion = ['a', 'x', 'x', 'b', 'x', 'c'];
    const cmp = comparePaired(truth, challenger, champion);
    expect(cmp).toMatchObject({ n: 6, challengerOnly: 3, championOnly: 1 });
    expect(cmp.challengerAccuracy).toBeCloseTo(5 / 6);
    expect(cmp.championAccuracy).toBeCloseTo(3 / 6);
    expect(cmp.pValue).toBeCloseTo(5 / 16);
  });
});
