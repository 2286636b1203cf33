import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { chunkPayload, GelfMessageTooLargeError } from './chunker.js';
import { compressPayload } from './compress.js';
import { sharedCompressPool, type CompressPool } from './compress-pool.js';
import { GelfSinkBase, type GelfSinkDeps } from './sink-base.js';

/** Datagrams handed to the socket and not yet called back, at most. */
const MAX_INFLIGHT = 256;
/** Work done per event-loop turn before yielding to the FIFO reader (compression is synchronous). */
const PUMP_MAX_MESSAGES = 512;
const PUMP_MAX_MS = 4;
/** Compression batches handed to the worker pool and not yet back, per sink, at most. */
const MAX_BATCHES_IN_FLIGHT = 4;
const BATCH_MAX_MESSAGES = 256;
const BATCH_MAX_BYTES = 256 * 1024;
/** No new batch while this many compressed messages wait for the socket. */
const READY_HIGH_WATER = 1024;

interface Batch {
  messages: Buffer[];
  bytes: number;
  compressed: Buffer[] | null;
}

/** How often a host name is resolved again (Docker resolves once, at start). */
export const UDP_RESOLVE_INTERVAL_MS = 30_000;

/**
 * GELF over UDP as go-gelf's UDPWriter: a connected datagram socket, per-message compression,
 * chunking above 1420 bytes. Unlike Docker, the name is resolved in the background (a DNS failure
 * never fails the container's start), again every 30 s and after send errors, and a changed
 * address gets a new socket. Send errors (e.g. ECONNREFUSED from an ICMP port-unreachable) lose
 * that datagram, as with Docker, and are counted.
 *
 * gzip / zlib run on the shared worker pool (compress-pool.ts) in batches, at most
 * MAX_BATCHES_IN_FLIGHT per sink; results are sent in submission order. If the pool is
 * unavailable or a worker dies, the batch is compressed here instead (same bytes), and counted.
 */
export class UdpGelfSink extends GelfSinkBase {
  private socket: dgram.Socket | null = null;
  private connected = false;
  private remote = '';
  private inflight = 0;
  private inflightBytesCount = 0;
  private pumpScheduled = false;
  private resolving = false;
  private lastResolveAt = 0;
  private resolveFailures = 0;
  private resolveTimer: NodeJS.Timeout | null = null;
  private readonly refreshTimer: NodeJS.Timeout | null;
  private readonly onSent: (err: Error | null, bytes?: number) => void;
  private readonly runPump: () => void;
  private readonly pool: CompressPool | null;
  /** Batches at the pool, oldest first; a finished one waits for those before it. */
  private batches: Batch[] = [];
  private batchBytes = 0;
  /** Compressed messages waiting for the socket, in order (before anything in the queue). */
  private ready: Buffer[] = [];
  private readyHead = 0;
  private readyBytes = 0;

  datagrams = 0;
  sendErrors = 0;
  tooLarge = 0;
  resolveErrors = 0;
  compressedInWorker = 0;
  compressedInline = 0;
  compressFallbacks = 0;

  constructor(deps: GelfSinkDeps) {
    super(deps);
    this.onSent = (err, bytes) => this.sentCallback(err, bytes);
    this.runPump = () => this.pump();
    this.pool = this.options.compression === 'none' ? null : deps.compressPool === undefined ? sharedCompressPool() : deps.compressPool;
    this.refreshTimer = net.isIP(this.options.host) === 0 ? setInterval(() => this.resolve(), UDP_RESOLVE_INTERVAL_MS) : null;
    this.refreshTimer?.unref();
  }

  start(): void {
    this.resolve();
  }

  protected kick(): void {
    if (this.pumpScheduled || !this.connected) return;
    this.pumpScheduled = true;
    setImmediate(this.runPump);
  }

  protected inflightBytes(): number {
    return this.inflightBytesCount + this.batchBytes + this.readyBytes;
  }

