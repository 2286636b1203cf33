import type { ContainerInfo } from '../docker/container-info.js';
import { FifoReader } from '../docker/fifo-reader.js';
import { FrameDecoder } from '../docker/frame-decoder.js';
import type { Logger } from '../log.js';
import { queueMemory } from '../sinks/util/bounded-queue.js';
import type { ContainerFlow, SinkSlot } from './flow.js';
import { bytesAlreadyStored, type StoredRecord } from './resume-dedupe.js';

/** Above this many bytes waiting for a sink, stop reading the FIFO (blocking mode back-pressure). */
const SINK_HIGH_WATER = 8 * 1024 * 1024;
/**
 * With queue-full=block, how long a network sink may hold the container back at a time. Beyond
 * it the sink drops (counted) instead: a pipe that stays full would freeze the container and,
 * through the daemon's adapter lock (moby#42705), `docker stop`.
 */
const NETWORK_BLOCK_LIMIT_MS = 5000;

export interface ContainerStats {
  bytesRead: number;
  reads: number;
  frames: number;
  corruptFrames: number;
  bytesSkipped: number;
  /** After a restart: bytes at the FIFO's head the store already had, skipped. */
  bytesSkippedOnResume: number;
  sinks: Record<string, Record<string, number>>;
  filters: Record<string, Record<string, number>>;
}

/**
 * One container, from StartLogging to EOF: FIFO → frame decoder → flow (reassembly, filters,
 * fan-out) → sinks. The decoder calls the flow per entry; sinks encode into batches and get one
 * flush per read. Back-pressure: the FIFO pauses while a sink that holds the container back (the
 * store; a network sink with queue-full=block, for a few seconds at most) is too far behind.
 */
export class ContainerLogger {
  readonly containerId: string;
  private readonly reader: FifoReader;
  private readonly decoder: FrameDecoder;
  private flow: ContainerFlow | undefined;
  private slots: readonly SinkSlot[] = [];
  private storeSlot: SinkSlot | undefined;
  /** Peeking: safe bytes of the last chunk, released once the store has written them; -1: none. */
  private unreleased = -1;
  /** After a restart: the store's last record, to skip what the FIFO's head repeats of it. */
  private resumeAfter: StoredRecord | null = null;
  /** Bytes at the FIFO's head skipped after a restart because the store already had them. */
  bytesSkippedOnResume = 0;
  /** Filter counters of flows replaced by a reload, so they do not go back to zero. */
  private retiredFilterStats: Record<string, Record<string, number>> = {};
  private inRead = false;
  private flushScheduled = false;
  private stopping = false;
  private aborted = false;
  /** queue-full=block gave up for now (see NETWORK_BLOCK_LIMIT_MS); cleared when the sinks drain. */
  private blockExpired = false;
  private blockTimer: NodeJS.Timeout | null = null;
  private resolveFinished!: () => void;
  /** Settles once the FIFO hit EOF and every sink has flushed and closed. */
  readonly finished: Promise<void>;
  private lastCorruptionLogAt = 0;

  constructor(
    readonly file: string,
    readonly info: ContainerInfo,
    private readonly logger: Logger,
  ) {
    this.containerId = info.ContainerID;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.decoder = new FrameDecoder({
      onEntry: (entry) => this.flow!.deliver(entry),
      onCorruption: (reason, skipped) => this.reportCorruption(reason, skipped),
    });
    this.reader = new FifoReader(file, {
      onChunk: (chunk) => this.handleChunk(chunk),
      onEnd: () => void this.finish(),
      onError: (err) => this.logger.error({ container: this.containerId, file, err: err.message }, 'FIFO read error'),
    });
  }

  async start(): Promise<void> {
    await this.reader.open();
    this.logger.debug({ container: this.containerId, file: this.file, pipeSize: this.reader.pipeSize }, 'logging started');
  }

