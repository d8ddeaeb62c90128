/**
 * Candidates trained in worker threads, so that the event loop of the process
 * that asked (a Kafka consumer sending heartbeats, a server answering) keeps
 * turning: logistic regression alone holds a thread for 10 to 40 s on HAR.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, ErrorCodes, errorFromCode, InvalidOptionError, TrainingError } from '../errors.ts';
import { FROM_SOURCES, tsxEntry } from '../runtime.ts';
import { loadModel } from './artifact.ts';
import {
  type CandidateResult,
  type CandidateSpec,
  checkCandidates,
  DEFAULT_CANDIDATES,
  type TrainCandidatesOptions,
} from './train.ts';
import type { PackedDataset, TrainWorkerInput, TrainWorkerOutput } from './train-worker.ts';
import type { Dataset } from './types.ts';

export interface WorkerTrainOptions extends TrainCandidatesOptions {
  /**
   * Candidates trained at the same time, one worker thread each. Each
   * candidate's library is single-threaded, so more workers than cores only
   * time-slice them (and hold one more copy of the data each); one core is
   * left to the event loop that asked, whose heartbeats are the point.
   * @defaultValue Math.max(1, os.availableParallelism() - 1)
   */
  concurrency?: number;
  /**
   * Old-generation heap of each worker in MB: a candidate that needs more is
   * stopped with a TrainingError instead of taking the process's memory.
   * @defaultValue Node's own limit
   */
  maxHeapMb?: number;
}

/**
 * `trainCandidatesAsync` in worker threads: the same `CandidateResult[]`, in
 * spec order, but the calling thread only packs rows and loads artifacts.
 * Each worker gets its own copy of the rows as transferred Float64Array
 * buffers, trains one candidate, scores it on the validation rows, and sends
 * back the serialized artifact; the classifier returned is `loadModel` of
 * those bytes (the model the registry will store). `onResult` is called as
 * candidates finish, which need not be spec order.
 *
 * A candidate that fails rejects the whole call with an error of the class
 * the worker threw (an InvalidOptionError stays one) or a TrainingError, and
 * the other workers are terminated.
 */
export async function trainCandidatesInWorkers(
  train: Dataset,
  validation: Dataset,
  specs: readonly CandidateSpec[] = DEFAULT_CANDIDATES,
  options: WorkerTrainOptions = {},
): Promise<CandidateResult[]> {
  const concurrency = options.concurrency ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidOptionError(`concurrency must be a positive integer, got ${concurrency}`);
  const { maxHeapMb } = options;
  if (maxHeapMb !== undefined && !(Number.isFinite(maxHeapMb) && maxHeapMb > 0))
    throw new InvalidOptionError(`maxHeapMb must be a positive number, got ${maxHeapMb}`);
  const classes = checkCandidates(train, validation, specs);
  const packedTrain = pack(train);
  const packedValidation = pack(validation);
  const results = new Array<CandidateResult>(specs.length);
  const running = new Set<Worker>();
  let next = 0;
  let failed = false;

  const runOne = async (i: number): Promise<void> => {
    const spec = specs[i];
    const input: TrainWorkerInput = {
      spec,
      classes,
      train: { ...packedTrain, values: packedTrain.values.slice() },
      validation: { ...packedValidation, values: packedValidation.values.slice() },
    };
    const output = await inWorker(input, running, maxHeapMb);
    if (!output.ok) throw remoteError(spec, output.error);
    const { classifier } = loadModel(
      Buffer.from(output.artifact.buffer, output.artifact.byteOffset, output.artifact.byteLength),
    );
    const result: CandidateResult = {
      name: spec.name,
      kind: classifier.kind,
      classifier,
      params: classifier.params,
      metrics: output.metrics,
      trainMs: output.trainMs,
      predictMs: output.predictMs,
    };
    results[i] = result;
    options.onResult?.(result);
  };

  const lane = async (): Promise<void> => {
    while (!failed && next < specs.length) await runOne(next++);
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, lane));
  } catch (err) {
    failed = true;
    await Promise.all([...running].map((w) => w.terminate()));
    throw err;
  }
  return results;
}

