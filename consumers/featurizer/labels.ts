/**
 * The activity labels of one device's timed readings, as change points in time, for rows the resampler
 * puts on the 50 Hz grid: a grid row takes the label of the last labelled reading at or before its time
 * (a reading's label holds until the next reading says otherwise). Readings arrive a little out of
 * order, so a change point is inserted where its time puts it. Points older than the rows already
 * labelled are dropped: the grid only moves forward.
 */
export class LabelTrack {
  /** Change points, oldest first: time (ms) and label (null: unknown). */
  #times: number[] = [];
  #labels: (string | null)[] = [];

  /** Readings' labels at their times (`labels[i]` at `times[i]`). */
  add(times: ArrayLike<number>, labels: readonly (string | null)[]): void {
    for (let i = 0; i < labels.length; i++) {
      const t = times[i];
      let at = this.#times.length;
      while (at > 0 && this.#times[at - 1] > t) at--;
      // A reading that repeats the label in force at its time changes nothing.
      if (at > 0 && this.#labels[at - 1] === labels[i] && (at === this.#times.length || this.#labels[at] === labels[i]))
        continue;
      this.#times.splice(at, 0, t);
      this.#labels.splice(at, 0, labels[i]);
    }
  }

  /** The labels of grid rows at `times` (ascending), null where no reading said; forgets what came before. */
  labelsAt(times: ArrayLike<number>): (string | null)[] | null {
    if (this.#times.length === 0) return null;
    const out: (string | null)[] = new Array(times.length);
    let k = 0;
    for (let i = 0; i < times.length; i++) {
      while (k + 1 < this.#times.length && this.#times[k + 1] <= times[i]) k++;
      out[i] = this.#times[k] <= times[i] ? this.#labels[k] : null;
    }
    // The point in force at the last row is kept: later rows may still fall under it.
    this.#times.splice(0, k);
    this.#labels.splice(0, k);
    return out;
  }

  toJSON(): { times: number[]; labels: (string | null)[] } {
    return { times: this.#times, labels: this.#labels };
  }

  static from(json: { times: number[]; labels: (string | null)[] } | undefined): LabelTrack {
    const track = new LabelTrack();
    if (json) {
      track.#times = [...json.times];
      track.#labels = [...json.labels];
    }
    return track;
  }
}