  /**
   * Sets the flow entries go through: before the first read, and on reload between two reads.
   * The old flow first passes on what it holds (partial lines, multiline records) to its sinks.
   */
  useFlow(flow: ContainerFlow): void {
    const old = this.flow;
    if (old !== undefined) {
      old.flush();
      old.close();
      for (const [chain, stats] of Object.entries(old.filterStats())) {
        const total = (this.retiredFilterStats[chain] ??= {});
        for (const [k, v] of Object.entries(stats)) if (k !== 'heldBytes') total[k] = (total[k] ?? 0) + v;
      }
    }
    this.flow = flow;
    this.slots = flow.slots;
    this.storeSlot = this.slots.find((s) => s.policy === 'store');
    for (const slot of this.slots) slot.sink.onDrain = () => this.onSinkDrain();
    if (old !== undefined) this.flushSinks();
  }


  /** Re-attached after a restart: skip the entries at the FIFO's head up to the store's last one. */
  skipStoredOnResume(record: StoredRecord | null): void {
    this.resumeAfter = record;
  }

  private handleChunk(chunk: Buffer): void {
    let skip = 0;
    if (this.resumeAfter !== null && this.reader.peeking) {
      const found = bytesAlreadyStored(chunk, this.resumeAfter);
      if (!found.complete) {
        // Not one whole frame yet: look again with the next batch.
        this.reader.release(0);
        return;
      }
      this.resumeAfter = null;
      skip = found.skip;
      this.bytesSkippedOnResume += skip;
      if (skip > 0) this.logger.info({ container: this.containerId.slice(0, 12), bytes: skip }, 'skipped entries the store already had (restart)');
    }
    this.inRead = true;
    this.decoder.push(skip > 0 ? chunk.subarray(skip) : chunk);
    this.inRead = false;
    this.flushSinks();
    if (this.reader.peeking) this.afterPeekedChunk(chunk.length);
  }

  /**
   * Peeking: the whole frames of this chunk go out of the FIFO once the store has written them;
   * an incomplete last frame stays in the FIFO and comes again, whole, with the next chunk.
   */
  private afterPeekedChunk(length: number): void {
    let safe = length - this.decoder.bufferedBytes;
    // A frame larger than half of what one look can take could never arrive whole: read past it.
    if (safe === 0 && length >= this.reader.peekCapacity / 2) safe = length;
    else this.decoder.takePending();
    if (this.storeSlot !== undefined && this.storeSlot.sink.pendingBytes > 0) this.unreleased = safe;
    else this.reader.release(safe);
  }

  private onSinkDrain(): void {
    if (this.unreleased >= 0 && (this.storeSlot === undefined || this.storeSlot.sink.pendingBytes === 0)) {
      const n = this.unreleased;
      this.unreleased = -1;
      this.reader.release(n);
    }
    this.maybeResume();
  }

