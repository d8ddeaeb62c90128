import { InvalidOptionError } from '../errors.ts';
import type { DecodedEvent } from '../schemas/cloudevents.ts';
import { RateWindow } from './rate.ts';

/** What the dashboard keeps; every list is capped, so a long history costs bounded memory. */
export interface DashboardStateOptions {
  /**
   * A device's drift stays open this long, unless a deployment, or a calibration of that device, comes
   * after it. @defaultValue 600_000 (10 min)
   */
  openDriftMs?: number;
  /** Drift timeline entries kept, newest first. @defaultValue 500 */
  maxDrifts?: number;
  /** Labelled predictions per model version behind its rolling accuracy. @defaultValue 200 */
  accuracyWindow?: number;
  /** Points of each version's accuracy curve (one every `accuracyWindow / 10` labelled predictions). @defaultValue 200 */
  maxAccuracyPoints?: number;
  /** Model versions (with their accuracy) and deployment events kept. @defaultValue 200 */
  maxEvents?: number;
  /** Devices shown; the least recently seen is dropped first. @defaultValue 1000 */
  maxDevices?: number;
  /** A device seen neither in readings nor in predictions for this long is dropped. @defaultValue 3_600_000 (1 h) */
  staleDeviceMs?: number;
  /** Window of each device's samples per second, in whole seconds. @defaultValue 10_000 (10 s) */
  rateWindowMs?: number;
  /** MLflow's UI root (MLFLOW_TRACKING_URI): each version links to its page there. */
  mlflowUri?: string;
}

export interface DeviceView {
  device: string;
  lastSeen: number;
  /** Samples per second in sensor-readings over the last `rateWindowMs`. */
  samplesPerSecond: number;
  activity: string | null;
  version: number | null;
  /** When the newest drift of the device was logged (the log's time; its stream time is in `drifts`). */
  lastDrift: number | null;
  /** When the newest calibration of the device (not a withdrawal) was logged. */
  lastCalibration: number | null;
  openDrift: boolean;
}

export interface DriftView {
  device: string;
  kind: string;
  feature: string | null;
  activity: string | null;
  time: number;
}

export interface AccuracyView {
  model: string;
  version: number;
  accuracy: number;
  labelled: number;
  points: { time: number; accuracy: number }[];
}

export interface VersionView {
  model: string;
  version: number;
  event: string;
  time: number;
  metric: string;
  candidate: number;
  production: number | null;
  pValue: number | null;
  reason: string | null;
  runId: string;
  link: string | null;
}

export interface DeploymentView {
  model: string;
  version: number;
  event: string;
  target: string;
  reason: string | null;
  time: number;
}

export interface DeadLetterView {
  reason: string;
  count: number;
  component: string;
  lastMessage: string;
  lastTime: number;
}

/** One JSON document: what the page draws, sent whole on every update. */
export interface DashboardSnapshot {
  now: number;
  records: number;
  devices: DeviceView[];
  drifts: DriftView[];
  accuracy: AccuracyView[];
  versions: VersionView[];
  deployments: DeploymentView[];
  deadLetters: DeadLetterView[];
}

interface Device {
  lastSeen: number;
  activity: string | null;
  version: number | null;
  lastDrift: number | null;
  lastCalibration: number | null;
  /** Made with the device's first readings: a device seen only in predictions costs no window. */
  rate: RateWindow | null;
}

/** A ring of hits (1) and misses (0), in a typed array: no object per prediction. */
interface Accuracy {
  model: string;
  version: number;
  ring: Uint8Array;
  next: number;
  filled: number;
  hits: number;
  labelled: number;
  points: { time: number; accuracy: number }[];
}

/** Strips credentials from a URI a user may have put them in (`https://user:token@mlflow`). */
function publicRoot(uri: string | undefined): string | null {
  if (!uri) return null;
  try {
    const u = new URL(uri);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return null;
  }
}

/**
 * Folds decoded events (and counted readings) into what the dashboard shows. Pure: no I/O and no clock; every event
 * comes with the time it happened (the log's timestamp) and `snapshot(now)` is told the time.
 */
