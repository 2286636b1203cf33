/**
 * The syslog sink: Docker's built-in syslog driver (moby v20.10.24 daemon/logger/syslog and
 * vendored RackSec/srslog), same options and message bytes, over udp, tcp, tcp+tls, unix,
 * unixgram or the local /dev/log, but never blocking: lines are encoded into a bounded queue and
 * sent asynchronously over one persistent connection, which is (re)established in the background
 * with exponential backoff, so a server that is down neither fails the container start nor loses
 * what was logged meanwhile (up to the queue bound; drops are counted).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type { DgramSocket } from 'node-unix-socket';
import type { ContainerInfo } from '../../docker/container-info.js';
import type { LogEntry } from '../../docker/log-entry.js';
import { DEFAULT_TAG_TEMPLATE, renderTag } from '../../docker/tag-template.js';
import type { Logger } from '../../log.js';
import { BoundedQueue, type FullQueuePolicy } from '../util/bounded-queue.js';
import { SpoolQueue, spoolStats, type MessageQueue } from '../util/spool-queue.js';
import { Slab } from '../util/slab.js';
import { LogOptionError } from '../../config/log-opts.js';
import { sinkQueue, type Sink, type SinkContext, type SinkFactory, type SpoolSettings } from '../sink.js';
import { SyslogEncoder } from './format.js';
import { SYSLOG_OPTION_NAMES, isIpAddress, isStreamProto, parseSyslogOptions, type SyslogOptions } from './options.js';

/**
 * node-unix-socket (a native addon, ~4 MB of RSS) loads when the first unixgram syslog sink opens,
 * once, not at logfan's start: most hosts never use it.
 */
let unixSocketModule: typeof import('node-unix-socket') | null = null;
function newDgramSocket(): DgramSocket {
  unixSocketModule ??= createRequire(import.meta.url)('node-unix-socket') as typeof import('node-unix-socket');
  return new unixSocketModule.DgramSocket();
}

export const QUEUE_BYTES = 16 * 1024 * 1024;
const SLAB_BYTES = 256 * 1024;
const BATCH_BYTES = 256 * 1024;
const BATCH_COUNT = 4096;
/** Datagrams handed to the socket and not yet confirmed. */
const DGRAM_WINDOW = 256;
export const CLOSE_DEADLINE_MS = 5000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5000;
/** A connection that lived less than this does not reset the backoff. */
const STABLE_CONNECTION_MS = 1000;
const LOG_INTERVAL_MS = 1000;
/** srslog's unixSyslog(): unixgram on each path first, then unix stream. */
export const LOCAL_SYSLOG_PATHS = ['/dev/log', '/var/run/syslog', '/var/run/log'];

/** go-connections tlsconfig clientCipherSuites (v20.10.24) for TLS 1.2, plus TLS 1.3's defaults as Go keeps them. */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

type Transport = 'stream' | 'udp' | 'unixgram';
type State = 'connecting' | 'connected' | 'waiting' | 'closed';

export interface SyslogSinkSettings {
  queueBytes?: number;
  queuePolicy?: FullQueuePolicy;
  /** spool=disk (stream addresses only): the queue overflows to files there, kept across restarts. */
  spool?: SpoolSettings;
  closeDeadlineMs?: number;
  /** For tests: where the local syslog socket is looked for. */
  localPaths?: readonly string[];
}

export class SyslogSink implements Sink {
  readonly name = 'syslog';
  readonly blocking = false;
  onDrain: (() => void) | null = null;

  private readonly queue: MessageQueue;
  private readonly spool: SpoolQueue | null = null;
  private spoolOpened: Promise<void> | null = null;
  private spoolClosed: Promise<void> | null = null;
  /** The batch being written on a stream: with a spool it goes back to the queue if the write fails. */
  private inflightBatch: Buffer[] = [];
  private readonly slab = new Slab(SLAB_BYTES);
  private readonly encoder: SyslogEncoder;
  private readonly micro: boolean;
  private readonly container: string;
  private readonly closeDeadlineMs: number;
  private readonly localPaths: readonly string[];
  private state: State = 'connecting';
  private transport: Transport = 'stream';
  private stream: net.Socket | null = null;
  private udp: dgram.Socket | null = null;
  private ugram: DgramSocket | null = null;
  private ugramPath = '';
  /** Generation of the current datagram socket, so callbacks of an old one are ignored. */
  private dgramGen = 0;
  private writing = false;
  private pumping = false;
  private inflightCount = 0;
  private inflightBytes = 0;
  /** Datagrams in flight, in send order (their callbacks come in that order). */
  private inflight: Buffer[] = [];
  /** unixgram datagrams refused because no one listens: requeued once the window settles. */
  private refused: Buffer[] = [];
  private backoffMs = BACKOFF_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectedAt = 0;
  private closing = false;
  private closeResolve: (() => void) | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private lastLogAt = 0;

