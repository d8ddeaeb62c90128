import { createLogUpdate } from 'log-update';

/** What the main job shows while it runs. */
export interface LiveState {
  phase: string;
  samples: number;
  samplesPerSecond: number;
  driftEvents: number;
  /** Drift events per feature, most first. */
  topFeatures: [string, number][];
  servingVersion: number | null;
  versions: { version: number; promoted: boolean }[];
  /** Rolling accuracy of labelled predictions per serving version. */
  accuracy: { version: number; accuracy: number; n: number }[];
}

/**
 * A compact live account on a TTY (redrawn in place, at most 4 times a
 * second), plain log lines elsewhere (one every `plainEveryMs`, and on every
 * phase change), so that CI logs and pipes stay readable.
 */
export class LiveView {
  readonly #tty: boolean;
  readonly #print: (line: string) => void;
  readonly #draw: ReturnType<typeof createLogUpdate> | undefined;
  #last = 0;
  #lastPhase = '';
  readonly #plainEveryMs: number;

  constructor(options: { stream?: NodeJS.WriteStream; print: (line: string) => void; plainEveryMs?: number }) {
    const stream = options.stream ?? process.stdout;
    this.#tty = stream.isTTY === true;
    this.#print = options.print;
    this.#plainEveryMs = options.plainEveryMs ?? 5000;
    this.#draw = this.#tty ? createLogUpdate(stream, { showCursor: true }) : undefined;
  }

  update(state: LiveState, force = false): void {
    const now = Date.now();
    const phaseChanged = state.phase !== this.#lastPhase;
    if (this.#draw) {
      if (!force && !phaseChanged && now - this.#last < 250) return;
      this.#last = now;
      this.#lastPhase = state.phase;
      this.#draw(render(state).join('\n'));
      return;
    }
    if (!force && !phaseChanged && now - this.#last < this.#plainEveryMs) return;
    this.#last = now;
    this.#lastPhase = state.phase;
    this.#print(render(state).join(' | '));
  }

  /** Leaves the last frame on screen. */
  done(): void {
    this.#draw?.done();
  }
}

function render(s: LiveState): string[] {
  const acc = s.accuracy.map((a) => `v${a.version} ${(a.accuracy * 100).toFixed(1)} % (${a.n})`).join(', ') || '—';
  const versions = s.versions.map((v) => `v${v.version}${v.promoted ? '*' : ''}`).join(' ') || '—';
  const top = s.topFeatures
    .slice(0, 3)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');
  return [
    `${s.phase}`,
    `samples ${s.samples.toLocaleString('en')} (${Math.round(s.samplesPerSecond).toLocaleString('en')}/s)  drift events ${s.driftEvents}${top ? ` [${top}]` : ''}`,
    `model versions ${versions}  serving ${s.servingVersion === null ? '—' : `v${s.servingVersion}`}  rolling accuracy ${acc}`,
  ];
}
