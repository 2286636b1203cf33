import { extraAttributes } from '../../docker/extra-attributes.js';
import type { LogEntry } from '../../docker/log-entry.js';
import { DEFAULT_TAG_TEMPLATE, renderTag } from '../../docker/tag-template.js';
import { LogOptionError } from '../../config/log-opts.js';
import type { Logger } from '../../log.js';
import { BoundedQueue, type FullQueuePolicy } from '../util/bounded-queue.js';
import { Slab } from '../util/slab.js';
import { sinkQueue, type Sink, type SinkContext, type SinkFactory } from '../sink.js';
import { JournaldEncoder, containerVars } from './encoder.js';
import { sendViaFd } from './fd-pass.js';
import { DatagramSocketError, EAGAIN, EMSGSIZE, ENOBUFS, JournalDatagramSocket, afterRoomWait, errnoName } from './datagram-socket.js';

/** Where journald listens for native-protocol datagrams (go-systemd's journalSocket). */
export const DEFAULT_JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** The journal socket this process sends to: LOGFAN_JOURNAL_SOCKET overrides, for tests and sidecars. */
export function journalSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env['LOGFAN_JOURNAL_SOCKET'];
  return p !== undefined && p !== '' ? p : DEFAULT_JOURNAL_SOCKET;
}

export const DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024;

/**
 * Entries larger than this go through a passed descriptor instead of a datagram, as go-systemd
 * does after EMSGSIZE/ENOBUFS. Up to ~85 KB the kernel builds the datagram from order-0/2 pages
 * (no ENOBUFS); a whole 16 KiB line plus the container's fields stays far below. What journald
 * stores is the same either way.
 */
export const MAX_DATAGRAM_BYTES = 64 * 1024;

const CLOSE_DEADLINE_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** While closing, retry at least this often so the 5 s deadline is used. */
const CLOSING_BACKOFF_MAX_MS = 500;
/** journald's queue is full for the descriptor socket: try again after this. */
const FD_EAGAIN_RETRY_MS = 20;
/**
 * Short waits (afterRoomWait) in a row without one datagram getting through before the sink
 * treats journald as stalled and waits on timers instead: 1 ms doubling to 50 ms.
 */
const STALLED_AFTER_WAITS = 40;
const STALLED_WAIT_MAX_MS = 50;
const MAX_SENDS_PER_TICK = 4096;
const SLAB_BYTES = 256 * 1024;
const LOG_INTERVAL_MS = 1_000;

export interface JournaldSinkOptions {
  socketPath: string;
  containerId: string;
  logger: Logger;
  maxQueueBytes?: number;
  queuePolicy?: FullQueuePolicy;
  closeDeadlineMs?: number;
  /** Where oversized entries are staged (go-systemd: /dev/shm). */
  shmDir?: string;
  maxDatagramBytes?: number;
}

/**
 * Docker's journald driver (v20.10.24) as a non-blocking sink: entries are encoded into native
 * datagrams in write(), queued in a byte-bounded queue (drop-newest, counted), and sent from a
 * pump that runs after flush(), one send(2) each on a connected non-blocking socket. journald
 * missing never blocks the container: the queue waits, retrying with backoff 100 ms → 10 s.
 * journald's queue full (EAGAIN, the usual state while it is the slower side) is waited out in
 * ~50 µs steps off the main thread, then in timer steps once journald stops taking anything.
 */
export class JournaldSink implements Sink {
  readonly name = 'journald';
  readonly blocking = false;
  onDrain: (() => void) | null = null;

  private readonly queue: BoundedQueue;
  private readonly socketPath: string;
  private readonly logger: Logger;
  private readonly container: string;
  private readonly closeDeadlineMs: number;
  private readonly shmDir: string;
  private readonly maxDatagram: number;
  private socket: JournalDatagramSocket | null = null;
  private readonly pumpBound: () => void;
  private readonly roomRetryBound: () => void;
  private pumpScheduled = false;
  /** Waiting in afterRoomWait (journald's queue was full). */
  private waitingForRoom = false;
  /** Room waits in a row that ended in EAGAIN again without one datagram sent. */
  private fruitlessWaits = 0;
  private stalledWaitMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 0;
  private failing = false;
  private closing = false;
  private closed = false;
  private drainWaiter: (() => void) | null = null;
  private lastLogAt = 0;
  private slab = new Slab(SLAB_BYTES);

  sent = 0;
  sentBytes = 0;
  reconnects = 0;
  sendErrors = 0;
  fdPassed = 0;
  eagain = 0;
  oversizeDropped = 0;
  droppedAtClose = 0;
  droppedAfterClose = 0;

