import fs from 'node:fs';
import path from 'node:path';
import type { JsonFileOptions } from '../../config/log-opts.js';
import { gzipRotatedFile } from './gzip-rotated.js';

type Op =
  | { kind: 'write'; buf: Buffer }
  | { kind: 'rotate'; lastTime: string }
  | { kind: 'exclusive'; run: () => Promise<void> };

/**
 * A reader following the live file (docker logs -f). Calls arrive in file order: between two
 * writes, never during one, so a follower never sees half a rotation.
 */
export interface FileFollower {
  /** More bytes were appended to the live file. */
  onWritten(): void;
  /** The live file was rotated; `fd` is the new live file, opened for reading at offset 0. */
  onRotated(fd: number): void;
  /** The writer closed: nothing more will be appended. */
  onClosed(): void;
}

/** One writev takes at most this many queued batches / bytes. */
const MAX_IOV = 256;
const MAX_WRITEV_BYTES = 8 * 1024 * 1024;
/** onDrain fires when pending bytes fall below this (after having been above it). */
export const DRAIN_LOW_WATER = 4 * 1024 * 1024;

export interface RotatingWriterEvents {
  onError(err: Error, during: string): void;
  onDrain(): void;
}

/**
 * An append-only file with Docker's json-file rotation (moby loggerutils/logfile.go as shipped in
 * Docker 20.10): before a write, when the file holds ≥ max-size bytes, close it, drop
 * NAME.(max-file-1)[.gz], shift NAME.i → NAME.(i+1), rename NAME → NAME.1, reopen NAME truncated,
 * and gzip NAME.1 in the background when compress is on (the next rotation waits for it).
 *
 * The caller decides where rotations fall (`rotateBeforeNext`) while it encodes, so they land
 * between exactly the same entries as Docker's; the I/O itself runs one operation at a time,
 * in order, off the hot path.
 */