  /** A filter or the reassembler released entries from a timer: flush once, soon. */
  onTimerRelease(): void {
    if (this.inRead || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushSinks();
    });
  }

  private flushSinks(): void {
    let behind = false;
    let blockPolicy = false;
    for (const slot of this.slots) {
      slot.sink.flush();
      if (this.holdsBack(slot)) {
        const highWater = slot.highWater ?? SINK_HIGH_WATER;
        if (slot.sink.pendingBytes > highWater) behind = true;
        if (slot.policy === 'block') {
          blockPolicy = true;
          // The host-wide queue budget nearly spent: hold back before the queues drop.
          if (queueMemory.used > queueMemory.limit * 0.75 && slot.sink.pendingBytes > 0) behind = true;
        }
      }
    }
    if (behind) {
      this.reader.pause('sink');
      if (blockPolicy && this.blockTimer === null) {
        this.blockTimer = setTimeout(() => {
          this.blockTimer = null;
          this.blockExpired = true;
          this.maybeResume();
        }, NETWORK_BLOCK_LIMIT_MS);
      }
    }
  }

  private maybeResume(): void {
    if (this.blockExpired && this.slots.every((s) => s.policy === 'store' || s.sink.pendingBytes === 0)) this.blockExpired = false;
    for (const slot of this.slots) {
      if (!this.holdsBack(slot)) continue;
      if (slot.sink.pendingBytes > (slot.highWater ?? SINK_HIGH_WATER) / 2) return;
      if (slot.policy === 'block' && queueMemory.used > queueMemory.limit / 2 && slot.sink.pendingBytes > 0) return;
    }
    if (this.blockTimer) {
      clearTimeout(this.blockTimer);
      this.blockTimer = null;
    }
    this.reader.resume('sink');
  }

  /**
   * Whether this sink being behind pauses the FIFO. The local store always does (as Docker's
   * json-file); network sinks only with queue-full=block, and never once logging is stopping, so
   * that a dead server cannot hold `docker stop` (their queues then drop, counted).
   */
  private holdsBack(slot: SinkSlot): boolean {
    return slot.policy === 'store' || (slot.policy === 'block' && !this.stopping && !this.blockExpired);
  }

  /** StopLogging: the daemon closes its end right after our answer; read on until EOF. */
  stop(): void {
    this.stopping = true;
    this.reader.drainEagerly();
    this.maybeResume();
  }

  /** True when the FIFO ended (the daemon closed it), false when logfan stopped reading first. */
  get reachedEnd(): boolean {
    return !this.aborted;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Shutdown: stop reading now and flush what was read. */
  async abort(): Promise<void> {
    this.aborted = true;
    const peeking = this.reader.peeking;
    this.reader.detach();
    // The start of a frame whose rest is still in the pipe: kept for whoever reads on. Peeking,
    // those bytes never left the pipe.
    this.leftover = peeking ? null : this.decoder.takePending();
    await this.finished;
  }

  /** Bytes of an incomplete frame left when logfan stopped reading (see abort). */
  leftover: Buffer | null = null;

  /** Feeds bytes a previous reader took from this FIFO but did not finish decoding. */
  prime(bytes: Buffer): void {
    // Those bytes came out of the FIFO already: the rest of their frame must be read, not peeked.
    this.reader.allowPeek = false;
    this.handleChunk(bytes);
  }

  private async finish(): Promise<void> {
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.blockTimer = null;
    this.decoder.end();
    // Partial lines and multiline records still held go out before the sinks close.
    if (this.flow !== undefined) {
      this.flow.flush();
      this.flow.close();
      this.flushSinks();
    }
    await Promise.all(
      this.slots.map(({ sink }) =>
        sink.close().catch((err: Error) => this.logger.error({ container: this.containerId, sink: sink.name, err: err.message }, 'sink close failed')),
      ),
    );
    this.logger.debug({ container: this.containerId, ...this.stats() }, 'logging finished');
    this.resolveFinished();
  }

  private reportCorruption(reason: string, skipped: number): void {
    const now = Date.now();
    if (now - this.lastCorruptionLogAt < 1000) return;
    this.lastCorruptionLogAt = now;
    this.logger.warn(
      { container: this.containerId, reason, skippedBytes: skipped, corruptFrames: this.decoder.corruptFrames },
      'corrupt frame in FIFO',
    );
  }

  stats(): ContainerStats {
    return {
      bytesRead: this.reader.bytesRead,
      reads: this.reader.reads,
      frames: this.decoder.framesDecoded,
      corruptFrames: this.decoder.corruptFrames,
      bytesSkipped: this.decoder.bytesSkipped,
      bytesSkippedOnResume: this.bytesSkippedOnResume,
      sinks: Object.fromEntries(this.slots.map(({ sink }) => [sink.name, { ...sink.stats(), pendingBytes: sink.pendingBytes }])),
      filters: this.filterStats(),
    };
  }

  private filterStats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [chain, stats] of Object.entries(this.retiredFilterStats)) out[chain] = { ...stats };
    for (const [chain, stats] of Object.entries(this.flow?.filterStats() ?? {})) {
      const total = (out[chain] ??= {});
      for (const [k, v] of Object.entries(stats)) total[k] = (total[k] ?? 0) + v;
    }
    return out;
  }
}
