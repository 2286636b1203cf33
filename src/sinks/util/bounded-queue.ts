/**
 * A FIFO of encoded messages bounded in bytes, for sinks that must never block the container:
 * when it is full, the policy decides what goes, and every dropped message is counted.
 * Array-backed with a moving head (no Array#shift per message).
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
 * What a queued message costs besides its bytes: its Buffer view (~108 bytes of heap, measured in
 * test/sinks/util/bounded-queue.test.ts) and the array slot. Keeping (buffer, offset, length) in
 * typed arrays instead cut the heap to 12 bytes a message but raised the soak's RSS by ~30 MB:
 * with no long-lived objects left, V8 ran fewer full collections, and the dead encoding slabs
 * (external memory) were freed later (docs/decisions.md, "Queued messages stay Buffer views").
 */
export const MESSAGE_OVERHEAD = 128;

/** All queues together hold a backlog past this: a log server was away. */
const BACKLOG_BYTES = 8 * 1024 * 1024;

export function setQueueMemoryLimit(bytes: number): void {
  queueMemory.limit = bytes;
}

export class BoundedQueue {
  private items: Buffer[] = [];
  private head = 0;
  bytes = 0;
  droppedMessages = 0;
  droppedBytes = 0;

  constructor(
    readonly maxBytes: number,
    readonly policy: FullQueuePolicy = 'drop-newest',
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /**
   * Adds a message; returns whether it was queued (false: dropped, drop-newest). With drop-oldest
   * it is always queued, older ones making room: callers that encode into a shared slab keep
   * the bytes exactly when this returns true.
   */
  push(message: Buffer): boolean {
    const n = message.length;
    const cost = n + MESSAGE_OVERHEAD;
    if (this.length > 0 && (this.bytes + n > this.maxBytes || queueMemory.used + cost > queueMemory.limit)) {
      if (this.policy === 'drop-newest') {
        this.droppedMessages++;
        this.droppedBytes += n;
        return false;
      }
      while (this.length > 0 && (this.bytes + n > this.maxBytes || queueMemory.used + cost > queueMemory.limit)) {
        const old = this.shift()!;
        this.droppedMessages++;
        this.droppedBytes += old.length;
      }
    }
    this.items.push(message);
    this.bytes += n;
    queueMemory.used += cost;
    return true;
  }

  peek(): Buffer | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const m = this.items[this.head];
    this.items[this.head] = undefined as unknown as Buffer;
    this.head++;
    this.bytes -= m.length;
    queueMemory.used -= m.length + MESSAGE_OVERHEAD;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  /** Takes up to maxCount messages / maxBytes bytes from the front (at least one if any). */
  take(maxCount: number, maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let bytes = 0;
    while (this.length > 0 && out.length < maxCount) {
      const next = this.items[this.head];
      if (out.length > 0 && bytes + next.length > maxBytes) break;
      out.push(this.shift()!);
      bytes += next.length;
    }
    // Only a backlog's drain leaves much garbage behind (src/util/memory-hint.ts).
    if (queueMemory.used + bytes > BACKLOG_BYTES) noteGarbage(bytes);
    return out;
  }

  /** Puts messages back at the front, in order (a send that failed). */
  unshift(messages: Buffer[]): void {
    if (messages.length === 0) return;
    this.items = messages.concat(this.items.slice(this.head));
    this.head = 0;
    for (const m of messages) {
      this.bytes += m.length;
      queueMemory.used += m.length + MESSAGE_OVERHEAD;
    }
  }

  clear(): number {
    const n = this.length;
    queueMemory.used -= this.bytes + this.length * MESSAGE_OVERHEAD;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return n;
  }
}