export class RotatingWriter {
  private fd = -1;
  /** Held so the fd stays open; FileHandle closes its fd when collected. */
  private keepHandle: fs.promises.FileHandle | null = null;
  private readonly ops: Op[] = [];
  private opsHead = 0;
  private busy = false;
  private closed = false;
  private compression: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];
  private readonly followers = new Set<FileFollower>();
  /** Bytes in the live file once every queued write lands: what the rotation check compares. */
  logicalSize = 0;
  pendingBytes = 0;
  bytesWritten = 0;
  writeErrors = 0;
  bytesDropped = 0;
  rotations = 0;
  /** The last complete record in the live file when it was opened (restart dedupe), or null. */
  lastLine: Buffer | null = null;
  /** Bytes of an unfinished last record cut off at open. */
  tornTailBytes = 0;

  constructor(
    readonly filePath: string,
    private readonly options: JsonFileOptions,
    private readonly events: RotatingWriterEvents,
  ) {}

  async open(): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.filePath), { recursive: true, mode: 0o750 });
    const handle = await fs.promises.open(this.filePath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
    const stat = await handle.stat();
    let size = stat.size;
    if (size > 0) {
      const tail = await readLastLine(this.filePath, size);
      // A write cut short by a kill leaves a line without its newline; appending after it would
      // glue the next record onto it. Cut it off (counted, logged by the caller).
      if (tail.tornBytes > 0) {
        await handle.truncate(size - tail.tornBytes);
        size -= tail.tornBytes;
        this.tornTailBytes = tail.tornBytes;
      }
      this.lastLine = tail.line;
    }
    this.fd = handle.fd;
    this.keepHandle = handle;
    this.logicalSize = size;
  }

  /** True when the next entry must go to a fresh file. */
  get full(): boolean {
    return this.logicalSize >= this.options.maxSize;
  }

  enqueueWrite(buf: Buffer): void {
    if (buf.length === 0) return;
    this.ops.push({ kind: 'write', buf });
    this.pendingBytes += buf.length;
    this.logicalSize += buf.length;
    this.pump();
  }

  rotateBeforeNext(lastTime: string): void {
    this.ops.push({ kind: 'rotate', lastTime });
    this.logicalSize = 0;
    this.pump();
  }

  /**
   * Runs `run` between queued writes and rotations, when the files on disk are in a settled state
   * (used to attach a follower without missing or repeating a line).
   */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.ops.push({
        kind: 'exclusive',
        run: () => run().then(resolve, reject),
      });
      this.pump();
    });
  }

  addFollower(f: FileFollower): void {
    if (this.closed) {
      f.onClosed();
      return;
    }
    this.followers.add(f);
  }

  removeFollower(f: FileFollower): void {
    this.followers.delete(f);
  }

  get followerCount(): number {
    return this.followers.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves once every queued operation is done. */
  idle(): Promise<void> {
    if (!this.busy && this.opsHead >= this.ops.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    for (const f of this.followers) f.onClosed();
    this.followers.clear();
    if (this.keepHandle) {
      const h = this.keepHandle;
      this.keepHandle = null;
      this.fd = -1;
      await h.close().catch((err: Error) => this.events.onError(err, 'close'));
    }
    if (this.compression) await this.compression;
  }

  private pump(): void {
    if (this.busy) return;
    if (this.opsHead >= this.ops.length) {
      this.ops.length = 0;
      this.opsHead = 0;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const op = this.ops[this.opsHead];
    this.ops[this.opsHead] = undefined as unknown as Op;
    this.opsHead++;
    this.busy = true;
    if (op.kind === 'rotate') {
      this.rotate(op.lastTime).then(
        () => this.done(),
        () => this.done(),
      );
      return;
    }
    if (op.kind === 'exclusive') {
      op.run().then(
        () => this.done(),
        () => this.done(),
      );
      return;
    }
    // Coalesce the queued batches up to the next rotation into one writev.
    const bufs = [op.buf];
    let bytes = op.buf.length;
    while (this.opsHead < this.ops.length && bufs.length < MAX_IOV && bytes < MAX_WRITEV_BYTES) {
      const next = this.ops[this.opsHead];
      if (next.kind !== 'write') break;
      this.ops[this.opsHead] = undefined as unknown as Op;
      this.opsHead++;
      bufs.push(next.buf);
      bytes += next.buf.length;
    }
    this.writeAll(bufs, bytes);
  }

  private done(): void {
    this.busy = false;
    this.pump();
  }

  private writeAll(bufs: Buffer[], bytes: number): void {
    if (this.fd < 0) {
      this.dropWrite(bytes, new Error('log file is not open'));
      this.done();
      return;
    }
    const callback = (err: NodeJS.ErrnoException | null, written: number) => {
      if (err) {
        // A full disk or an I/O error loses this write only; later batches are tried again.
        this.dropWrite(bytes, err);
        this.done();
        return;
      }
      this.bytesWritten += written;
      this.pendingBytes -= written;
      if (written < bytes) {
        // Short write: carry on from where the kernel stopped.
        this.writeAll(skipBytes(bufs, written), bytes - written);
        return;
      }
      this.maybeDrain(written);
      for (const f of this.followers) f.onWritten();
      this.done();
    };
    if (bufs.length === 1) fs.write(this.fd, bufs[0], 0, bufs[0].length, null, callback);
    else fs.writev(this.fd, bufs, null, callback);
  }

  private maybeDrain(justWritten: number): void {
    if (this.pendingBytes < DRAIN_LOW_WATER && this.pendingBytes + justWritten >= DRAIN_LOW_WATER) this.events.onDrain();
    else if (this.pendingBytes === 0) this.events.onDrain();
  }

  private dropWrite(bytes: number, err: Error): void {
    this.writeErrors++;
    this.bytesDropped += bytes;
    this.pendingBytes -= bytes;
    this.events.onError(err, 'write');
    this.maybeDrain(bytes);
  }

  private async rotate(lastTime: string): Promise<void> {
    const name = this.filePath;
    const { maxFile, compress } = this.options;
    if (this.compression) {
      await this.compression.catch(() => undefined);
      this.compression = null;
    }
    if (this.keepHandle) {
      const h = this.keepHandle;
      this.keepHandle = null;
      this.fd = -1;
      await h.close().catch((err: Error) => this.events.onError(err, 'rotate: close'));
    }
    let shifted = true;
    if (maxFile >= 2) {
      const ext = compress ? '.gz' : '';
      try {
        await fs.promises.rm(`${name}.${maxFile - 1}${ext}`, { force: true });
        for (let i = maxFile - 1; i > 1; i--) {
          await renameIfExists(`${name}.${i - 1}${ext}`, `${name}.${i}${ext}`);
        }
      } catch (err) {
        shifted = false;
        this.events.onError(err as Error, 'rotate: shift');
      }
    }
    if (shifted) {
      try {
        await renameIfExists(name, name + '.1');
      } catch (err) {
        this.events.onError(err as Error, 'rotate: rename');
      }
    }
    try {
      const handle = await fs.promises.open(name, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_CREAT, 0o640);
      this.keepHandle = handle;
      this.fd = handle.fd;
    } catch (err) {
      this.events.onError(err as Error, 'rotate: reopen');
    }
    this.rotations++;
    for (const f of [...this.followers]) {
      try {
        const fd = await openForReading(name);
        f.onRotated(fd);
      } catch (err) {
        this.events.onError(err as Error, 'rotate: reopen for a follower');
        this.followers.delete(f);
        f.onClosed();
      }
    }
    if (compress && maxFile >= 2 && shifted && !this.closed) {
      this.compression = gzipRotatedFile(name + '.1', lastTime).catch((err: Error) => {
        this.events.onError(err, 'compress');
      });
    }
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await fs.promises.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    rest.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return rest;
}

export function openForReading(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, fs.constants.O_RDONLY, (err, fd) => (err ? reject(err) : resolve(fd))));
}

const TAIL_BYTES = 64 * 1024;

/**
 * The last complete line of a file (without its newline) and how many bytes follow the last
 * newline (a torn record). Reads at most the last 64 KiB: a record is at most ~100 KB only for a
 * 16 KiB line of escapes, and then the dedupe it serves is simply skipped.
 */
export async function readLastLine(filePath: string, size: number): Promise<{ line: Buffer | null; tornBytes: number }> {
  const handle = await fs.promises.open(filePath, 'r');
  try {
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await handle.read(buf, 0, len, size - len);
    const tail = buf.subarray(0, bytesRead);
    const lastNl = tail.lastIndexOf(0x0a);
    if (lastNl < 0) return { line: null, tornBytes: len === size ? size : 0 };
    const tornBytes = tail.length - lastNl - 1;
    const prevNl = tail.lastIndexOf(0x0a, lastNl - 1);
    if (prevNl < 0 && len < size) return { line: null, tornBytes };
    return { line: Buffer.from(tail.subarray(prevNl + 1, lastNl)), tornBytes };
  } finally {
    await handle.close();
  }
}
