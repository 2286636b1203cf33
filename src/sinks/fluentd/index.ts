/**
 * fluentd sink: Docker's fluentd driver on the wire (Forward protocol, Message mode, the same
 * bytes per event), without its failure modes: a fluentd that is down at start or goes away never
 * blocks the container or `docker stop`. Events are encoded on the hot path into a bounded queue;
 * a background connection writes them in batches (several events per write), reconnecting with
 * exponential backoff. With fluentd-request-ack each event carries a chunk id and stays in flight
 * until fluentd acknowledges it; unacknowledged events are resent after a reconnect.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { LogEntry } from '../../docker/log-entry.js';
import { extraAttributes } from '../../docker/extra-attributes.js';
import { DEFAULT_TAG_TEMPLATE, renderTag } from '../../docker/tag-template.js';
import { LogOptionError } from '../../config/log-opts.js';
import type { Logger } from '../../log.js';
import { BoundedQueue, type FullQueuePolicy } from '../util/bounded-queue.js';
import { SpoolQueue, spoolStats, type MessageQueue } from '../util/spool-queue.js';
import { Slab } from '../util/slab.js';
import { sinkQueue, type Sink, type SinkContext, type SinkFactory, type SpoolSettings } from '../sink.js';
import { CHUNK_ID_LENGTH, FluentdEncoder } from './encoder.js';
import { FLUENTD_OPTION_NAMES, type FluentdConfig, parseFluentdOptions } from './options.js';

export { FluentdEncoder } from './encoder.js';
export { parseFluentdOptions, parseFluentdAddress, parseGoDuration } from './options.js';

const DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024;
/** Encoded events share slabs of this size (64 KiB: with 100 containers, larger slabs cost real memory). */
const BATCH_BYTES = 64 * 1024;
const WRITE_MAX_EVENTS = 4096;
const WRITE_MAX_BYTES = 512 * 1024;
/** Events written but not yet acknowledged, at most. */
const ACK_WINDOW_EVENTS = 4096;
const MAX_BACKOFF_MS = 10_000;
const DIAL_TIMEOUT_MS = 3_000;
const CLOSE_DEADLINE_MS = 5_000;
/** After the close deadline, how long a write already under way may take to finish. */
const FINAL_FLUSH_MS = 2_000;
const ERROR_LOG_INTERVAL_MS = 1_000;

export interface FluentdSinkTuning {
  queueBytes?: number;
  queuePolicy?: FullQueuePolicy;
  /** spool=disk: the queue overflows to files there, kept across restarts and close. */
  spool?: SpoolSettings;
  ackTimeoutMs?: number;
  closeDeadlineMs?: number;
}

type State = 'idle' | 'connecting' | 'connected' | 'closed';

export class FluentdSink implements Sink {
  readonly name = 'fluentd';
  readonly blocking = false;
  onDrain: (() => void) | null = null;

  readonly encoder: FluentdEncoder;
  private readonly queue: MessageQueue;
  private readonly spool: SpoolQueue | null = null;
  private spoolOpened: Promise<void> | null = null;
  private spooledAtClose = 0;
  private readonly ackTimeoutMs: number;
  private readonly closeDeadlineMs: number;
  private readonly shortId: string;
  private readonly slab = new Slab(BATCH_BYTES);

  private state: State = 'idle';
  private socket: net.Socket | null = null;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private connectedAt = 0;
  private consecutiveFailures = 0;
  private everConnected = false;
  private rotateNow = false;
  /** request-ack: events written and waiting for their ack, oldest first. */
  private inflight: Buffer[] = [];
  private inflightHead = 0;
  private inflightBytes = 0;
  private lastAckProgressAt = 0;
  private ackBuf: Buffer | null = null;
  /** Bytes handed to the socket whose write callback has not run yet. */
  private unflushedBytes = 0;

  private closing = false;
  private closePromise: Promise<void> | null = null;
  /** Past the close deadline: nothing new is written, the write under way may finish. */
  private finalFlush = false;
  private closeResolve: (() => void) | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private lastErrorLogAt = 0;

