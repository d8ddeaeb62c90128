/**
 * The worker-thread side of `trainCandidatesInWorkers` (workers.ts): trains
 * one candidate, scores it on the validation rows and posts back its artifact
 * and metrics. Rows arrive as one transferred Float64Array per data set.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ActivityTrackingError } from '../errors.ts';
import { serializeModel } from './artifact.ts';
import { argmaxClasses, type Evaluation, evaluate } from './evaluate.ts';
import { type CandidateSpec, trainCandidate } from './train.ts';
import type { Dataset } from './types.ts';

/** A data set as it crosses the thread boundary: rows packed row-major into `values`. */
export interface PackedDataset {
  featureSet: string;
  featureNames: readonly string[];
  labels: string[];
  dims: number;
  values: Float64Array<ArrayBuffer>;
}

export interface TrainWorkerInput {
  spec: CandidateSpec;
  classes: string[];
  train: PackedDataset;
  validation: PackedDataset;
}

export type TrainWorkerOutput =
  | { ok: true; artifact: Uint8Array; metrics: Evaluation; trainMs: number; predictMs: number }
  | {
      ok: false;
      error: { name: string; message: string; stack?: string; code?: string; context?: Record<string, unknown> };
    };

function unpack(p: PackedDataset): Dataset {
  const rows: Float64Array[] = new Array(p.labels.length);
  for (let i = 0; i < rows.length; i++) rows[i] = p.values.subarray(i * p.dims, (i + 1) * p.dims);
  return { featureSet: p.featureSet, featureNames: p.featureNames, rows, labels: p.labels };
}

function run(input: TrainWorkerInput): { output: TrainWorkerOutput; transfer: ArrayBuffer[] } {
  try {
    const train = unpack(input.train);
    const validation = unpack(input.validation);
    const t0 = performance.now();
    const classifier = trainCandidate(train, input.spec);
    const trainMs = performance.now() - t0;
    const t1 = performance.now();
    const predicted = argmaxClasses(classifier.classes, classifier.predictProba(validation.rows));
    const predictMs = performance.now() - t1;
    const metrics = evaluate(validation.labels, predicted, input.classes);
    const { bytes } = serializeModel(classifier, train.featureNames);
    // A copy that owns its whole buffer: Buffer.from may hand out a slice of a shared pool.
    const artifact = new Uint8Array(bytes);
    return { output: { ok: true, artifact, metrics, trainMs, predictMs }, transfer: [artifact.buffer] };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const known = err instanceof ActivityTrackingError;
    return {
      output: {
        ok: false,
        error: {
          name: e.name,
          message: e.message,
          stack: e.stack,
          code: known ? err.code : undefined,
          context: known ? err.context : undefined,
        },
      },
      transfer: [],
    };
  }
}

if (parentPort) {
  const { output, transfer } = run(workerData as TrainWorkerInput);
  parentPort.postMessage(output, transfer);
}
