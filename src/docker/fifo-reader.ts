import fs from 'node:fs';
import net from 'node:net';
import { FifoPeeker, type PeekResult } from './fifo-peek.js';
import { setPipeSize } from './pipe-size.js';
import { noteGarbage } from '../util/memory-hint.js';

export interface FifoReaderEvents {
  onChunk(chunk: Buffer): void;
  onEnd(): void;
  onError(err: Error): void;
}

/** The pipe size asked for; 1 MiB is the default /proc/sys/fs/pipe-max-size. */
export const PIPE_BYTES = 1024 * 1024;
/** One libuv read on a pipe returns at most this much; a full read means more is waiting. */
const FULL_READ = 64 * 1024;

/** LOGFAN_FIFO_PEEK=0 reads FIFOs directly (the kill -9 window of one read batch comes back). */
const PEEK_ENABLED = process.env.LOGFAN_FIFO_PEEK !== '0';
/**
 * Peeking, a FIFO found empty is looked at again after 1 ms, doubling up to this: the latency of
 * the first line after a quiet spell, and 50 looks a second for an idle container. (inotify on the
 * FIFO instead made every daemon write queue an event: +1.4 µs of dockerd's CPU a line, measured.)
 */
const PEEK_IDLE_MAX_MS = 20;
/** After StopLogging, until EOF: look this often (the daemon closes its end after our answer). */
const PEEK_EAGER_MS = 5;

/** Override of the wait after a short read, for measurements (LOGFAN_READ_DELAY_MS). */
const READ_DELAY_MS = process.env.LOGFAN_READ_DELAY_MS === undefined ? undefined : Number(process.env.LOGFAN_READ_DELAY_MS);

export type PauseReason = 'batch' | 'sink';

/**
 * Reads a container's FIFO in batches: after a short read it waits `batchDelayMs` before reading
 * again, so each wake-up takes many entries instead of a few. The pipe is grown first so that the
 * daemon never blocks on it during that wait.
 *
 * Two ways to read. Peeking (the default where tee(2) is available, see fifo-peek.ts): each batch
 * is copied out of the FIFO and stays in it until the consumer calls release() with the bytes it
 * has made safe; an empty FIFO is looked at again on a timer backing off from 1 to 20 ms. A
 * process killed at any moment then loses nothing. Direct: a stream on the O_NONBLOCK fd (libuv
 * polls it), where what was read and not yet written is lost with the process; release() is a
 * no-op there.
 */
export class FifoReader {
  private socket: net.Socket | null = null;
  private fd = -1;
  private peeker: FifoPeeker | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleDelayMs = 0;
  private peekScheduled = false;
  /** Bytes handed to onChunk and not yet released (peeking: at most one batch at a time). */
  private outstanding = 0;
  private lastPeekBytes = 0;
  private eager = false;
  private readonly peekBound = () => this.peekNow();
  private readonly idleLookBound = () => {
    this.idleTimer = null;
    this.schedulePeek();
  };
  private readonly pauses = new Set<PauseReason>();
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  /** Set false before open() to read directly (e.g. bytes of a frame were primed from elsewhere). */
  allowPeek = PEEK_ENABLED;
  pipeSize = -1;
  batchDelayMs = 0;
  bytesRead = 0;
  reads = 0;

  constructor(
    readonly path: string,
    private readonly events: FifoReaderEvents,
  ) {}