  // counters
  private sent = 0;
  private sentBytes = 0;
  private acked = 0;
  private resent = 0;
  private droppedOverLimit = 0;
  private droppedAtClose = 0;
  private droppedAfterRetries = 0;
  private lostInWrite = 0;
  private failedWrites: Buffer[][] = [];
  /** Without acks: the batches written whose callback has not run yet, oldest first. */
  private writing: Buffer[][] = [];
  /** The final flush gave up and accounted for every write under way itself. */
  private writesSettled = false;
  private connects = 0;
  private connectFailures = 0;
  private disconnects = 0;
  private ackMismatches = 0;
  private ackTimeouts = 0;
  private writeTimeouts = 0;
  private finalFlushTimeouts = 0;

  constructor(
    readonly config: FluentdConfig,
    encoder: FluentdEncoder,
    private readonly containerId: string,
    private readonly logger: Logger,
    tuning: FluentdSinkTuning = {},
  ) {
    this.encoder = encoder;
    if (tuning.spool) {
      this.spool = new SpoolQueue({
        dir: tuning.spool.dir,
        memoryBytes: tuning.queueBytes ?? DEFAULT_QUEUE_BYTES,
        maxDiskBytes: tuning.spool.maxDiskBytes,
        logger,
        onReadable: () => this.flush(),
      });
      this.queue = this.spool;
    } else {
      this.queue = new BoundedQueue(tuning.queueBytes ?? DEFAULT_QUEUE_BYTES, tuning.queuePolicy ?? 'drop-newest');
    }
    this.ackTimeoutMs = tuning.ackTimeoutMs ?? 15_000;
    this.closeDeadlineMs = tuning.closeDeadlineMs ?? CLOSE_DEADLINE_MS;
    this.backoffMs = config.retryWaitMs;
    this.shortId = containerId.slice(0, 12);
  }

  spoolReady(): Promise<void> {
    return this.spoolOpened ?? Promise.resolve();
  }

  /** Starts connecting in the background; never fails. */
  start(): void {
    if (this.spool) {
      this.spoolOpened = this.spool.open().catch((err: Error) => this.reportError(err, 'fluentd: cannot open the disk spool; queueing in memory'));
    }
    if (this.state === 'idle') this.connect();
    if (this.config.requestAck || this.config.writeTimeoutMs > 0 || this.config.asyncReconnectIntervalMs > 0) {
      this.watchdog = setInterval(() => this.checkTimeouts(), 250);
      this.watchdog.unref();
    }
  }

  get pendingBytes(): number {
    // With acks, what is written stays in flight until acknowledged; without, until the kernel has it.
    return this.queue.bytes + (this.config.requestAck ? this.inflightBytes : this.unflushedBytes);
  }

  // ------------------------------------------------------------------ hot path

  write(entry: LogEntry): void {
    if (this.state === 'closed') {
      this.droppedAtClose++;
      return;
    }
    if (this.spool === null && this.queue.length >= this.config.bufferLimit) {
      this.droppedOverLimit++;
      return;
    }
    const start = this.slab.reserve(this.encoder.maxLength(entry));
    const end = this.encoder.encode(entry, this.slab.buf, start);
    // A dropped event's bytes are reused by the next one.
    if (this.queue.push(this.slab.buf, start, end)) this.slab.commit(end);
  }

  flush(): void {
    if (this.state === 'connected') this.pump();
  }

  // ------------------------------------------------------------------ connection