export class DashboardState {
  readonly #openDriftMs: number;
  readonly #maxDrifts: number;
  readonly #window: number;
  readonly #maxPoints: number;
  readonly #maxEvents: number;
  readonly #maxDevices: number;
  readonly #staleMs: number;
  readonly #rateSeconds: number;
  readonly #mlflow: string | null;
  readonly #devices = new Map<string, Device>();
  readonly #drifts: DriftView[] = [];
  readonly #accuracy = new Map<string, Accuracy>();
  readonly #versions = new Map<string, VersionView>();
  readonly #deployments: DeploymentView[] = [];
  readonly #deadLetters = new Map<string, DeadLetterView>();
  #lastDeployment = Number.NEGATIVE_INFINITY;
  #records = 0;

  constructor(options: DashboardStateOptions = {}) {
    this.#openDriftMs = options.openDriftMs ?? 600_000;
    this.#maxDrifts = options.maxDrifts ?? 500;
    this.#window = options.accuracyWindow ?? 200;
    this.#maxPoints = options.maxAccuracyPoints ?? 200;
    this.#maxEvents = options.maxEvents ?? 200;
    this.#maxDevices = options.maxDevices ?? 1000;
    this.#staleMs = options.staleDeviceMs ?? 3_600_000;
    const rateWindowMs = options.rateWindowMs ?? 10_000;
    for (const [name, v] of Object.entries({ ...options, rateWindowMs }))
      if (typeof v === 'number' && !(Number.isInteger(v) && v > 0))
        throw new InvalidOptionError(`dashboard state: ${name} must be a positive integer, got ${v}`);
    if (rateWindowMs % 1000 !== 0)
      throw new InvalidOptionError(`dashboard state: rateWindowMs is whole seconds, got ${rateWindowMs}`);
    this.#rateSeconds = rateWindowMs / 1000;
    this.#mlflow = publicRoot(options.mlflowUri);
  }

  get records(): number {
    return this.#records;
  }

