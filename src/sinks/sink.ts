import type { LogEntry } from '../docker/log-entry.js';

/**
 * What every sink implements. The hot path calls `write` once per entry with no I/O (encode into
 * a batch), then `flush` once per read from the FIFO, where the batch goes to I/O.
 */
export interface Sink {
  readonly name: string;
  /** Encodes one entry into the current batch. `entry.line` is only valid during the call. */
  write(entry: LogEntry): void;
  /** Hands the current batch to I/O. */
  flush(): void;
  /** Bytes accepted but not yet written: the reader pauses the FIFO above a high-water mark. */
  readonly pendingBytes: number;
  /** Called when pendingBytes falls below the sink's low-water mark, or to zero. */
  onDrain: (() => void) | null;
  /** Flushes and finishes all I/O, then releases files and sockets. */
  close(): Promise<void>;
  stats(): Record<string, number>;
}
