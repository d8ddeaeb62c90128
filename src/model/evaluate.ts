import { InvalidValueError } from '../errors.ts';

/** Precision and recall of one class (0 when the class was never predicted / never true). */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class is this one. */
  support: number;
}

export interface Evaluation {
  /** Class names in a fixed order: the rows and columns of `confusion`. */
  classes: string[];
  accuracy: number;
  /** Unweighted mean of the per-class F1 over `classes` (a class without support still counts, with F1 0). */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** `confusion[t][p]`: rows of true class `classes[t]` predicted as `classes[p]`. */
  confusion: number[][];
  rows: number;
}

/**
 * Scores predictions against the truth. The class order is `classes` when given
 * (so that two models are compared on the same axes), otherwise the sorted
 * union of the true and predicted labels.
 */
export function evaluate(
  truth: readonly string[],
  predicted: readonly string[],
  classes?: readonly string[],
): Evaluation {
  if (truth.length !== predicted.length)
    throw new InvalidValueError(`${truth.length} true labels but ${predicted.length} predictions`);
  if (truth.length === 0) throw new InvalidValueError('cannot evaluate on no rows');
  const order = classes ? [...classes] : [...new Set([...truth, ...predicted])].sort();
  const index = new Map(order.map((c, i) => [c, i]));
  const confusion = order.map(() => new Array<number>(order.length).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = index.get(truth[i]);
    const p = index.get(predicted[i]);
    if (t === undefined || p === undefined)
      throw new InvalidValueError(`label "${t === undefined ? truth[i] : predicted[i]}" is not one of the classes`);
    confusion[t][p]++;
    if (t === p) correct++;
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  for (const [c, name] of order.entries()) {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predictedAs === 0 ? 0 : tp / predictedAs;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[name] = { precision, recall, f1, support };
    f1Sum += f1;
  }
  return {
    classes: order,
    accuracy: correct / truth.length,
    macroF1: f1Sum / order.length,
    perClass,
    confusion,
    rows: truth.length,
  };
}

/** The most probable class of each row (ties go to the first class in order). */
export function argmaxClasses(classes: readonly string[], proba: readonly (readonly number[])[]): string[] {
  return proba.map((p) => {
    let best = 0;
    for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
    return classes[best];
  });
}
