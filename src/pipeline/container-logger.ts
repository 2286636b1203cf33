import type { ContainerInfo } from '../docker/container-info.js';
import { FifoReader } from '../docker/fifo-reader.js';
import { FrameDecoder } from '../docker/frame-decoder.js';
import type { LogEntry } from '../docker/log-entry.js';
import type { LogOptions } from '../config/log-opts.js';
import type { Logger } from '../log.js';
import type { Sink } from '../sinks/sink.js';

/** Above this many bytes waiting for a sink, stop reading the FIFO (blocking mode back-pressure). */
const SINK_HIGH_WATER = 8 * 1024 * 1024;
/**
 * With queue-full=block, how long a network sink may hold the container back at a time. Beyond
 * it the sink drops (counted) instead: a pipe that stays full would freeze the container and,
 * through the daemon's adapter lock (moby#42705), `docker stop`.
 */
const NETWORK_BLOCK_LIMIT_MS = 5000;

/**
 * One container's flow, from StartLogging to EOF: FIFO → frame decoder → sinks.
 * The decoder calls `deliver` per entry; sinks encode into batches and get one flush per read.
 */
export interface ContainerStats {
  bytesRead: number;
  reads: number;
  frames: number;
  corruptFrames: number;
  bytesSkipped: number;
  sinks: Record<string, Record<string, number>>;
}

export class ContainerLogger {
  readonly containerId: string;
  private readonly reader: FifoReader;
  private readonly decoder: FrameDecoder;
  private readonly sinks: Sink[];
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
    readonly options: LogOptions,
    sinks: Sink[],
    private readonly logger: Logger,
  ) {
    this.containerId = info.ContainerID;
    this.sinks = sinks;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.decoder = new FrameDecoder({
      onEntry: (entry) => this.deliver(entry),
      onCorruption: (reason, skipped) => this.reportCorruption(reason, skipped),
    });
    this.reader = new FifoReader(file, {
      onChunk: (chunk) => this.handleChunk(chunk),
      onEnd: () => void this.finish(),
      onError: (err) => this.logger.error({ container: this.containerId, file, err: err.message }, 'FIFO read error'),
    });
    for (const sink of sinks) sink.onDrain = () => this.maybeResume();
  }

  async start(): Promise<void> {
    await this.reader.open();
    this.logger.debug({ container: this.containerId, file: this.file, pipeSize: this.reader.pipeSize }, 'logging started');
  }

  /** Sinks are added after the FIFO is open and before any entry is read. */
  addSink(sink: Sink): void {
    sink.onDrain = () => this.maybeResume();
    this.sinks.push(sink);
  }

  private deliver(entry: LogEntry): void {
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i].write(entry);
  }

  private handleChunk(chunk: Buffer): void {
    this.decoder.push(chunk);
    let pending = 0;
    for (const sink of this.sinks) {
      sink.flush();
      if (this.holdsBack(sink)) pending = Math.max(pending, sink.pendingBytes);
    }
    if (pending > SINK_HIGH_WATER) {
      this.reader.pause('sink');
      if (this.options.queueFull === 'block' && this.blockTimer === null) {
        this.blockTimer = setTimeout(() => {
          this.blockTimer = null;
          this.blockExpired = true;
          this.maybeResume();
        }, NETWORK_BLOCK_LIMIT_MS);
      }
    }
  }

  private maybeResume(): void {
    if (this.blockExpired && this.sinks.every((s) => s.blocking || s.pendingBytes === 0)) this.blockExpired = false;
    for (const sink of this.sinks) if (this.holdsBack(sink) && sink.pendingBytes > SINK_HIGH_WATER / 2) return;
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
  private holdsBack(sink: Sink): boolean {
    return sink.blocking || (this.options.queueFull === 'block' && !this.stopping && !this.blockExpired);
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
    this.reader.detach();
    // The start of a frame whose rest is still in the pipe: kept for whoever reads on.
    this.leftover = this.decoder.takePending();
    await this.finished;
  }

  /** Bytes of an incomplete frame left when logfan stopped reading (see abort). */
  leftover: Buffer | null = null;

  /** Feeds bytes a previous reader took from this FIFO but did not finish decoding. */
  prime(bytes: Buffer): void {
    this.handleChunk(bytes);
  }

  private async finish(): Promise<void> {
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.blockTimer = null;
    this.decoder.end();
    await Promise.all(
      this.sinks.map((sink) =>
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
      sinks: Object.fromEntries(this.sinks.map((s) => [s.name, { ...s.stats(), pendingBytes: s.pendingBytes }])),
    };
  }
}