  constructor(
    private readonly encoder: JournaldEncoder,
    options: JournaldSinkOptions,
  ) {
    this.socketPath = options.socketPath;
    this.logger = options.logger;
    this.container = options.containerId.slice(0, 12);
    this.queue = new BoundedQueue(options.maxQueueBytes ?? DEFAULT_QUEUE_BYTES, options.queuePolicy ?? 'drop-newest');
    this.closeDeadlineMs = options.closeDeadlineMs ?? CLOSE_DEADLINE_MS;
    this.shmDir = options.shmDir ?? '/dev/shm';
    this.maxDatagram = options.maxDatagramBytes ?? MAX_DATAGRAM_BYTES;
    this.pumpBound = () => this.pump();
    this.roomRetryBound = () => this.roomRetry();
  }

  get pendingBytes(): number {
    return this.queue.bytes;
  }

  write(entry: LogEntry): void {
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    const start = this.slab.reserve(this.encoder.maxEncodedLength(entry));
    const end = this.encoder.encode(entry, this.slab.buf, start);
    // A dropped entry's bytes are reused by the next one.
    if (this.queue.push(this.slab.buf, start, end)) this.slab.commit(end);
  }

  flush(): void {
    if (this.queue.length > 0) this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.waitingForRoom || this.retryTimer || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(this.pumpBound);
  }

  private roomRetry(): void {
    this.waitingForRoom = false;
    this.pump();
  }

  private closeSocket(): void {
    this.socket?.close();
    this.socket = null;
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.waitingForRoom || this.retryTimer || this.closed) return;
    let sends = 0;
    while (this.queue.length > 0) {
      if (sends >= MAX_SENDS_PER_TICK) {
        this.schedulePump();
        return;
      }
      const msg = this.queue.peek()!;
      if (msg.length > this.maxDatagram) {
        if (!this.sendOversized(msg)) return;
        sends++;
        continue;
      }
      let socket = this.socket;
      if (!socket) {
        try {
          socket = new JournalDatagramSocket(this.socketPath);
          socket.connect();
        } catch (err) {
          this.unreachable(err as Error);
          return;
        }
        this.socket = socket;
      }
      const errno = socket.send(msg);
      if (errno === 0) {
        this.queue.dropFirst();
        this.delivered(msg.length);
        sends++;
        continue;
      }
      if (errno === EAGAIN) {
        this.eagain++;
        this.waitForRoom(sends > 0);
        return;
      }
      if (errno === EMSGSIZE || errno === ENOBUFS) {
        if (!this.sendOversized(msg)) return;
        sends++;
        continue;
      }
      // ECONNREFUSED (journald restarted or stopped), ENOENT, ...: a new socket after the backoff.
      this.closeSocket();
      this.unreachable(new DatagramSocketError(`send to ${this.socketPath}: ${errnoName(errno)}`, errno));
      return;
    }
    this.fruitlessWaits = 0;
    this.drained();
  }

  private waitForRoom(progressed: boolean): void {
    if (progressed) {
      this.fruitlessWaits = 0;
      this.stalledWaitMs = 0;
    } else this.fruitlessWaits++;
    if (this.fruitlessWaits < STALLED_AFTER_WAITS) {
      this.waitingForRoom = true;
      afterRoomWait(this.roomRetryBound);
      return;
    }
    // journald takes nothing (stopped, or swamped by others): stop waking every 50 µs.
    this.stalledWaitMs = this.stalledWaitMs === 0 ? 1 : Math.min(this.stalledWaitMs * 2, STALLED_WAIT_MAX_MS);
    this.retryAfter(this.stalledWaitMs);
  }

  /** go-systemd's fallback: the entry through an unlinked /dev/shm file. Returns false to stop pumping. */
  private sendOversized(msg: Buffer): boolean {
    const r = sendViaFd(this.socketPath, msg, this.shmDir);
    if (r.ok) {
      this.queue.dropFirst();
      this.fdPassed++;
      this.delivered(msg.length);
      return true;
    }
    if (r.errno === EAGAIN) {
      this.eagain++;
      this.retryAfter(FD_EAGAIN_RETRY_MS);
      return false;
    }
    if (r.errno !== 0) {
      // ENOENT, ECONNREFUSED, ...: journald is away, as for datagrams.
      this.unreachable(new Error(r.message));
      return false;
    }
    // No way to pass it (temp file or FFI failed): drop this one entry, counted.
    this.queue.dropFirst();
    this.oversizeDropped++;
    this.report(new Error(r.message), 'oversized entry dropped');
    return true;
  }

  private delivered(bytes: number): void {
    this.sent++;
    this.sentBytes += bytes;
    if (this.failing) {
      this.failing = false;
      this.backoffMs = 0;
      this.reconnects++;
      this.logger.info({ container: this.container, sink: this.name, socket: this.socketPath, queued: this.queue.length }, 'journald reachable again');
    }
  }

  private unreachable(err: Error): void {
    this.sendErrors++;
    this.failing = true;
    this.backoffMs = this.backoffMs === 0 ? BACKOFF_MIN_MS : Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    if (this.closing) this.backoffMs = Math.min(this.backoffMs, CLOSING_BACKOFF_MAX_MS);
    // A fresh socket on the next try, as after any trouble.
    this.closeSocket();
    this.report(err, 'journald unreachable; entries are queued');
    this.retryAfter(this.backoffMs);
  }

  private retryAfter(ms: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedulePump();
    }, ms);
  }

  private drained(): void {
    if (this.queue.length > 0) return;
    this.onDrain?.();
    const w = this.drainWaiter;
    this.drainWaiter = null;
    w?.();
  }

  private report(err: Error, msg: string): void {
    const now = Date.now();
    if (now - this.lastLogAt < LOG_INTERVAL_MS) return;
    this.lastLogAt = now;
    this.logger.warn(
      { container: this.container, sink: this.name, socket: this.socketPath, error: err.message, queued: this.queue.length, dropped: this.queue.droppedMessages },
      msg,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.retryTimer && this.backoffMs > CLOSING_BACKOFF_MAX_MS) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drainWaiter = resolve;
        timer = setTimeout(resolve, this.closeDeadlineMs);
        this.schedulePump();
      });
      clearTimeout(timer);
      this.drainWaiter = null;
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const left = this.queue.length;
    if (left > 0) {
      this.droppedAtClose += left;
      this.logger.warn({ container: this.container, sink: this.name, socket: this.socketPath, dropped: left }, 'journald sink closed with entries not delivered');
    }
    this.queue.clear();
    this.closeSocket();
    this.slab = new Slab(0);
  }

  stats(): Record<string, number> {
    return {
      sent: this.sent,
      sentBytes: this.sentBytes,
      dropped: this.queue.droppedMessages + this.droppedAtClose + this.oversizeDropped + this.droppedAfterClose,
      droppedQueueFull: this.queue.droppedMessages,
      droppedQueueFullBytes: this.queue.droppedBytes,
      droppedAtClose: this.droppedAtClose,
      oversizeDropped: this.oversizeDropped,
      queued: this.queue.length,
      queuedBytes: this.pendingBytes,
      reconnects: this.reconnects,
      sendErrors: this.sendErrors,
      fdPassed: this.fdPassed,
      eagain: this.eagain,
    };
  }
}

