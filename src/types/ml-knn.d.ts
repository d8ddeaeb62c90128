declare module 'ml-knn' {
  /** ml-knn 3.x; `kdTree` is not documented but stable since 2.0 and is how vote shares are read. */
  export default class KNN {
    constructor(dataset: number[][], labels: number[], options?: { k?: number });
    readonly k: number;
    readonly kdTree: { nearest(point: number[], k: number): [number[], number][] };
    predict(dataset: number[][]): number[];
    predict(row: number[]): number;
    toJSON(): unknown;
  }
}
