import net from 'node:net';
import tls from 'node:tls';
import { spoolStats } from '../util/spool-queue.js';
import { GelfSinkBase, type GelfSinkDeps } from './sink-base.js';

/** One write to the socket carries at most this much (whole messages). */
const BATCH_MAX_BYTES = 1024 * 1024;
const BATCH_MAX_MESSAGES = 8192;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * GELF over TCP (or TLS): each message is the uncompressed JSON plus a NUL byte (the encoder
 * appends it), as go-gelf's TCPWriter. Unlike Docker, which dials once at start (a server that is
 * down fails the container) and then blocks the container while it sleeps between redials, this
 * connects in the background, queues while disconnected and reconnects with exponential backoff
 * (100 ms → 10 s, or from gelf-tcp-reconnect-delay seconds), resolving the name on every dial.
 * One batch is in flight at a time; a batch whose write failed is sent again on the next connection,
 * at most gelf-tcp-max-reconnect times, then dropped (a server that keeps refusing it).
 */
export class TcpGelfSink extends GelfSinkBase {
  private socket: net.Socket | null = null;
  private connected = false;
  private connectFailures = 0;
  private everConnected = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private inflightBatch: Buffer[] | null = null;
  private inflightBatchBytes = 0;
  private batchRetries = 0;
  private connectedAt = 0;
  private pumpScheduled = false;
  private readonly onWritten: (err?: Error | null) => void;
  private readonly runPump: () => void;

  connects = 0;
  connectErrors = 0;
  writeErrors = 0;
  droppedAfterRetries = 0;

  constructor(deps: GelfSinkDeps) {
    super(deps);
    this.onWritten = (err) => this.writtenCallback(err ?? null);
    this.runPump = () => this.pump();
  }

  start(): void {
    this.openSpool();
    this.connect();
  }

  protected override requeueAtClose(): void {
    if (!this.inflightBatch) return;
    this.queue.unshift(this.inflightBatch);
    this.inflightBatch = null;
    this.inflightBatchBytes = 0;
  }

  protected kick(): void {
    if (this.pumpScheduled || !this.connected || this.inflightBatch) return;
    this.pumpScheduled = true;
    setImmediate(this.runPump);
  }

  protected inflightBytes(): number {
    return this.inflightBatchBytes;
  }

  private connect(): void {
    if (this.closed || this.socket) return;
    const o = this.options;
    let socket: net.Socket;
    if (o.protocol === 'tls') {
      socket = tls.connect({
        host: o.host,
        port: o.port,
        servername: net.isIP(o.host) === 0 ? o.host : undefined,
        ca: o.tls?.ca,
        cert: o.tls?.cert,
        key: o.tls?.key,
        rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
      });
    } else {
      socket = net.connect({ host: o.host, port: o.port });
    }
    this.socket = socket;
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    socket.on(o.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
      if (this.socket !== socket) return;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      this.connected = true;
      this.connectedAt = Date.now();
      this.connects++;
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
      this.kick();
    });
    // Graylog sends nothing; read and discard so a chatty peer cannot fill our buffers.
    socket.on('data', () => undefined);
    socket.on('error', (err) => {
      if (this.connected) this.writeErrors++;
      else this.connectErrors++;
      this.reportProblem(err, { during: this.connected ? 'write' : 'connect' });
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    const wasConnected = this.connected;
    this.socket = null;
    this.connected = false;
    if (this.inflightBatch) this.requeueInflight();
    // A connection that lasted a while reconnects at once; failed dials and short-lived
    // connections (a peer that accepts and hangs up) back off.
    if (wasConnected && Date.now() - this.connectedAt >= 2_000) this.connectFailures = 0;
    else this.connectFailures++;
    if (this.closed) return;
    const delay = this.connectFailures === 0 ? 0 : Math.min(this.options.reconnectMaxDelayMs, this.options.reconnectDelayMs * 2 ** (this.connectFailures - 1));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** The batch on the wire when the connection failed: send it again, unless it failed too often. */
  private requeueInflight(): void {
    const batch = this.inflightBatch!;
    this.inflightBatch = null;
    this.inflightBatchBytes = 0;
    this.batchRetries++;
    if (this.batchRetries > this.options.maxReconnect && this.spool === null) {
      this.droppedAfterRetries += batch.length;
      this.batchRetries = 0;
      this.reportProblem('Maximum reconnection attempts was reached; giving up', { during: 'write', dropped: batch.length });
    } else {
      this.queue.unshift(batch);
    }
    this.checkIdle();
  }

  private pump(): void {
    this.pumpScheduled = false;
    const socket = this.socket;
    if (!socket || !this.connected || this.inflightBatch || this.queue.length === 0) return;
    const batch = this.queue.take(BATCH_MAX_MESSAGES, BATCH_MAX_BYTES);
    // A spool hands out only what is in memory; onReadable kicks again when more is read.
    if (batch.length === 0) return;
    const buf = batch.length === 1 ? batch[0] : Buffer.concat(batch);
    this.inflightBatch = batch;
    this.inflightBatchBytes = buf.length;
    socket.write(buf, this.onWritten);
  }

  private writtenCallback(err: Error | null): void {
    const batch = this.inflightBatch;
    if (!batch) return; // already requeued by onClose
    if (err) {
      this.requeueInflight();
      this.socket?.destroy();
      return;
    }
    this.inflightBatch = null;
    this.sent += batch.length;
    this.bytesSent += this.inflightBatchBytes;
    this.inflightBatchBytes = 0;
    this.batchRetries = 0;
    if (this.queue.length > 0) this.kick();
    this.checkIdle();
  }

  protected release(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.inflightBatch) {
      this.droppedAtClose += this.inflightBatch.length;
      this.inflightBatch = null;
      this.inflightBatchBytes = 0;
    }
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (this.connected) socket.end();
      else socket.destroy();
    });
  }

  stats(): Record<string, number> {
    return {
      ...this.baseStats(),
      up: this.connected ? 1 : 0,
      dropped: this.queue.droppedMessages + this.droppedAtClose + this.droppedAfterClose + this.droppedAfterRetries,
      droppedAfterRetries: this.droppedAfterRetries,
      connects: this.connects,
      connectErrors: this.connectErrors,
      writeErrors: this.writeErrors,
      ...spoolStats(this.spool, this.spooledAtClose),
    };
  }
}