/** journald.go New(): the tag and the extra attributes, with errors that name the option. */
function containerFields(ctx: SinkContext): Map<string, string> {
  const raw = ctx.options;
  let tag: string;
  try {
    tag = renderTag(raw['tag'] ?? '', ctx.info, DEFAULT_TAG_TEMPLATE);
  } catch (err) {
    throw new LogOptionError(
      `invalid log opt tag=${JSON.stringify(raw['tag'] ?? '')}: ${(err as Error).message} (a Go text/template over the container, e.g. {{.Name}}/{{.ID}}; default {{.ID}})`,
    );
  }
  let extra: Record<string, string>;
  try {
    extra = extraAttributes(ctx.info, raw);
  } catch (err) {
    throw new LogOptionError(`${(err as Error).message} (labels and env take comma-separated names, labels-regex and env-regex an RE2 regular expression)`);
  }
  return containerVars(ctx.info, tag, extra);
}

/** Docker's journald driver: tag (default {{.ID}}), labels, labels-regex, env, env-regex. */
export const journaldSinkFactory: SinkFactory = {
  name: 'journald',
  optionNames: ['tag', 'labels', 'labels-regex', 'env', 'env-regex'],
  validate(ctx: SinkContext): void {
    containerFields(ctx);
  },
  async create(ctx: SinkContext): Promise<Sink> {
    const encoder = new JournaldEncoder(containerFields(ctx));
    const { queueBytes, queuePolicy } = sinkQueue(ctx);
    return new JournaldSink(encoder, { socketPath: journalSocketPath(), containerId: ctx.info.ContainerID, logger: ctx.logger, maxQueueBytes: queueBytes, queuePolicy });
  },
};