  sent = 0;
  sentBytes = 0;
  emptyLinesSkipped = 0;
  lostInFlight = 0;
  droppedAtClose = 0;
  spooledAtClose = 0;
  requeuedAfterFailure = 0;
  sendErrors = 0;
  connects = 0;
  reconnects = 0;
  connectFailures = 0;

  constructor(
    private readonly options: SyslogOptions,
    tag: string,
    info: ContainerInfo,
    private readonly logger: Logger,
    settings: SyslogSinkSettings = {},
  ) {
    if (settings.spool && isStreamProto(options.address.proto)) {
      this.spool = new SpoolQueue({
        dir: settings.spool.dir,
        memoryBytes: settings.queueBytes ?? QUEUE_BYTES,
        maxDiskBytes: settings.spool.maxDiskBytes,
        logger,
        onReadable: () => this.pump(),
      });
      this.queue = this.spool;
    } else {
      this.queue = new BoundedQueue(settings.queueBytes ?? QUEUE_BYTES, settings.queuePolicy ?? 'drop-newest');
    }
    this.closeDeadlineMs = settings.closeDeadlineMs ?? CLOSE_DEADLINE_MS;
    this.localPaths = settings.localPaths ?? LOCAL_SYSLOG_PATHS;
    this.container = info.ContainerID.slice(0, 12);
    this.micro = options.format === 'rfc5424micro';
    this.encoder = new SyslogEncoder({
      format: options.format,
      facility: options.facility,
      tag,
      hostname: os.hostname(),
      // Docker writes dockerd's PID; a plugin cannot know it and writes its own.
      pid: process.pid,
      octetCounting: options.octetCounting,
    });
  }

  spoolReady(): Promise<void> {
    return this.spoolOpened ?? Promise.resolve();
  }

  /** Starts connecting in the background. */
  start(): void {
    if (this.spool) this.spoolOpened = this.spool.open().catch((err: Error) => this.report(err, 'cannot open the disk spool; queueing in memory'));
    this.connect();
  }

  get pendingBytes(): number {
    return this.queue.bytes + this.inflightBytes;
  }

  write(entry: LogEntry): void {
    if (entry.lineEnd === entry.lineStart) {
      // Docker's syslog driver drops empty lines.
      this.emptyLinesSkipped++;
      return;
    }
    if (this.state === 'closed') {
      this.droppedAtClose++;
      return;
    }
    const now = Date.now();
    const subMs = this.micro ? Math.floor((performance.now() % 1) * 1000) : 0;
    // Filters' severity and fields (format.ts: PRI and, for rfc5424, STRUCTURED-DATA).
    const fields = entry.fields;
    const start = this.slab.reserve(this.encoder.maxLength(entry.lineEnd - entry.lineStart, now, fields));
    const end = this.encoder.encodeInto(this.slab.buf, start, entry.buf, entry.lineStart, entry.lineEnd, entry.source === 'stderr', now, subMs, entry.severity, fields);
    // A dropped message's bytes are reused by the next one.
    if (this.queue.push(this.slab.buf, start, end)) this.slab.commit(end);
  }

  flush(): void {
    this.pump();
  }

