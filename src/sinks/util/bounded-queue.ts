/**
 * A FIFO of encoded messages bounded in bytes, for sinks that must never block the container:
 * when it is full, the policy decides what goes, and every dropped message is counted.
 * Array-backed with a moving head (no Array#shift per message).
 */
export type FullQueuePolicy = 'drop-newest' | 'drop-oldest';

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
    if (this.bytes + message.length > this.maxBytes && this.length > 0) {
      if (this.policy === 'drop-newest') {
        this.droppedMessages++;
        this.droppedBytes += message.length;
        return false;
      }
      while (this.length > 0 && this.bytes + message.length > this.maxBytes) {
        const old = this.shift()!;
        this.droppedMessages++;
        this.droppedBytes += old.length;
      }
      this.items.push(message);
      this.bytes += message.length;
      return true;
    }
    this.items.push(message);
    this.bytes += message.length;
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
    return out;
  }

  /** Puts messages back at the front, in order (a send that failed). */
  unshift(messages: Buffer[]): void {
    if (messages.length === 0) return;
    this.items = messages.concat(this.items.slice(this.head));
    this.head = 0;
    for (const m of messages) this.bytes += m.length;
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return n;
  }
}
