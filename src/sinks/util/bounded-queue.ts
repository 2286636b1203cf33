/**
 * A FIFO of encoded messages bounded in bytes, for sinks that must never block the container:
 * when it is full, the policy decides what goes, and every dropped message is counted.
 *
 * A message is kept as where its bytes are (backing ArrayBuffer, offset, length), not as the
 * Buffer it came in: a Buffer view costs ~108 bytes of heap, and with 100 containers queueing
 * through a 20 s outage that was ~14 MB of views for ~15 MB of messages. The view is made again
 * when the message is handed out (short-lived, in the young generation). Parallel arrays with a
 * moving head: no Array#shift per message.
 */
import { noteGarbage } from '../../util/memory-hint.js';

export type FullQueuePolicy = 'drop-newest' | 'drop-oldest';

/**
 * One budget for every network sink queue in the process: each queue is bounded (16 MiB by
 * default), but 100 containers × 3 sinks × 16 MiB with every server down would be gigabytes.
 * Past the host-wide budget queues drop by their policy, counted, as when their own bound is hit.
 * (`logfan serve --queue-memory`; the disk spool keeps only a little in memory and is not limited.)
 */
export const queueMemory = { used: 0, limit: 64 * 1024 * 1024 };

/**
 * What a queued message costs besides its bytes: its slot in three arrays, with their growth
 * slack (measured: test/sinks/util/bounded-queue.test.ts). A slab the message points into is
 * counted by its messages' bytes.
 */
export const MESSAGE_OVERHEAD = 32;

const INITIAL_CAPACITY = 64;

/** All queues together hold a backlog past this: a log server was away. */
const BACKLOG_BYTES = 8 * 1024 * 1024;

export function setQueueMemoryLimit(bytes: number): void {
  queueMemory.limit = bytes;
}

export class BoundedQueue {
  private stores: ArrayBufferLike[] = [];
  private offsets = new Uint32Array(INITIAL_CAPACITY);
  private lengths = new Uint32Array(INITIAL_CAPACITY);
  private head = 0;
  private tail = 0;
  bytes = 0;
  droppedMessages = 0;
  droppedBytes = 0;

  constructor(
    readonly maxBytes: number,
    readonly policy: FullQueuePolicy = 'drop-newest',
  ) {}

  get length(): number {
    return this.tail - this.head;
  }

  /**
   * Adds a message; returns whether it was queued (false: dropped, drop-newest). With drop-oldest
   * it is always queued, older ones making room: callers that encode into a shared slab keep
   * the bytes exactly when this returns true. The message is `bytes[start, end)`: a sink passes
   * its slab and the range it encoded into, so no view is made per message only to be taken apart.
   */
  push(bytes: Buffer, start = 0, end = bytes.length): boolean {
    const n = end - start;
    const cost = n + MESSAGE_OVERHEAD;
    if (this.length > 0 && (this.bytes + n > this.maxBytes || queueMemory.used + cost > queueMemory.limit)) {
      if (this.policy === 'drop-newest') {
        this.droppedMessages++;
        this.droppedBytes += n;
        return false;
      }
      while (this.length > 0 && (this.bytes + n > this.maxBytes || queueMemory.used + cost > queueMemory.limit)) {
        const old = this.lengths[this.head];
        this.dropHead();
        this.droppedMessages++;
        this.droppedBytes += old;
      }
    }
    if (this.tail === this.offsets.length) this.makeRoom();
    const i = this.tail++;
    this.stores[i] = bytes.buffer;
    this.offsets[i] = bytes.byteOffset + start;
    this.lengths[i] = n;
    this.bytes += n;
    queueMemory.used += cost;
    return true;
  }

  peek(): Buffer | undefined {
    return this.head < this.tail ? this.view(this.head) : undefined;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.tail) return undefined;
    const m = this.view(this.head);
    this.dropHead();
    return m;
  }

  /** shift() for a caller that already has the message from peek(): no second view. */
  dropFirst(): void {
    if (this.head < this.tail) this.dropHead();
  }

  /** Takes up to maxCount messages / maxBytes bytes from the front (at least one if any). */
  take(maxCount: number, maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let bytes = 0;
    while (this.head < this.tail && out.length < maxCount) {
      const len = this.lengths[this.head];
      if (out.length > 0 && bytes + len > maxBytes) break;
      out.push(this.view(this.head));
      this.dropHead();
      bytes += len;
    }
    // A drained backlog turns its slabs to garbage all at once, long after they were counted
    // (when they filled up, src/util/memory-hint.ts): count them again now.
    if (queueMemory.used + bytes > BACKLOG_BYTES) noteGarbage(bytes);
    return out;
  }

  /** Puts messages back at the front, in order (a send that failed). */
  unshift(messages: Buffer[]): void {
    const n = messages.length;
    if (n === 0) return;
    if (this.head < n) {
      // Rebuild with room for them in front.
      const live = this.length;
      const capacity = Math.max(INITIAL_CAPACITY, nextPow2(live + n));
      const offsets = new Uint32Array(capacity);
      const lengths = new Uint32Array(capacity);
      offsets.set(this.offsets.subarray(this.head, this.tail), n);
      lengths.set(this.lengths.subarray(this.head, this.tail), n);
      const stores = new Array<ArrayBufferLike>(n).concat(this.stores.slice(this.head, this.tail));
      this.stores = stores;
      this.offsets = offsets;
      this.lengths = lengths;
      this.head = n;
      this.tail = n + live;
    }
    this.head -= n;
    for (let k = 0; k < n; k++) {
      const m = messages[k];
      const i = this.head + k;
      this.stores[i] = m.buffer;
      this.offsets[i] = m.byteOffset;
      this.lengths[i] = m.length;
      this.bytes += m.length;
      queueMemory.used += m.length + MESSAGE_OVERHEAD;
    }
  }

  clear(): number {
    const n = this.length;
    queueMemory.used -= this.bytes + n * MESSAGE_OVERHEAD;
    this.bytes = 0;
    this.restart();
    return n;
  }

  private view(i: number): Buffer {
    return Buffer.from(this.stores[i], this.offsets[i], this.lengths[i]);
  }

  private dropHead(): void {
    const len = this.lengths[this.head];
    this.stores[this.head] = undefined as unknown as ArrayBufferLike;
    this.head++;
    this.bytes -= len;
    queueMemory.used -= len + MESSAGE_OVERHEAD;
    if (this.head === this.tail) this.restart();
  }

  /** Empty: start again at the front, and give back what a burst grew. */
  private restart(): void {
    this.head = this.tail = 0;
    this.stores = [];
    if (this.offsets.length > INITIAL_CAPACITY * 16) {
      this.offsets = new Uint32Array(INITIAL_CAPACITY);
      this.lengths = new Uint32Array(INITIAL_CAPACITY);
    }
  }

  /** The arrays are full at the end: move the live part to the front, or grow. */
  private makeRoom(): void {
    const live = this.length;
    if (this.head > 0 && live * 2 <= this.offsets.length) {
      this.offsets.copyWithin(0, this.head, this.tail);
      this.lengths.copyWithin(0, this.head, this.tail);
      this.stores.copyWithin(0, this.head, this.tail);
      this.stores.length = live;
    } else {
      const capacity = this.offsets.length * 2;
      const offsets = new Uint32Array(capacity);
      const lengths = new Uint32Array(capacity);
      offsets.set(this.offsets.subarray(this.head, this.tail));
      lengths.set(this.lengths.subarray(this.head, this.tail));
      this.offsets = offsets;
      this.lengths = lengths;
      this.stores = this.stores.slice(this.head, this.tail);
    }
    this.head = 0;
    this.tail = live;
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