  /** Opens the FIFO (the daemon already holds it open for writing, so this never blocks). */
  async open(): Promise<void> {
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
    const stat = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
    if (!stat.isFIFO()) {
      fs.close(fd, () => undefined);
      throw new Error(`${this.path} is not a FIFO`);
    }
    this.pipeSize = setPipeSize(fd, PIPE_BYTES);
    // 1 ms measured best end to end (bench/, docs/decisions.md): longer waits slowed the
    // container down on these VMs although the 1 MiB pipe never filled.
    this.batchDelayMs = READ_DELAY_MS ?? 1;
    if (this.allowPeek && this.startPeeking(fd)) return;
    const socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.handleData(chunk));
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err) => this.events.onError(err));
  }

  /** True while reading by peeking: the consumer must release() each chunk's safe bytes. */
  get peeking(): boolean {
    return this.peeker !== null;
  }

  private startPeeking(fd: number): boolean {
    const peeker = FifoPeeker.create(fd, this.pipeSize > 0 ? this.pipeSize : 64 * 1024);
    if (!peeker) return false;
    this.fd = fd;
    this.peeker = peeker;
    this.schedulePeek();
    return true;
  }

  private schedulePeek(): void {
    if (this.peekScheduled || this.idleTimer !== null || this.ended || this.outstanding > 0 || this.pauses.size > 0 || this.peeker === null) return;
    this.peekScheduled = true;
    setImmediate(this.peekBound);
  }

  private peekNow(): void {
    this.peekScheduled = false;
    if (this.ended || this.outstanding > 0 || this.pauses.size > 0 || this.peeker === null) return;
    let r: PeekResult;
    try {
      r = this.peeker.peek(this.peeker.copySize);
    } catch (err) {
      this.events.onError(err as Error);
      this.finish();
      return;
    }
    if (r === 'eof') {
      this.finish();
      return;
    }
    if (r === 'empty') {
      this.idleDelayMs = this.eager ? PEEK_EAGER_MS : Math.min(Math.max(this.idleDelayMs * 2, 1), PEEK_IDLE_MAX_MS);
      this.idleTimer = setTimeout(this.idleLookBound, this.idleDelayMs);
      return;
    }
    this.idleDelayMs = 0;
    this.outstanding = r.length;
    this.lastPeekBytes = r.length;
    this.deliver(r);
  }

  /** Every chunk read, peeked or not, reaches the consumer here. */
  private deliver(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.reads++;
    // Each read is a Buffer of its own, garbage once its entries are written.
    noteGarbage(chunk.length);
    this.events.onChunk(chunk);
  }

  /**
   * The consumer is done with the last chunk: `bytes` of it (whole frames it has made safe) come
   * out of the FIFO; the rest is copied again with the next batch. Peeking only.
   */
  release(bytes: number): void {
    if (this.peeker === null || this.outstanding === 0) return;
    this.outstanding = 0;
    try {
      this.peeker.consume(bytes);
    } catch (err) {
      this.events.onError(err as Error);
      this.finish();
      return;
    }
    if (this.ended) return;
    if (this.lastPeekBytes < FULL_READ && this.batchDelayMs > 0) this.delayNextRead();
    else this.schedulePeek();
  }

  /** The most one chunk can hold while peeking (a frame larger than this can never complete). */
  get peekCapacity(): number {
    return this.peeker?.copySize ?? 0;
  }

  private delayNextRead(): void {
    this.pause('batch');
    if (this.timer === null) this.timer = setTimeout(() => this.resume('batch'), this.batchDelayMs);
    else this.timer.refresh();
  }

  private handleData(chunk: Buffer): void {
    this.deliver(chunk);
    if (chunk.length < FULL_READ && this.batchDelayMs > 0 && !this.ended) {
      this.pause('batch');
      if (this.timer === null) {
        this.timer = setTimeout(() => this.resume('batch'), this.batchDelayMs);
      } else {
        this.timer.refresh();
      }
    }
  }

  pause(reason: PauseReason): void {
    if (this.pauses.size === 0) this.socket?.pause();
    this.pauses.add(reason);
  }

  resume(reason: PauseReason): void {
    if (!this.pauses.delete(reason)) return;
    if (this.pauses.size === 0) {
      this.socket?.resume();
      this.schedulePeek();
    }
  }

  /** After StopLogging: read without batching delays so EOF is seen promptly. */
  drainEagerly(): void {
    this.batchDelayMs = 0;
    this.eager = true;
    if (this.idleTimer !== null && this.idleDelayMs > PEEK_EAGER_MS) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.resume('batch');
    this.schedulePeek();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopPeeking();
    this.events.onEnd();
  }

  private stopPeeking(): void {
    if (this.peeker === null) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.peeker.close();
    this.peeker = null;
    fs.close(this.fd, () => undefined);
    this.fd = -1;
  }

  /**
   * Stops reading without losing anything: chunks Node already read from the pipe are delivered
   * first; what is still in the pipe stays there for the next reader (the daemon keeps the FIFO
   * open), e.g. logfan after a restart.
   */
  detach(): void {
    const socket = this.socket;
    if (socket === null) {
      // Peeking: what was not released is still in the FIFO.
      this.finish();
      return;
    }
    socket.pause();
    // read() also emits 'data' for what it returns: take the handler off so nothing comes twice.
    socket.removeAllListeners('data');
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) this.deliver(chunk);
    this.destroy();
  }

  /** Stops reading now, dropping whatever is still in the pipe (shutdown only). */
  destroy(): void {
    if (this.peeker !== null) {
      this.finish();
      return;
    }
    if (this.socket === null) {
      // Never opened: there is no stream to end, so end here.
      this.finish();
      return;
    }
    this.socket.destroy();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
