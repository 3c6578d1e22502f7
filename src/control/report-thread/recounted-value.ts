/**
 * A count whose cost grows with what it counts (the outbox's deliveries of one status: millions,
 * after days of a DSP down), taken again only once `factor` times as long as its last taking
 * lasted has passed since, so that keeping it costs its thread a `factor`-th of its time at most.
 * A count taken in little time (the usual outbox) is taken again at every read.
 */
export class RecountedValue {
  private last = { atMs: Number.NEGATIVE_INFINITY, value: 0, tookMs: 0 };

  /** `elapsedMs` reads a monotonic clock, to time each taking of the count. */
  constructor(
    private readonly count: () => number,
    private readonly factor: number,
    private readonly elapsedMs: () => number = () => performance.now(),
  ) {}

  /** The count at `nowMs`, or as last taken if that was too recent; a clock gone back takes it. */
  read(nowMs: number): number {
    const sinceMs = nowMs - this.last.atMs;
    if (sinceMs >= this.last.tookMs * this.factor || sinceMs < 0) {
      const startedMs = this.elapsedMs();
      const value = this.count();
      this.last = { atMs: nowMs, value, tookMs: this.elapsedMs() - startedMs };
    }
    return this.last.value;
  }
}