  stats(): Record<string, number> {
    return {
      up: this.state === 'connected' ? 1 : 0,
      sent: this.sent,
      sentBytes: this.sentBytes,
      dropped: this.queue.droppedMessages + this.lostInFlight + this.droppedAtClose,
      droppedQueueFull: this.queue.droppedMessages,
      lostInFlight: this.lostInFlight,
      droppedAtClose: this.droppedAtClose,
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
      emptyLinesSkipped: this.emptyLinesSkipped,
      sendErrors: this.sendErrors,
      connects: this.connects,
      reconnects: this.reconnects,
      connectFailures: this.connectFailures,
      ...spoolStats(this.spool, this.spooledAtClose),
      ...(this.spool ? { requeuedAfterFailure: this.requeuedAfterFailure } : {}),
    };
  }


  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.closeResolve = resolve;
      this.closing = true;
      this.pump();
      if (this.idle()) {
        this.finishClose();
        return;
      }
      this.deadlineTimer = setTimeout(() => this.finishClose(), this.closeDeadlineMs);
      // A last chance for a server that came back during the backoff.
      if (this.state === 'waiting' && this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.connect();
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private pump(): void {
    if (this.state !== 'connected') return;
    if (this.transport === 'stream') {
      if (this.writing || this.queue.length === 0 || !this.stream) return;
      const batch = this.queue.take(BATCH_COUNT, BATCH_BYTES);
      // A spool hands out only what is in memory; onReadable pumps again when more is read.
      if (batch.length === 0) return;
      const buf = batch.length === 1 ? batch[0] : Buffer.concat(batch);
      if (this.spool) this.inflightBatch = batch;
      this.writing = true;
      this.inflightCount = batch.length;
      this.inflightBytes = buf.length;
      const sock = this.stream;
      sock.write(buf, (err) => this.onStreamWritten(sock, err));
      return;
    }
    // A send callback can run synchronously (a refused unixgram send) and re-enter here.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state === 'connected' && this.refused.length === 0 && this.inflight.length < DGRAM_WINDOW && this.queue.length > 0) {
        const m = this.queue.shift()!;
        this.inflight.push(m);
        this.inflightBytes += m.length;
        if (this.transport === 'udp') this.udp!.send(m, this.onUdpSent);
        else this.ugram!.sendTo(m, 0, m.length, this.ugramPath, this.onUgramSent);
      }
    } finally {
      this.pumping = false;
    }
  }

  private onStreamWritten(sock: net.Socket, err: Error | null | undefined): void {
    if (sock !== this.stream) return;
    if (err) {
      this.disconnected(sock, err);
      return;
    }
    this.writing = false;
    this.sent += this.inflightCount;
    this.sentBytes += this.inflightBytes;
    this.inflightCount = 0;
    this.inflightBytes = 0;
    this.inflightBatch = [];
    this.afterSend();
  }

  private onUdpSent: (err: Error | null) => void = () => undefined;
  private onUgramSent: (err: Error | undefined) => void = () => undefined;

  /** One pair of callbacks per datagram socket (not per line), bound to its generation. */
  private makeDgramCallbacks(): void {
    const gen = ++this.dgramGen;
    const settle = (err: Error | null | undefined, retryable: boolean): void => {
      if (gen !== this.dgramGen) return;
      const m = this.inflight.shift();
      if (!m) return;
      this.inflightBytes -= m.length;
      if (!err) {
        this.sent++;
        this.sentBytes += m.length;
      } else if (retryable && !this.closedOrPastDeadline()) {
        this.refused.push(m);
      } else {
        this.sendErrors++;
        this.lostInFlight++;
        this.report(err, 'send failed');
      }
      if (this.inflight.length === 0 && this.refused.length > 0) {
        // Nobody listens on the socket: keep the datagrams, in order, and try again later.
        const refused = this.refused;
        this.refused = [];
        this.queue.unshift(refused);
        this.dropDgramSocket();
        this.report(err ?? new Error('refused'), 'send refused');
        this.waitAndReconnect();
        return;
      }
      this.afterSend();
    };
    this.onUdpSent = (err) => settle(err, false);
    this.onUgramSent = (err) => settle(err, err !== undefined && isRefusal(err));
  }

  private afterSend(): void {
    this.pump();
    if (this.idle()) {
      if (this.closing) this.finishClose();
      else this.onDrain?.();
    }
  }

  private idle(): boolean {
    return this.queue.length === 0 && !this.writing && this.inflight.length === 0 && this.refused.length === 0;
  }

  private closedOrPastDeadline(): boolean {
    return this.state === 'closed';
  }

  // ---------------------------------------------------------------------------------------------
  // Connecting

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const { address, tls: tlsOptions } = this.options;
    switch (address.proto) {
      case 'tcp':
        this.adoptStream(net.connect({ host: address.host, port: address.port }), 'connect');
        break;
      case 'unix':
        this.adoptStream(net.connect({ path: address.path }), 'connect');
        break;
      case 'tcp+tls': {
        const t = tlsOptions!;
        const sock = tls.connect({
          host: address.host,
          port: address.port,
          servername: isIpAddress(address.host) ? undefined : address.host,
          ca: t.ca ? [...tls.rootCertificates, ...t.ca] : undefined,
          cert: t.cert,
          key: t.key,
          rejectUnauthorized: t.rejectUnauthorized,
          minVersion: 'TLSv1.2',
          ciphers: TLS_CIPHERS,
        });
        this.adoptStream(sock, 'secureConnect');
        break;
      }
      case 'udp':
        dns.lookup(address.host, (err, ip, family) => {
          if (this.state === 'closed') return;
          if (err) return this.connectFailed(err);
          const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
          sock.on('error', (e) => this.report(e, 'udp socket error'));
          sock.connect(address.port, ip, () => {
            if (this.state === 'closed') return sock.close();
            this.dropDgramSocket();
            this.udp = sock;
            this.transport = 'udp';
            this.makeDgramCallbacks();
            this.connected();
          });
        });
        break;
      case 'unixgram':
        this.openUnixgram(address.path);
        break;
      case 'local':
        void this.connectLocal();
        break;
    }
  }

  private openUnixgram(path: string): void {
    this.dropDgramSocket();
    const sock = newDgramSocket();
    sock.on('error', (e: Error) => this.report(e, 'unixgram socket error'));
    this.ugram = sock;
    this.ugramPath = path;
    this.transport = 'unixgram';
    this.makeDgramCallbacks();
    this.connected();
  }

  /** srslog's unixSyslog(): the first datagram socket among the paths, else the first stream one. */
  private async connectLocal(): Promise<void> {
    const probes = await Promise.all(this.localPaths.map(probeUnixSocket));
    if (this.state === 'closed') {
      for (const p of probes) p.sock?.destroy();
      return;
    }
    const dgramIndex = probes.findIndex((p) => p.kind === 'dgram');
    const streamIndex = probes.findIndex((p) => p.kind === 'stream');
    probes.forEach((p, i) => {
      if (p.sock && (dgramIndex >= 0 || i !== streamIndex)) p.sock.destroy();
    });
    if (dgramIndex >= 0) this.openUnixgram(this.localPaths[dgramIndex]);
    else if (streamIndex >= 0) this.adoptStream(probes[streamIndex].sock!, null);
    else this.connectFailed(new Error('Unix syslog delivery error'));
  }

  /** Wires a stream socket; `readyEvent` null means it is connected already. */
  private adoptStream(sock: net.Socket, readyEvent: 'connect' | 'secureConnect' | null): void {
    this.stream = sock;
    this.transport = 'stream';
    sock.on('error', (err) => this.disconnected(sock, err));
    sock.on('close', () => this.disconnected(sock, null));
    // The server has nothing to say; a FIN from it means it went away.
    sock.on('end', () => sock.destroy());
    sock.on('timeout', () => sock.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    sock.resume();
    const ready = (): void => {
      if (sock !== this.stream) return;
      sock.setTimeout(0);
      sock.setKeepAlive(true, 30_000);
      this.connected();
    };
    if (readyEvent === null) ready();
    else {
      sock.setTimeout(CONNECT_TIMEOUT_MS);
      sock.once(readyEvent, ready);
    }
  }

  private connected(): void {
    if (this.state === 'closed') return;
    this.state = 'connected';
    this.connects++;
    if (this.connects > 1) this.reconnects++;
    this.connectedAt = Date.now();
    this.pump();
    if (this.closing && this.idle()) this.finishClose();
  }

  private connectFailed(err: Error): void {
    this.connectFailures++;
    this.report(err, 'connect failed');
    this.waitAndReconnect();
  }

  /** A stream socket failed or closed: what was being written is lost, the rest waits. */
  private disconnected(sock: net.Socket, err: Error | null): void {
    if (sock !== this.stream) return;
    this.stream = null;
    sock.destroy();
    if (this.writing) {
      if (this.spool && this.inflightBatch.length > 0 && this.state !== 'closed') {
        // Perhaps partly received: sent again after reconnecting (at least once), in order.
        this.queue.unshift(this.inflightBatch);
        this.requeuedAfterFailure += this.inflightBatch.length;
      } else this.lostInFlight += this.inflightCount;
      this.inflightBatch = [];
      this.writing = false;
      this.inflightCount = 0;
      this.inflightBytes = 0;
    }
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    if (wasConnected) {
      if (Date.now() - this.connectedAt >= STABLE_CONNECTION_MS) this.backoffMs = BACKOFF_MIN_MS;
      this.report(err ?? new Error('connection closed by the server'), 'connection lost');
    } else {
      this.connectFailures++;
      this.report(err ?? new Error('connection closed while connecting'), 'connect failed');
    }
    this.waitAndReconnect();
  }

  private waitAndReconnect(): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    if (this.retryTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private dropDgramSocket(): void {
    this.dgramGen++;
    for (const m of this.inflight) this.inflightBytes -= m.length;
    this.lostInFlight += this.inflight.length;
    this.inflight = [];
    if (this.udp) {
      this.udp.close();
      this.udp = null;
    }
    if (this.ugram) {
      try {
        this.ugram.close();
      } catch {
        // already closed
      }
      this.ugram = null;
    }
  }

  private finishClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.retryTimer = null;
    this.deadlineTimer = null;
    if (this.spool) {
      // Undelivered messages stay in the spool for the next logfan (or this container's next start).
      if (this.writing && this.inflightBatch.length > 0) this.queue.unshift(this.inflightBatch);
      this.inflightBatch = [];
      this.spooledAtClose = this.queue.length;
      if (this.spooledAtClose > 0) this.logger.warn({ container: this.container, sink: this.name, spooled: this.spooledAtClose }, 'syslog: messages not delivered before the close deadline stay in the disk spool');
      const spool = this.spool;
      this.spoolClosed = (this.spoolOpened ?? Promise.resolve()).then(() => spool.close()).catch((err: Error) => this.report(err, 'closing the disk spool failed'));
    } else {
      const left = this.queue.length + this.refused.length + (this.writing ? this.inflightCount : 0);
      if (left > 0) {
        this.droppedAtClose += left;
        this.logger.warn({ container: this.container, sink: this.name, dropped: left }, 'syslog: gave up on undelivered messages at close');
      }
      this.queue.clear();
    }
    this.refused = [];
    const sock = this.stream;
    this.stream = null;
    if (sock) {
      if (this.writing) sock.destroy();
      else {
        sock.end();
        setTimeout(() => sock.destroy(), 2000).unref();
      }
    }
    this.writing = false;
    this.inflightCount = 0;
    this.dropDgramSocket();
    this.inflightBytes = 0;
    const resolve = this.closeResolve;
    this.closeResolve = null;
    if (this.spoolClosed) void this.spoolClosed.then(() => resolve?.());
    else resolve?.();
  }

  /** Connection problems, at most one log line a second. */
  private report(err: Error, what: string): void {
    const now = Date.now();
    if (now - this.lastLogAt < LOG_INTERVAL_MS) return;
    this.lastLogAt = now;
    this.logger.warn(
      { container: this.container, sink: this.name, address: this.options.address.text || 'local', error: err.message, queued: this.queue.length },
      `syslog: ${what}`,
    );
  }
}

