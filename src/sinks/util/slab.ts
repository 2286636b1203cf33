import { noteGarbage } from '../../util/memory-hint.js';

/**
 * Where sinks encode messages on the hot path: large buffers handed out piece by piece, so a
 * queued message is a range of a shared slab instead of an allocation of its own.
 *
 *   const at = slab.reserve(maxLength);          // room for the worst case
 *   const end = encoder.encode(entry, slab.buf, at);
 *   if (queue.push(slab.buf, at, end)) slab.commit(end);  // a dropped one is overwritten
 */
export class Slab {
  buf: Buffer;
  private pos = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `need` bytes and returns where they start in `buf`. */
  reserve(need: number): number {
    if (this.buf.length - this.pos < need) {
      // The old slab lives on in the views queued from it, and is garbage once they are written.
      noteGarbage(this.buf.length);
      this.buf = Buffer.allocUnsafe(Math.max(this.size, need));
      this.pos = 0;
    }
    return this.pos;
  }

  /** Keeps the bytes up to `end` (of the last reserve); the next reserve starts after them. */
  commit(end: number): void {
    this.pos = end;
  }
}
