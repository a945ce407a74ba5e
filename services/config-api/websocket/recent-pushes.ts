import type { Push } from './pushes.ts';

/**
 * The last pushes, in log order, for clients that resume from a position.
 * It covers the log from `coveredFrom` on: a resume from before that gets
 * RESUME_TOO_OLD and reads the current configuration instead.
 */
export class RecentPushes {
  private readonly pushes: Push[] = [];
  private start = 0;
  coveredFrom = 0n;

  constructor(private readonly capacity: number) {}

  startAt(position: bigint): void {
    this.coveredFrom = position;
  }

  add(push: Push): void {
    this.pushes.push(push);
    if (this.pushes.length - this.start <= this.capacity) return;
    // Pushes of one event share its position: forgetting one means no longer covering that position.
    this.coveredFrom = this.pushes[this.start]!.position;
    this.start++;
    if (this.start > this.capacity) {
      this.pushes.splice(0, this.start);
      this.start = 0;
    }
  }

  /** Every push after `position`, oldest first; undefined when some of them are no longer kept. */
  since(position: bigint): Push[] | undefined {
    if (position < this.coveredFrom) return undefined;
    const kept = this.pushes.slice(this.start);
    let first = kept.length;
    while (first > 0 && kept[first - 1]!.position > position) first--;
    return kept.slice(first);
  }
}