function isRefusal(err: Error): boolean {
  const m = err.message;
  return /Connection refused|No such file or directory|ECONNREFUSED|ENOENT/.test(m);
}

interface UnixProbe {
  kind: 'stream' | 'dgram' | 'none';
  sock?: net.Socket;
}

/** A stream connect tells a stream socket (connects), a datagram one (EPROTOTYPE) and nothing. */
function probeUnixSocket(path: string): Promise<UnixProbe> {
  return new Promise((resolve) => {
    const sock = net.connect({ path });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve({ kind: 'stream', sock });
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.destroy();
      resolve({ kind: err.code === 'EPROTOTYPE' ? 'dgram' : 'none' });
    });
  });
}

export function syslogTag(ctx: SinkContext): string {
  return renderTag(ctx.options['tag'] ?? '', ctx.info, DEFAULT_TAG_TEMPLATE);
}

export const syslogSinkFactory: SinkFactory = {
  name: 'syslog',
  optionNames: SYSLOG_OPTION_NAMES,
  validate(ctx: SinkContext): void {
    const options = parseSyslogOptions(ctx.options);
    syslogTag(ctx);
    if (ctx.options['syslog-spool'] === 'disk' && !isStreamProto(options.address.proto)) {
      throw new LogOptionError(
        `invalid log opt syslog-spool=disk: syslog-address ${options.address.text || '(local)'} has no connection to retry on (spool=disk works for tcp://, tcp+tls:// and unix://)`,
      );
    }
    // labels, labels-regex, env and env-regex are accepted and unused, as by Docker's driver.
  },
  async create(ctx: SinkContext): Promise<Sink> {
    const sink = new SyslogSink(parseSyslogOptions(ctx.options), syslogTag(ctx), ctx.info, ctx.logger, sinkQueue(ctx));
    sink.start();
    return sink;
  },
};
