import type { ContainerInfo } from '../../docker/container-info.js';
import type { LogEntry } from '../../docker/log-entry.js';
import type { Logger } from '../../log.js';
import type { Sink } from '../sink.js';
import { BoundedQueue, type FullQueuePolicy } from '../util/bounded-queue.js';
import { SpoolQueue, type MessageQueue } from '../util/spool-queue.js';
import type { SpoolSettings } from '../sink.js';
import { Slab } from '../util/slab.js';
import type { CompressPool } from './compress-pool.js';
import type { GelfEncoder } from './encoder.js';
import type { GelfOptions } from './options.js';

/** Encoded messages share slabs of this size; a message is a view into one. */
const SLAB_BYTES = 256 * 1024;
export const DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024;
export const CLOSE_DEADLINE_MS = 5_000;

export interface GelfSinkDeps {
  info: ContainerInfo;
  options: GelfOptions;
  encoder: GelfEncoder;
  logger: Logger;
  queueBytes?: number;
  queuePolicy?: FullQueuePolicy;
  /** spool=disk (tcp only): the queue overflows to files there, kept across restarts. */
  spool?: SpoolSettings;
  closeDeadlineMs?: number;
  /** Where UDP compression runs: by default the shared worker pool; null compresses inline. */
  compressPool?: CompressPool | null;
}

/**
 * What the UDP and TCP gelf sinks share: write() encodes the GELF JSON into a slab and queues a
 * view of it (no I/O, no timers, no closures per line); flush() asks the transport to send;
 * close() gives the transport CLOSE_DEADLINE_MS, then counts what is left as dropped.
 */
export abstract class GelfSinkBase implements Sink {
  readonly name = 'gelf';
  readonly blocking = false;
  onDrain: (() => void) | null = null;
  protected readonly queue: MessageQueue;
  protected readonly spool: SpoolQueue | null = null;
  private spoolOpened: Promise<void> | null = null;
  spooledAtClose = 0;
  protected readonly logger: Logger;
  protected readonly options: GelfOptions;
  protected readonly containerId: string;
  protected readonly address: string;
  private readonly encoder: GelfEncoder;
  private readonly slab = new Slab(SLAB_BYTES);
  protected closing = false;
  protected closed = false;
  protected readonly closeDeadlineMs: number;
  private lastProblemLogAt = 0;
  private idleWaiter: (() => void) | null = null;

  // counters
  accepted = 0;
  sent = 0;
  bytesSent = 0;
  emptyLinesSkipped = 0;
  droppedAtClose = 0;
  droppedAfterClose = 0;
  reconnects = 0;

  constructor(deps: GelfSinkDeps) {
    this.options = deps.options;
    this.encoder = deps.encoder;
    this.logger = deps.logger;
    this.containerId = deps.info.ContainerID;
    if (deps.spool && deps.options.protocol !== 'udp') {
      this.spool = new SpoolQueue({
        dir: deps.spool.dir,
        memoryBytes: deps.queueBytes ?? DEFAULT_QUEUE_BYTES,
        maxDiskBytes: deps.spool.maxDiskBytes,
        logger: deps.logger,
        onReadable: () => this.kick(),
      });
      this.queue = this.spool;
    } else {
      this.queue = new BoundedQueue(deps.queueBytes ?? DEFAULT_QUEUE_BYTES, deps.queuePolicy ?? 'drop-newest');
    }
    this.closeDeadlineMs = deps.closeDeadlineMs ?? CLOSE_DEADLINE_MS;
    const h = deps.options.host.includes(':') ? `[${deps.options.host}]` : deps.options.host;
    this.address = `${deps.options.protocol}://${h}:${deps.options.port}`;
  }

  write(entry: LogEntry): void {
    // Docker's gelf driver drops empty lines (gelf.go Log).
    if (entry.lineEnd === entry.lineStart) {
      this.emptyLinesSkipped++;
      return;
    }
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    const start = this.slab.reserve(this.encoder.maxEncodedLength(entry));
    const end = this.encoder.encode(entry, this.slab.buf, start);
    if (this.queue.push(this.slab.buf, start, end)) {
      this.slab.commit(end);
      this.accepted++;
    }
  }

