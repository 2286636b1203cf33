import fs from 'node:fs';
import net from 'node:net';
import { setPipeSize } from './pipe-size.js';

export interface FifoReaderEvents {
  onChunk(chunk: Buffer): void;
  onEnd(): void;
  onError(err: Error): void;
}

/** The pipe size asked for; 1 MiB is the default /proc/sys/fs/pipe-max-size. */
export const PIPE_BYTES = 1024 * 1024;
/** One libuv read on a pipe returns at most this much; a full read means more is waiting. */
const FULL_READ = 64 * 1024;

/** Override of the wait after a short read, for measurements (LOGFAN_READ_DELAY_MS). */
const READ_DELAY_MS = process.env.LOGFAN_READ_DELAY_MS === undefined ? undefined : Number(process.env.LOGFAN_READ_DELAY_MS);

export type PauseReason = 'batch' | 'sink';

/**
 * Reads a container's FIFO as a stream on an O_NONBLOCK fd (libuv polls it; no thread-pool
 * read per FIFO), in batches: after a short read it waits `batchDelayMs` before reading again,
 * so each wake-up takes many entries instead of a few. The pipe is grown first so that the
 * daemon never blocks on it during that wait.
 */
export class FifoReader {
  private socket: net.Socket | null = null;
  private readonly pauses = new Set<PauseReason>();
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
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
    const socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.handleData(chunk));
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err) => this.events.onError(err));
  }

  private handleData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.reads++;
    this.events.onChunk(chunk);
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
    if (this.pauses.size === 0) this.socket?.resume();
  }

  /** After StopLogging: read without batching delays so EOF is seen promptly. */
  drainEagerly(): void {
    this.batchDelayMs = 0;
    this.resume('batch');
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.events.onEnd();
  }

  /**
   * Stops reading without losing anything: chunks Node already read from the pipe are delivered
   * first; what is still in the pipe stays there for the next reader (the daemon keeps the FIFO
   * open), e.g. logfan after a restart.
   */
  detach(): void {
    const socket = this.socket;
    if (socket === null) {
      this.finish();
      return;
    }
    socket.pause();
    // read() also emits 'data' for what it returns: take the handler off so nothing comes twice.
    socket.removeAllListeners('data');
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      this.bytesRead += chunk.length;
      this.reads++;
      this.events.onChunk(chunk);
    }
    this.destroy();
  }

  /** Stops reading now, dropping whatever is still in the pipe (shutdown only). */
  destroy(): void {
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
