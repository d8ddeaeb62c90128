import type { LoadedModel } from '../model/types.ts';
import type { ModelRef, ModelSource } from './model-source.ts';

export interface ActiveModel {
  ref: ModelRef;
  model: LoadedModel;
}

/**
 * The predictor's "current version": switching loads (and digest-checks) the
 * new version first, then swaps one reference. A batch reads the reference
 * once, so every record of a batch is scored by one version and no record is
 * scored twice or skipped at the switch.
 */
export class ModelHandle {
  #active: ActiveModel | null = null;
  readonly #source: ModelSource;
  #waiters: ((a: ActiveModel) => void)[] = [];

  constructor(source: ModelSource) {
    this.#source = source;
  }

  current(): ActiveModel | null {
    return this.#active;
  }

  /** The current version, waiting up to `timeoutMs` for the first one; null on timeout. */
  async whenReady(timeoutMs: number): Promise<ActiveModel | null> {
    if (this.#active) return this.#active;
    return new Promise((resolve) => {
      const done = (a: ActiveModel | null) => {
        clearTimeout(timer);
        resolve(a);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      this.#waiters.push(done);
    });
  }

  /** Resolves with the first version once there is one (at once if there is); no timer, never rejects. */
  first(): Promise<ActiveModel> {
    if (this.#active) return Promise.resolve(this.#active);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async switchTo(ref: ModelRef): Promise<ActiveModel> {
    const a = this.#active;
    if (a && a.ref.name === ref.name && a.ref.version === ref.version) return a;
    const model = await this.#source(ref);
    const active = { ref: { ...ref }, model };
    this.#active = active;
    for (const w of this.#waiters.splice(0)) w(active);
    return active;
  }
}