  private resolve(): void {
    if (this.resolving || this.closed) return;
    this.resolving = true;
    this.lastResolveAt = Date.now();
    dns.lookup(this.options.host, { verbatim: true }, (err, address, family) => {
      this.resolving = false;
      if (this.closed) return;
      if (err) {
        this.resolveErrors++;
        this.reportProblem(err, { during: 'resolve' });
        // Not connected yet: retry with backoff; connected: keep the old address until the next refresh.
        if (!this.connected) this.scheduleResolve();
        return;
      }
      this.resolveFailures = 0;
      const remote = `${family}/${address}`;
      if (remote === this.remote && this.socket) return;
      this.openSocket(address, family === 6 ? 'udp6' : 'udp4', remote);
    });
  }

  private scheduleResolve(): void {
    if (this.resolveTimer || this.closed) return;
    const delay = Math.min(this.options.reconnectMaxDelayMs, this.options.reconnectDelayMs * 2 ** this.resolveFailures);
    this.resolveFailures++;
    this.resolveTimer = setTimeout(() => {
      this.resolveTimer = null;
      this.resolve();
    }, delay);
  }

  private openSocket(address: string, type: 'udp4' | 'udp6', remote: string): void {
    const old = this.socket;
    if (old) {
      this.reconnects++;
      // Sends still queued on the old socket finish (or fail) first.
      const closeOld = () => {
        try {
          old.close();
        } catch {
          // already closed
        }
      };
      if (this.inflight === 0) closeOld();
      else setTimeout(closeOld, 1000).unref();
    }
    const socket = dgram.createSocket({ type });
    this.socket = socket;
    this.connected = false;
    this.remote = remote;
    socket.on('error', (err) => {
      this.reportProblem(err, { during: 'socket' });
      if (this.socket === socket && !this.connected) {
        // Never got connected: start over with a fresh resolution.
        this.socket = null;
        this.remote = '';
        try {
          socket.close();
        } catch {
          // already closed
        }
        this.scheduleResolve();
      }
    });
    socket.connect(this.options.port, address, () => {
      if (this.socket !== socket) return;
      this.connected = true;
      if (this.queue.length > 0) this.kick();
    });
  }

  private pump(): void {
    this.pumpScheduled = false;
    const socket = this.socket;
    if (!socket || !this.connected) return;
    this.dispatch();
    const started = Date.now();
    let n = 0;
    while (this.inflight < MAX_INFLIGHT) {
      let payload: Buffer;
      if (this.readyHead < this.ready.length) {
        payload = this.ready[this.readyHead]!;
        this.ready[this.readyHead++] = undefined as unknown as Buffer;
        this.readyBytes -= payload.length;
        if (this.readyHead === this.ready.length) {
          this.ready = [];
          this.readyHead = 0;
        }
      } else if (this.batches.length === 0 && this.queue.length > 0 && !this.poolUsable()) {
        // No pool (or compression none): compress here, as before.
        const message = this.queue.shift()!;
        try {
          payload = compressPayload(message, this.options.compression, this.options.compressionLevel);
          if (this.options.compression !== 'none') this.compressedInline++;
        } catch (err) {
          this.sendErrors++;
          this.reportProblem(err as Error, { during: 'encode' });
          continue;
        }
      } else break;
      let datagrams: Buffer[];
      try {
        datagrams = chunkPayload(payload);
      } catch (err) {
        if (err instanceof GelfMessageTooLargeError) this.tooLarge++;
        else this.sendErrors++;
        this.reportProblem(err as Error, { during: 'encode' });
        continue;
      }
      for (const d of datagrams) {
        this.inflight++;
        this.inflightBytesCount += d.length;
        this.datagrams++;
        this.bytesSent += d.length;
        socket.send(d, this.onSent);
      }
      this.sent++;
      if (++n >= PUMP_MAX_MESSAGES || Date.now() - started >= PUMP_MAX_MS) break;
    }
    this.dispatch();
    if (this.hasSendable() && this.inflight < MAX_INFLIGHT) this.kick();
    this.checkIdle();
  }

  private poolUsable(): boolean {
    return this.pool !== null && this.pool.available;
  }

  /** Something the pump can send now (compressed, or compressible inline). */
  private hasSendable(): boolean {
    return this.readyHead < this.ready.length || (this.batches.length === 0 && this.queue.length > 0 && !this.poolUsable());
  }