  private connect(): void {
    this.reconnectTimer = null;
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const a = this.config.address;
    let sock: net.Socket;
    const readyEvent = a.protocol === 'tls' ? 'secureConnect' : 'connect';
    if (a.protocol === 'unix') sock = net.connect({ path: a.path });
    else if (a.protocol === 'tls') sock = tls.connect({ host: a.host, port: a.port, servername: net.isIP(a.host) ? undefined : a.host });
    else sock = net.connect({ host: a.host, port: a.port });
    this.socket = sock;
    sock.setTimeout(DIAL_TIMEOUT_MS);
    let lastError: Error | null = null;
    sock.once(readyEvent, () => {
      if (this.socket !== sock) return;
      this.state = 'connected';
      this.connects++;
      if (this.everConnected || this.connects > 1) this.logInfo('fluentd connection restored');
      this.everConnected = true;
      this.consecutiveFailures = 0;
      this.backoffMs = this.config.retryWaitMs;
      this.connectedAt = Date.now();
      this.lastAckProgressAt = this.connectedAt;
      sock.setNoDelay(true);
      sock.setTimeout(this.config.writeTimeoutMs);
      this.pump();
      this.checkClosed();
    });
    sock.on('data', (data: Buffer) => {
      if (this.config.requestAck && this.socket === sock) this.onAckData(data);
    });
    sock.on('drain', () => {
      if (this.socket === sock) this.pump();
    });
    // The server closed its side (a graceful restart): what we would write now is lost; reconnect.
    sock.on('end', () => {
      if (this.socket === sock) sock.destroy();
    });
    sock.on('timeout', () => {
      if (this.state === 'connecting') sock.destroy(new Error(`dial timeout after ${DIAL_TIMEOUT_MS} ms`));
      else if (sock.writableLength > 0) {
        this.writeTimeouts++;
        sock.destroy(new Error(`write timeout after ${this.config.writeTimeoutMs} ms`));
      }
    });
    sock.on('error', (err) => {
      lastError = err;
    });
    sock.on('close', () => {
      if (this.socket !== sock) return;
      this.socket = null;
      this.ackBuf = null;
      const wasConnected = this.state === 'connected';
      this.requeueInflight();
      this.requeueFailedWrites();
      if (this.state === 'closed') return;
      if (this.finalFlush) {
        this.finishClose();
        return;
      }
      this.state = 'idle';
      if (wasConnected) {
        this.disconnects++;
        if (!this.rotateNow) this.reportError(lastError ?? new Error('connection closed by peer'), 'fluentd connection lost');
      } else {
        this.connectFailures++;
        this.consecutiveFailures++;
        this.reportError(lastError ?? new Error('connection closed'), 'fluentd connect failed');
        if (this.consecutiveFailures >= this.config.maxRetries && this.spool === null) {
          // Docker gives the message up after max-retries; here the queue goes, counted.
          this.droppedAfterRetries += this.queue.clear();
          this.consecutiveFailures = 0;
        }
      }
      if (this.rotateNow) {
        this.rotateNow = false;
        this.connect();
        return;
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  /** Writes queued events in batches while the socket takes them. */
  private pump(): void {
    const sock = this.socket;
    if (!sock || this.state !== 'connected' || sock.writableEnded || sock.destroyed || this.finalFlush) return;
    if (this.config.asyncReconnectIntervalMs > 0 && this.maybeRotate(sock)) return;
    const ack = this.config.requestAck;
    while (this.queue.length > 0 && !sock.writableNeedDrain) {
      let maxEvents = WRITE_MAX_EVENTS;
      if (ack) {
        maxEvents = Math.min(maxEvents, ACK_WINDOW_EVENTS - (this.inflight.length - this.inflightHead));
        if (maxEvents <= 0) break;
      }
      const events = this.queue.take(maxEvents, WRITE_MAX_BYTES);
      // A spool hands out only what is in memory; onReadable pumps again when more is read.
      if (events.length === 0) break;
      let bytes = 0;
      for (let i = 0; i < events.length; i++) bytes += events[i].length;
      if (ack) {
        if (this.inflight.length === this.inflightHead) this.lastAckProgressAt = Date.now();
        for (let i = 0; i < events.length; i++) this.inflight.push(events[i]);
        this.inflightBytes += bytes;
      }
      this.writeEvents(sock, events, bytes);
    }
    if (this.queue.length === 0 && this.onDrain) this.onDrain();
  }

  /** One socket write per run of events that sit next to each other in the same batch buffer. */
  private writeEvents(sock: net.Socket, events: Buffer[], bytes: number): void {
    const count = events.length;
    const ack = this.config.requestAck;
    this.unflushedBytes += bytes;
    if (!ack) this.writing.push(events);
    const done = (err?: Error | null): void => {
      if (this.writesSettled) return;
      this.unflushedBytes -= bytes;
      if (!ack) {
        this.writing.shift();
        if (err) {
          // Never handed to the kernel: send again after reconnecting (at least once), in order.
          this.failedWrites.push(events);
          if (this.socket !== sock) this.requeueFailedWrites();
        } else {
          this.sent += count;
          this.sentBytes += bytes;
        }
      }
      this.checkClosed();
    };
    let runStart = events[0];
    let runLen = runStart.length;
    for (let i = 1; i < count; i++) {
      const e = events[i];
      if (e.buffer === runStart.buffer && e.byteOffset === runStart.byteOffset + runLen) {
        runLen += e.length;
        continue;
      }
      sock.write(runLen === runStart.length ? runStart : Buffer.from(runStart.buffer, runStart.byteOffset, runLen));
      runStart = e;
      runLen = e.length;
    }
    sock.write(runLen === runStart.length ? runStart : Buffer.from(runStart.buffer, runStart.byteOffset, runLen), done);
  }

  /** fluentd-async-reconnect-interval: reconnect (re-resolving) once the connection is old enough. */
  private maybeRotate(sock: net.Socket): boolean {
    if (Date.now() - this.connectedAt < this.config.asyncReconnectIntervalMs) return false;
    if (this.inflight.length > this.inflightHead || sock.writableLength > 0) return false;
    this.rotateNow = true;
    sock.destroy();
    return true;
  }

  /** Events whose write failed (the connection went away under them) go back to the front. */
  private requeueFailedWrites(): void {
    if (this.failedWrites.length === 0) return;
    const events = this.failedWrites.length === 1 ? this.failedWrites[0] : this.failedWrites.flat();
    this.failedWrites = [];
    if (this.state === 'closed') {
      this.droppedAtClose += events.length;
      return;
    }
    this.queue.unshift(events);
    this.resent += events.length;
  }

  private requeueInflight(): void {
    const pending = this.inflight.length - this.inflightHead;
    if (pending > 0) {
      // At least once: everything not acknowledged goes back to the front, in order.
      this.queue.unshift(this.inflight.slice(this.inflightHead));
      this.resent += pending;
    }
    this.inflight = [];
    this.inflightHead = 0;
    this.inflightBytes = 0;
  }

  // ------------------------------------------------------------------ acks

  private onAckData(data: Buffer): void {
    let buf = this.ackBuf ? Buffer.concat([this.ackBuf, data]) : data;
    let pos = 0;
    for (;;) {
      const end = skipValue(buf, pos);
      if (end < 0) break;
      const id = ackValue(buf, pos, end);
      if (id) this.acknowledge(id);
      pos = end;
    }
    buf = buf.subarray(pos);
    this.ackBuf = buf.length > 0 ? Buffer.from(buf) : null;
    if (this.ackBuf && this.ackBuf.length > 1024 * 1024) this.socket?.destroy(new Error('unparseable ack response'));
  }

  private acknowledge(id: Buffer): void {
    for (let i = this.inflightHead; i < this.inflight.length; i++) {
      const e = this.inflight[i];
      if (id.length === CHUNK_ID_LENGTH && e.compare(id, 0, CHUNK_ID_LENGTH, e.length - CHUNK_ID_LENGTH, e.length) === 0) {
        if (i !== this.inflightHead) {
          // Out of order: move it to the head so the slot can be retired.
          this.inflight[i] = this.inflight[this.inflightHead];
          this.inflight[this.inflightHead] = e;
        }
        this.inflight[this.inflightHead] = undefined as unknown as Buffer;
        this.inflightHead++;
        this.inflightBytes -= e.length;
        this.acked++;
        this.sent++;
        this.sentBytes += e.length;
        this.lastAckProgressAt = Date.now();
        if (this.inflightHead === this.inflight.length) {
          this.inflight = [];
          this.inflightHead = 0;
        } else if (this.inflightHead > 4096) {
          this.inflight = this.inflight.slice(this.inflightHead);
          this.inflightHead = 0;
        }
        this.pump();
        this.checkClosed();
        return;
      }
    }
    this.ackMismatches++;
  }

  private checkTimeouts(): void {
    const sock = this.socket;
    if (!sock || this.state !== 'connected') return;
    if (this.config.requestAck && this.inflight.length > this.inflightHead && Date.now() - this.lastAckProgressAt > this.ackTimeoutMs) {
      this.ackTimeouts++;
      sock.destroy(new Error(`no ack within ${this.ackTimeoutMs} ms`));
      return;
    }
    if (this.config.asyncReconnectIntervalMs > 0 && this.queue.length > 0) this.pump();
  }

  // ------------------------------------------------------------------ close

  close(): Promise<void> {
    this.closePromise ??= this.startClose();
    return this.closePromise;
  }

  private startClose(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.closing = true;
    this.flush();
    if (this.isIdle()) {
      // Resolved once the spool is closed: whoever opens it next (a drain) must not find it half-closed.
      return new Promise((resolve) => {
        this.closeResolve = resolve;
        this.finishClose();
      });
    }
    // Try at once rather than at the end of a long backoff.
    if (this.state === 'idle' && this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.connect();
    }
    return new Promise((resolve) => {
      this.closeResolve = resolve;
      this.closeTimer = setTimeout(() => this.finishClose(), this.closeDeadlineMs);
      this.closeTimer.unref();
    });
  }

  /**
   * The final flush gave up: of the writes under way, what the kernel already took counts as
   * sent (it goes out on its own once the socket is closed), the rest goes back to the queue
   * (the spool) whole. An event the kernel took only part of goes back too: the server gets a
   * torn event at the end of the connection, which it cannot decode and drops. Where libuv does
   * not say how much it still holds (TLS), everything under way goes back: at least once.
   */
  private settleUnfinishedWrites(sock: net.Socket): void {
    const handle = (sock as unknown as { _handle?: { writeQueueSize?: unknown } })._handle;
    const userland = (sock as unknown as { writableBuffer?: Array<{ chunk: Buffer }> }).writableBuffer;
    let inKernel = 0;
    if (!(sock instanceof tls.TLSSocket) && typeof handle?.writeQueueSize === 'number' && Array.isArray(userland)) {
      let notInKernel = handle.writeQueueSize;
      for (const w of userland) notInKernel += w.chunk.length;
      inKernel = Math.max(0, this.unflushedBytes - notInKernel);
    }
    const back: Buffer[] = [];
    for (const batch of this.writing) {
      for (const e of batch) {
        if (back.length === 0 && inKernel >= e.length) {
          inKernel -= e.length;
          this.sent++;
          this.sentBytes += e.length;
        } else back.push(e);
      }
    }
    this.writing = [];
    this.writesSettled = true;
    this.unflushedBytes = 0;
    if (back.length > 0) {
      this.queue.unshift(back);
      this.resent += back.length;
    }
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inflight.length === this.inflightHead && this.unflushedBytes === 0;
  }

  private checkClosed(): void {
    if (this.closing && this.state !== 'closed' && (this.isIdle() || (this.finalFlush && this.unflushedBytes === 0))) this.finishClose();
  }

  private finishClose(): void {
    if (this.state === 'closed') return;
    const live = this.socket;
    if (!this.finalFlush && live !== null && this.state === 'connected' && this.unflushedBytes > 0 && !this.config.requestAck) {
      // The write under way may be partly with the server already: cut now, its events would be
      // lost (or, given back to the spool, sent twice). It gets FINAL_FLUSH_MS more; nothing new
      // is written meanwhile. If it does not finish, the socket goes and its events count as failed.
      this.finalFlush = true;
      if (this.closeTimer) clearTimeout(this.closeTimer);
      this.closeTimer = setTimeout(() => {
        this.finalFlushTimeouts++;
        this.settleUnfinishedWrites(live);
        live.destroy();
        this.finishClose();
      }, FINAL_FLUSH_MS);
      this.closeTimer.unref();
      return;
    }
    // A write that failed under the final flush goes back in front (into the spool, if any).
    this.requeueFailedWrites();
    let left = this.queue.length + (this.inflight.length - this.inflightHead);
    let spoolClosed: Promise<void> | null = null;
    if (this.spool !== null) {
      // Undelivered events stay on disk, in order, for the next logfan (or this container's next start).
      this.requeueInflight();
      this.spooledAtClose = this.queue.length;
      left = 0;
      const spool = this.spool;
      spoolClosed = (this.spoolOpened ?? Promise.resolve()).then(() => spool.close()).catch((err: Error) => this.reportError(err, 'fluentd: closing the disk spool failed'));
    } else {
      this.droppedAtClose += left;
      this.queue.clear();
    }
    this.inflight = [];
    this.inflightHead = 0;
    this.inflightBytes = 0;
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.reconnectTimer = this.watchdog = this.closeTimer = null;
    const sock = this.socket;
    this.socket = null;
    if (sock) {
      if (left > 0 || this.unflushedBytes > 0) sock.destroy();
      else {
        sock.end();
        const t = setTimeout(() => sock.destroy(), 1000);
        t.unref();
      }
    }
    if (left > 0) {
      this.logger.warn({ container: this.shortId, sink: this.name, dropped: left }, 'fluentd: events not delivered before the close deadline were dropped');
    }
    if (this.spooledAtClose > 0) {
      this.logger.warn({ container: this.shortId, sink: this.name, spooled: this.spooledAtClose }, 'fluentd: events not delivered before the close deadline stay in the disk spool');
    }
    const resolve = this.closeResolve;
    this.closeResolve = null;
    if (spoolClosed) void spoolClosed.then(() => resolve?.());
    else resolve?.();
  }

  stats(): Record<string, number> {
    return {
      up: this.state === 'connected' ? 1 : 0,
      ...spoolStats(this.spool, this.spooledAtClose),
      sent: this.sent,
      sentBytes: this.sentBytes,
      acked: this.acked,
      resent: this.resent,
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
      inflight: this.inflight.length - this.inflightHead,
      dropped: this.queue.droppedMessages + this.droppedOverLimit + this.droppedAtClose + this.droppedAfterRetries,
      droppedQueueFull: this.queue.droppedMessages + this.droppedOverLimit,
      droppedAtClose: this.droppedAtClose,
      droppedAfterRetries: this.droppedAfterRetries,
      lostInWrite: this.lostInWrite,
      connects: this.connects,
      reconnects: Math.max(0, this.connects - 1),
      connectFailures: this.connectFailures,
      disconnects: this.disconnects,
      ackMismatches: this.ackMismatches,
      ackTimeouts: this.ackTimeouts,
      writeTimeouts: this.writeTimeouts,
      finalFlushTimeouts: this.finalFlushTimeouts,
    };
  }

  private reportError(err: Error, msg: string): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogAt = now;
    this.logger.warn(
      { container: this.shortId, sink: this.name, error: err.message, queued: this.queue.length, dropped: this.stats().dropped },
      msg,
    );
  }

  private logInfo(msg: string): void {
    this.logger.info({ container: this.shortId, sink: this.name, queued: this.queue.length }, msg);
  }
}

// ---------------------------------------------------------------------------------------------
// Minimal msgpack reading for ack responses ({"ack": "<chunk>"}).

/** The end of the msgpack value starting at pos, or -1 if it is not complete in buf. */
export function skipValue(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1;
  const b = buf[pos];
  const need = (n: number): number => (pos + n <= buf.length ? pos + n : -1);
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return pos + 1;
  if ((b & 0xe0) === 0xa0) return need(1 + (b & 0x1f));
  if ((b & 0xf0) === 0x80) return skipItems(buf, pos + 1, (b & 0x0f) * 2);
  if ((b & 0xf0) === 0x90) return skipItems(buf, pos + 1, b & 0x0f);
  switch (b) {
    case 0xcc: case 0xd0: return need(2);
    case 0xcd: case 0xd1: return need(3);
    case 0xce: case 0xd2: case 0xca: return need(5);
    case 0xcf: case 0xd3: case 0xcb: return need(9);
    case 0xd4: return need(3);
    case 0xd5: return need(4);
    case 0xd6: return need(6);
    case 0xd7: return need(10);
    case 0xd8: return need(18);
    case 0xc4: case 0xd9: return pos + 2 <= buf.length ? need(2 + buf[pos + 1]) : -1;
    case 0xc5: case 0xda: return pos + 3 <= buf.length ? need(3 + buf.readUInt16BE(pos + 1)) : -1;
    case 0xc6: case 0xdb: return pos + 5 <= buf.length ? need(5 + buf.readUInt32BE(pos + 1)) : -1;
    case 0xc7: return pos + 2 <= buf.length ? need(3 + buf[pos + 1]) : -1;
    case 0xc8: return pos + 3 <= buf.length ? need(4 + buf.readUInt16BE(pos + 1)) : -1;
    case 0xc9: return pos + 5 <= buf.length ? need(6 + buf.readUInt32BE(pos + 1)) : -1;
    case 0xdc: return pos + 3 <= buf.length ? skipItems(buf, pos + 3, buf.readUInt16BE(pos + 1)) : -1;
    case 0xdd: return pos + 5 <= buf.length ? skipItems(buf, pos + 5, buf.readUInt32BE(pos + 1)) : -1;
    case 0xde: return pos + 3 <= buf.length ? skipItems(buf, pos + 3, buf.readUInt16BE(pos + 1) * 2) : -1;
    case 0xdf: return pos + 5 <= buf.length ? skipItems(buf, pos + 5, buf.readUInt32BE(pos + 1) * 2) : -1;
    default: return pos + 1; // 0xc1 (never used): skip one byte
  }
}

function skipItems(buf: Buffer, pos: number, n: number): number {
  for (let i = 0; i < n; i++) {
    pos = skipValue(buf, pos);
    if (pos < 0) return -1;
  }
  return pos;
}

/** str or bin payload at pos, or null. */
function readStr(buf: Buffer, pos: number): Buffer | null {
  const b = buf[pos];
  if ((b & 0xe0) === 0xa0) return buf.subarray(pos + 1, pos + 1 + (b & 0x1f));
  if (b === 0xd9 || b === 0xc4) return buf.subarray(pos + 2, pos + 2 + buf[pos + 1]);
  if (b === 0xda || b === 0xc5) return buf.subarray(pos + 3, pos + 3 + buf.readUInt16BE(pos + 1));
  if (b === 0xdb || b === 0xc6) return buf.subarray(pos + 5, pos + 5 + buf.readUInt32BE(pos + 1));
  return null;
}

/** The value of "ack" in a complete map at buf[pos, end), or null. */
export function ackValue(buf: Buffer, pos: number, end: number): Buffer | null {
  const b = buf[pos];
  let n: number;
  let p: number;
  if ((b & 0xf0) === 0x80) {
    n = b & 0x0f;
    p = pos + 1;
  } else if (b === 0xde) {
    n = buf.readUInt16BE(pos + 1);
    p = pos + 3;
  } else if (b === 0xdf) {
    n = buf.readUInt32BE(pos + 1);
    p = pos + 5;
  } else return null;
  for (let i = 0; i < n && p < end; i++) {
    const key = readStr(buf, p);
    const valueAt = skipValue(buf, p);
    if (valueAt < 0) return null;
    if (key && key.length === 3 && key[0] === 0x61 && key[1] === 0x63 && key[2] === 0x6b) return readStr(buf, valueAt);
    p = skipValue(buf, valueAt);
    if (p < 0) return null;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------

interface Prepared {
  config: FluentdConfig;
  encoder: FluentdEncoder;
}

function prepare(ctx: SinkContext): Prepared {
  const raw = ctx.options;
  const config = parseFluentdOptions(raw);
  let tag: string;
  try {
    tag = renderTag(raw['tag'] ?? '', ctx.info, DEFAULT_TAG_TEMPLATE);
  } catch (err) {
    throw new LogOptionError(`invalid log opt tag=${JSON.stringify(raw['tag'] ?? '')}: ${(err as Error).message} (a Go text/template such as {{.Name}}/{{.ID}})`);
  }
  // Regex errors name labels-regex / env-regex themselves.
  const extra = extraAttributes(ctx.info, raw);
  const encoder = new FluentdEncoder({
    tag,
    containerId: ctx.info.ContainerID,
    containerName: ctx.info.ContainerName,
    extra,
    subSecondPrecision: config.subSecondPrecision,
    requestAck: config.requestAck,
  });
  return { config, encoder };
}

export const fluentdSinkFactory: SinkFactory = {
  name: 'fluentd',
  optionNames: FLUENTD_OPTION_NAMES,
  validate(ctx: SinkContext): void {
    prepare(ctx);
  },
  async create(ctx: SinkContext): Promise<Sink> {
    const { config, encoder } = prepare(ctx);
    const sink = new FluentdSink(config, encoder, ctx.info.ContainerID, ctx.logger, sinkQueue(ctx));
    sink.start();
    return sink;
  },
};
