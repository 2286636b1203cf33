import type { ContainerInfo } from '../docker/container-info.js';
import type { LogEntry } from '../docker/log-entry.js';
import type { Logger } from '../log.js';
import type { FullQueuePolicy } from './util/bounded-queue.js';

/**
 * What every sink implements. The hot path calls `write` once per entry with no I/O (encode into
 * a batch or a queue), then `flush` once per read from the FIFO, where the batch goes to I/O.
 */
export interface Sink {
  readonly name: string;
  /**
   * True for the local store only: the FIFO reader pauses (and so the container waits, as with
   * Docker's json-file) while a blocking sink is behind. Network sinks are never blocking: when
   * their queue is full they drop and count.
   */
  readonly blocking: boolean;
  /** Encodes one entry. The entry object and its line bytes are only valid during the call. */
  write(entry: LogEntry): void;
  /** Hands what was written since the last flush to I/O. */
  flush(): void;
  /** Bytes accepted but not yet written. */
  readonly pendingBytes: number;
  /** Called when pendingBytes falls below the sink's low-water mark, or to zero. */
  onDrain: (() => void) | null;
  /** Flushes and finishes (or gives up on, within its deadline) all I/O, then releases resources. */
  close(): Promise<void>;
  stats(): Record<string, number>;
  /** With spool=disk: settles once the spool on disk is open and counted in pendingBytes. */
  spoolReady?(): Promise<void>;
}

/** What a sink is built from when a container starts logging. */
export interface SinkContext {
  info: ContainerInfo;
  /** The container's log-opts, as the daemon sent them. */
  options: Record<string, string>;
  logger: Logger;
  /** The bound of the sink's queue and what goes when it is full (the container logger does the blocking for `block`). */
  queue?: SinkQueueOptions;
  /** With spool=disk: the directory of this container's and sink's spool, under the data root. */
  spoolDir?: string;
  /** How long close() may try to deliver before it gives up (or keeps the rest in the spool). */
  closeDeadlineMs?: number;
}

export interface SinkQueueOptions {
  maxBytes: number;
  policy: 'block' | 'drop-newest' | 'drop-oldest';
  spool?: boolean;
  spoolMaxBytes?: number;
}

/** The queue a network sink keeps: with `block` it still drops (newest) once the hold-back limit is over. */
export function sinkQueue(ctx: SinkContext): { queueBytes?: number; queuePolicy: FullQueuePolicy; spool?: SpoolSettings; closeDeadlineMs?: number } {
  if (ctx.queue === undefined) return { queuePolicy: 'drop-newest' };
  const spool = ctx.queue.spool && ctx.spoolDir !== undefined ? { dir: ctx.spoolDir, maxDiskBytes: ctx.queue.spoolMaxBytes ?? 1024 ** 3 } : undefined;
  return {
    queueBytes: ctx.queue.maxBytes,
    queuePolicy: ctx.queue.policy === 'drop-oldest' ? 'drop-oldest' : 'drop-newest',
    spool,
    ...(ctx.closeDeadlineMs !== undefined ? { closeDeadlineMs: ctx.closeDeadlineMs } : {}),
  };
}

export interface SpoolSettings {
  dir: string;
  maxDiskBytes: number;
}

/**
 * A kind of sink selectable with `--log-opt sinks=...`. It takes Docker's own option names for its
 * built-in twin, validates them when the container starts (an Error here fails `docker run` with
 * its message, which must name the option), and builds one sink per container.
 */
export interface SinkFactory {
  readonly name: string;
  readonly optionNames: readonly string[];
  /** Throws an Error naming the option when a value is bad. */
  validate(ctx: SinkContext): void;
  create(ctx: SinkContext): Promise<Sink>;
}