  /** Folds one event that the log stamped at `time` (epoch ms). Types the dashboard does not show are counted only. */
  apply(event: DecodedEvent, time: number): void {
    this.#records++;
    switch (event.type) {
      case 'dev.activity-tracking.prediction.v1': {
        const p = event.data;
        const d = this.#device(p.device, time);
        d.activity = p.activity;
        d.version = p.version;
        if (p.label != null) this.#labelled(p.model, p.version, p.activity === p.label, time);
        break;
      }
      case 'dev.activity-tracking.drift.v1': {
        const e = event.data;
        const at = e.time ?? time;
        const d = this.#device(e.device, time);
        // The log's time, not the stream's: replayed phones carry stream times of their own, while
        // deployments and calibrations that close a drift are compared by when they were logged.
        d.lastDrift = Math.max(d.lastDrift ?? time, time);
        this.#drifts.unshift({ device: e.device, kind: e.kind, feature: e.feature, activity: e.activity, time: at });
        if (this.#drifts.length > this.#maxDrifts) this.#drifts.length = this.#maxDrifts;
        break;
      }
      case 'dev.activity-tracking.model.v1': {
        const m = event.data;
        const key = `${m.model}\u0000${m.version}`;
        // `evaluated` comes after the gate's decision and carries no new evidence of the gate.
        const prior = this.#versions.get(key);
        if (m.event === 'evaluated' && prior) break;
        this.#versions.set(key, {
          model: m.model,
          version: m.version,
          event: m.event,
          time,
          metric: m.scores.metric,
          candidate: m.scores.candidate,
          production: m.scores.production ?? null,
          pValue: m.gate?.pValue ?? null,
          reason: m.reason ?? null,
          runId: m.runId,
          link: this.#mlflow ? `${this.#mlflow}/#/models/${encodeURIComponent(m.model)}/versions/${m.version}` : null,
        });
        if (this.#versions.size > this.#maxEvents) this.#versions.delete(this.#versions.keys().next().value!);
        break;
      }
      case 'dev.activity-tracking.deployment.v1': {
        const e = event.data;
        this.#deployments.unshift({
          model: e.model,
          version: e.version,
          event: e.event,
          target: e.target,
          reason: e.reason ?? null,
          time,
        });
        if (this.#deployments.length > this.#maxEvents) this.#deployments.length = this.#maxEvents;
        if (e.event === 'succeeded') this.#lastDeployment = Math.max(this.#lastDeployment, time);
        break;
      }
      case 'dev.activity-tracking.device-calibration.v1': {
        const c = event.data;
        // An identity record withdraws a calibration that did worse than none: the drift is not handled.
        if (c.model === 'identity') break;
        const d = this.#device(c.device, time);
        d.lastCalibration = Math.max(d.lastCalibration ?? time, time);
        break;
      }
      case 'dev.activity-tracking.dead-letter.v1':
        this.#deadLetter(event.data.reason, event.data.component, event.data.message, time);
        break;
      default:
        break;
    }
  }

  /** Counts `samples` readings of `device` logged at `time` (counted, not decoded: readings.ts). */
  readings(device: string, samples: number, time: number): void {
    this.#records++;
    const d = this.#device(device, time);
    d.rate ??= new RateWindow(this.#rateSeconds);
    d.rate.add(time, samples);
  }

  /** A record that did not decode is shown among the dead letters, as the dashboard's own, by its reason. */
  undecodable(reason: string, message: string, time: number): void {
    this.#records++;
    this.#deadLetter(reason, 'dashboard', message, time);
  }

  snapshot(now: number): DashboardSnapshot {
    const devices: DeviceView[] = [];
    for (const [device, d] of this.#devices) {
      if (now - d.lastSeen > this.#staleMs) {
        this.#devices.delete(device);
        continue;
      }
      const open =
        d.lastDrift !== null &&
        now - d.lastDrift <= this.#openDriftMs &&
        d.lastDrift > this.#lastDeployment &&
        d.lastDrift > (d.lastCalibration ?? Number.NEGATIVE_INFINITY);
      devices.push({
        device,
        lastSeen: d.lastSeen,
        samplesPerSecond: d.rate?.perSecond(now) ?? 0,
        activity: d.activity,
        version: d.version,
        lastDrift: d.lastDrift,
        lastCalibration: d.lastCalibration,
        openDrift: open,
      });
    }
    devices.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
    const accuracy: AccuracyView[] = [];
    for (const a of this.#accuracy.values())
      accuracy.push({
        model: a.model,
        version: a.version,
        accuracy: a.filled ? a.hits / a.filled : 0,
        labelled: a.labelled,
        points: a.points.slice(),
      });
    accuracy.sort((a, b) => a.version - b.version);
    return {
      now,
      records: this.#records,
      devices,
      drifts: this.#drifts.slice(),
      accuracy,
      versions: [...this.#versions.values()].sort((a, b) => b.version - a.version || b.time - a.time),
      deployments: this.#deployments.slice(),
      deadLetters: [...this.#deadLetters.values()].sort((a, b) => b.count - a.count),
    };
  }

  #device(id: string, time: number): Device {
    let d = this.#devices.get(id);
    if (d) {
      // Re-inserted so that the map's order is least recently seen first.
      this.#devices.delete(id);
      d.lastSeen = Math.max(d.lastSeen, time);
    } else {
      d = { lastSeen: time, activity: null, version: null, lastDrift: null, lastCalibration: null, rate: null };
      if (this.#devices.size >= this.#maxDevices) this.#devices.delete(this.#devices.keys().next().value!);
    }
    this.#devices.set(id, d);
    return d;
  }

  #deadLetter(reason: string, component: string, message: string, time: number): void {
    const entry = this.#deadLetters.get(reason);
    if (!entry) {
      this.#deadLetters.set(reason, { reason, count: 1, component, lastMessage: message, lastTime: time });
      return;
    }
    entry.count++;
    entry.component = component;
    entry.lastMessage = message;
    entry.lastTime = time;
  }

  #labelled(model: string, version: number, hit: boolean, time: number): void {
    const key = `${model}\u0000${version}`;
    let a = this.#accuracy.get(key);
    if (!a) {
      a = { model, version, ring: new Uint8Array(this.#window), next: 0, filled: 0, hits: 0, labelled: 0, points: [] };
      // As many versions as the versions table keeps; the first one seen goes first.
      if (this.#accuracy.size >= this.#maxEvents) this.#accuracy.delete(this.#accuracy.keys().next().value!);
      this.#accuracy.set(key, a);
    }
    if (a.filled === this.#window) a.hits -= a.ring[a.next];
    else a.filled++;
    a.ring[a.next] = hit ? 1 : 0;
    a.hits += a.ring[a.next];
    a.next = (a.next + 1) % this.#window;
    a.labelled++;
    if (a.labelled % Math.max(1, Math.floor(this.#window / 10)) === 0) {
      a.points.push({ time, accuracy: a.hits / a.filled });
      if (a.points.length > this.#maxPoints) a.points.shift();
    }
  }
}