  flush(): void {
    if (this.queue.length > 0 && !this.closed) this.kick();
  }

  get pendingBytes(): number {
    return this.queue.bytes + this.inflightBytes();
  }

  /** The transport should send what is queued, soon (not from inside this call's caller loop). */
  protected abstract kick(): void;
  /** Bytes handed to the socket but not yet confirmed written. */
  protected abstract inflightBytes(): number;
  /** True when nothing is queued or in flight. */
  protected idle(): boolean {
    return this.queue.length === 0 && this.inflightBytes() === 0;
  }
  /** At the close deadline: drops what the transport holds besides the queue; returns how many messages. */
  protected discardInFlight(): number {
    return 0;
  }
  /** Releases sockets and timers immediately. */
  protected abstract release(): Promise<void>;

  /** Transports call this when they start. */
  protected openSpool(): void {
    if (this.spool) this.spoolOpened = this.spool.open().catch((err: Error) => this.reportProblem(err, { during: 'opening the disk spool; queueing in memory' }));
  }

  spoolReady(): Promise<void> {
    return this.spoolOpened ?? Promise.resolve();
  }

  /** At close with a spool: the transport puts back what it holds, in order (see requeueAtClose). */
  protected requeueAtClose(): void {}

  /** Transports call this whenever a send completes, so close() can finish early. */
  protected checkIdle(): void {
    if (this.queue.length === 0) this.onDrain?.();
    if (this.idleWaiter && this.idle()) {
      const w = this.idleWaiter;
      this.idleWaiter = null;
      w();
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.flush();
    if (!this.idle()) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiter = resolve;
        timer = setTimeout(resolve, this.closeDeadlineMs);
      });
      clearTimeout(timer);
      this.idleWaiter = null;
    }
    this.closed = true;
    if (this.spool) {
      // Undelivered messages stay in the spool for the next logfan (or this container's next start).
      this.requeueAtClose();
      this.spooledAtClose = this.queue.length;
      if (this.spooledAtClose > 0) {
        this.logger.warn({ container: this.containerId, sink: this.name, address: this.address, spooled: this.spooledAtClose }, 'gelf: messages not delivered before the close deadline stay in the disk spool');
      }
      const spool = this.spool;
      await this.release();
      await (this.spoolOpened ?? Promise.resolve()).then(() => spool.close()).catch((err: Error) => this.reportProblem(err, { during: 'closing the disk spool' }));
      return;
    }
    const left = this.queue.clear() + this.discardInFlight();
    if (left > 0) {
      this.droppedAtClose += left;
      this.logger.warn(
        { container: this.containerId, sink: this.name, address: this.address, dropped: left },
        `gelf: gave up on ${left} messages at close after ${this.closeDeadlineMs} ms`,
      );
    }
    await this.release();
  }

  /** Logs a connection or send problem, at most once a second. */
  protected reportProblem(error: Error | string, extra: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (now - this.lastProblemLogAt < 1000) return;
    this.lastProblemLogAt = now;
    this.logger.warn(
      {
        container: this.containerId,
        sink: this.name,
        address: this.address,
        error: typeof error === 'string' ? error : error.message,
        queued: this.queue.length,
        ...extra,
      },
      'gelf: log server problem',
    );
  }


  protected baseStats(): Record<string, number> {
    return {
      accepted: this.accepted,
      sent: this.sent,
      bytesSent: this.bytesSent,
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
      droppedQueueFull: this.queue.droppedMessages,
      droppedAtClose: this.droppedAtClose + this.droppedAfterClose,
      emptyLinesSkipped: this.emptyLinesSkipped,
      reconnects: this.reconnects,
    };
  }

  abstract stats(): Record<string, number>;
}