  /** Hands queued messages to the pool, in batches, keeping a few in flight. */
  private dispatch(): void {
    const pool = this.pool;
    if (!pool || this.closed) return;
    while (
      pool.available &&
      this.queue.length > 0 &&
      this.batches.length < MAX_BATCHES_IN_FLIGHT &&
      this.ready.length - this.readyHead < READY_HIGH_WATER
    ) {
      const messages = this.queue.take(BATCH_MAX_MESSAGES, BATCH_MAX_BYTES);
      let bytes = 0;
      for (const m of messages) bytes += m.length;
      const batch: Batch = { messages, bytes, compressed: null };
      this.batches.push(batch);
      this.batchBytes += bytes;
      const ok = pool.submit(messages, this.options.compression, this.options.compressionLevel, (err, out) => this.batchDone(batch, err, out));
      if (!ok) {
        this.batchDone(batch, new Error('compression pool unavailable'), null);
        break;
      }
    }
  }

  private batchDone(batch: Batch, err: Error | null, out: Buffer[] | null): void {
    if (this.batches.indexOf(batch) < 0) return; // discarded at close
    if (err || !out) {
      // The worker could not do it: compress here, same bytes.
      this.compressFallbacks++;
      const compressed: Buffer[] = [];
      for (const m of batch.messages) {
        try {
          compressed.push(compressPayload(m, this.options.compression, this.options.compressionLevel));
          this.compressedInline++;
        } catch (e) {
          this.sendErrors++;
          this.reportProblem(e as Error, { during: 'encode' });
        }
      }
      batch.compressed = compressed;
    } else {
      this.compressedInWorker += out.length;
      batch.compressed = out;
    }
    batch.messages = [];
    // Results join the send order only once every earlier batch has.
    while (this.batches.length > 0 && this.batches[0]!.compressed) {
      const b = this.batches.shift()!;
      this.batchBytes -= b.bytes;
      for (const c of b.compressed!) {
        this.ready.push(c);
        this.readyBytes += c.length;
      }
    }
    if (this.hasSendable() || this.queue.length > 0) this.kick();
    this.checkIdle();
  }

  protected override discardInFlight(): number {
    let n = this.ready.length - this.readyHead;
    for (const b of this.batches) n += b.compressed ? b.compressed.length : b.messages.length;
    this.batches = [];
    this.batchBytes = 0;
    this.ready = [];
    this.readyHead = 0;
    this.readyBytes = 0;
    return n;
  }

  private sentCallback(err: Error | null, bytes: number | undefined): void {
    // A failed send does not say its size: take the average then; 0 once nothing is in flight.
    const size = typeof bytes === 'number' ? bytes : this.inflightBytesCount / this.inflight;
    this.inflight--;
    this.inflightBytesCount = this.inflight === 0 ? 0 : Math.max(0, this.inflightBytesCount - size);
    if (err) {
      this.sendErrors++;
      this.reportProblem(err, { during: 'send', sendErrors: this.sendErrors });
      if (Date.now() - this.lastResolveAt > 5_000 && net.isIP(this.options.host) === 0) this.resolve();
    }
    if ((this.hasSendable() || (this.queue.length > 0 && this.batches.length < MAX_BATCHES_IN_FLIGHT)) && this.inflight < MAX_INFLIGHT / 2) this.kick();
    this.checkIdle();
  }

  protected override idle(): boolean {
    return this.queue.length === 0 && this.inflight === 0 && this.batches.length === 0 && this.readyHead === this.ready.length;
  }

  protected release(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.resolveTimer) clearTimeout(this.resolveTimer);
    this.resolveTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.connected = false;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  stats(): Record<string, number> {
    return {
      ...this.baseStats(),
      dropped: this.queue.droppedMessages + this.droppedAtClose + this.droppedAfterClose + this.tooLarge,
      datagrams: this.datagrams,
      sendErrors: this.sendErrors,
      tooLarge: this.tooLarge,
      resolveErrors: this.resolveErrors,
      compressedInWorker: this.compressedInWorker,
      compressedInline: this.compressedInline,
      compressFallbacks: this.compressFallbacks,
    };
  }
}