function pack(data: Dataset): PackedDataset {
  const n = data.rows.length;
  const dims = n > 0 ? data.rows[0].length : data.featureNames.length;
  const values = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) {
    if (data.rows[i].length !== dims)
      throw new InvalidOptionError(`row ${i} has ${data.rows[i].length} features, expected ${dims}`);
    values.set(data.rows[i], i * dims);
  }
  return { featureSet: data.featureSet, featureNames: [...data.featureNames], labels: [...data.labels], dims, values };
}

/** One worker for one candidate; settles on its single message, on an error, or on an exit without a message. */
function inWorker(input: TrainWorkerInput, running: Set<Worker>, maxHeapMb?: number): Promise<TrainWorkerOutput> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER.script, {
      eval: WORKER.eval,
      workerData: input,
      transferList: [input.train.values.buffer, input.validation.values.buffer],
      execArgv: WORKER.execArgv,
      resourceLimits: maxHeapMb === undefined ? undefined : { maxOldGenerationSizeMb: maxHeapMb },
    });
    running.add(worker);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      running.delete(worker);
      fn();
    };
    worker.once('message', (output: TrainWorkerOutput) => settle(() => resolve(output)));
    worker.once('error', (cause) =>
      settle(() =>
        reject(
          new TrainingError(`candidate ${input.spec.name}: its worker thread failed: ${cause.message}`, {
            cause,
            context: ctx(input),
          }),
        ),
      ),
    );
    worker.once('messageerror', (cause) =>
      settle(() =>
        reject(
          new TrainingError(`candidate ${input.spec.name}: unreadable worker message`, { cause, context: ctx(input) }),
        ),
      ),
    );
    worker.once('exit', (exitCode) =>
      settle(() =>
        reject(
          new TrainingError(`candidate ${input.spec.name}: worker exited (code ${exitCode}) without a result`, {
            context: { ...ctx(input), exitCode },
          }),
        ),
      ),
    );
  });
}

const ctx = (input: TrainWorkerInput) => ({ candidate: input.spec.name, kind: input.spec.kind });

function remoteError(spec: CandidateSpec, e: Extract<TrainWorkerOutput, { ok: false }>['error']) {
  const message = `candidate ${spec.name}: ${e.message}`;
  const cause = Object.assign(new Error(e.message), { name: e.name, stack: e.stack });
  const context = { ...e.context, candidate: spec.name, kind: spec.kind };
  if (e.code !== undefined && (ErrorCodes as readonly string[]).includes(e.code))
    return errorFromCode(e.code as ErrorCode, message, { cause, context });
  return new TrainingError(message, { cause, context });
}

/**
 * How to start the worker. Compiled to .js, the worker file runs as is. As
 * .ts (under tsx or vitest) it needs tsx's hooks, and on Node 20 a worker gets
 * none: the parent's are not inherited and `--import tsx` in its execArgv is
 * ignored (nodejs/node#47747, privatenumber/tsx#354). So the worker starts from
 * a two-line bootstrap that registers tsx through its ESM API, then imports the
 * worker file; tsx is resolved from this package, whatever the working directory.
 */
const WORKER = ((): { script: string | URL; eval: boolean; execArgv: string[] } => {
  const file = new URL(`./train-worker.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url);
  if (!FROM_SOURCES) return { script: file, eval: false, execArgv: process.execArgv };
  const api = tsxEntry('./esm/api');
  const script = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`;
  return { script, eval: true, execArgv: withoutTsx(process.execArgv) };
})();

/** The parent's flags minus its own tsx loader, so that the bootstrap registers tsx once. */
function withoutTsx(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--import' || a === '--loader' || a === '--require') && /(^|[/\\])tsx([/\\]|$)/.test(argv[i + 1] ?? ''))
      i++;
    else if (!/^--(import|loader|require)=(.*[/\\])?tsx([/\\]|$)/.test(a)) out.push(a);
  }
  return out;
}
