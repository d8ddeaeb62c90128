declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';
  /** ml-logistic-regression 2.x: one-vs-rest batch gradient descent; each binary model scores "not this class". */
  export default class LogisticRegression {
    constructor(options?: { numSteps?: number; learningRate?: number });
    readonly classifiers: { weights: Matrix; testScores(x: Matrix): number[] }[];
    train(x: Matrix, y: Matrix): void;
    predict(x: Matrix): number[];
    toJSON(): unknown;
    static load(model: unknown): LogisticRegression;
  }
}
