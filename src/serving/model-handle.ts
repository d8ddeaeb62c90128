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

  constructor(source: ModelSource) {
    this.#source = source;
  }

  current(): ActiveModel | null {
    return this.#active;
  }

  async switchTo(ref: ModelRef): Promise<ActiveModel> {
    const a = this.#active;
    if (a && a.ref.name === ref.name && a.ref.version === ref.version) return a;
    const model = await this.#source(ref);
    this.#active = { ref: { ...ref }, model };
    return this.#active;
  }
}
