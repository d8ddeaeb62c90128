import type { Registry } from '../../src/tracking/types.ts';
import { TAGS } from './retrain.ts';

/** A drift version found in the registry whose model events this process has not published. */
export interface Unconfirmed {
  key: string;
  partition: number;
  from: number;
  to: number;
}

/**
 * Which drift events a version already covers. Each version records the drift-event offsets it covers;
 * events at or below them (redelivered, or read ahead while a burst gathered) start nothing.
 */
export class Coverage {
  /** Highest drift-event offset per partition already covered by a version. */
  readonly #covered = new Map<number, number>();
  /** Versions found in the registry whose model events this process has not published (a crash may have cut them off). */
  #unconfirmed: Unconfirmed[] = [];

  /** The registry remembers what was retrained: that survives restarts and other instances. */
  async load(registry: Registry, model: string): Promise<void> {
    await registry.ensureModel(model);
    for (const v of await registry.listVersions(model)) {
      const covers = JSON.parse(v.tags[TAGS.covers] ?? '{}') as Record<string, number>;
      for (const [p, offset] of Object.entries(covers)) {
        this.#covered.set(Number(p), Math.max(this.#covered.get(Number(p)) ?? -1, offset));
        const key = v.tags[TAGS.key] ?? '';
        const from = Number(key.split(':').pop());
        if (key.startsWith('drift:') && Number.isInteger(from))
          this.#unconfirmed.push({ key, partition: Number(p), from, to: offset });
      }
    }
  }

  /** The highest covered drift-event offset of `partition`, -1 when none is. */
  of(partition: number): number {
    return this.#covered.get(partition) ?? -1;
  }

  set(partition: number, offset: number): void {
    this.#covered.set(partition, offset);
  }

  /** Unconfirmed versions whose triggers lie in `partition` between `first` and `last`. */
  unconfirmed(partition: number, first: number, last: number): Unconfirmed[] {
    return this.#unconfirmed.filter((u) => u.partition === partition && u.from <= last && u.to >= first);
  }

  /** Their model events are published again: they are no longer due. */
  confirm(done: readonly Unconfirmed[]): void {
    this.#unconfirmed = this.#unconfirmed.filter((u) => !done.includes(u));
  }
}
