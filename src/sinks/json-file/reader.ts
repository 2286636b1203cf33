import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseRfc3339 } from '../../docker/timestamp.js';
import { parseRecordFast } from './line-parser.js';
import { openForReading, type FileFollower, type RotatingWriter } from './rotating-writer.js';

/**
 * Reads a json-file store back, as `docker logs` does: rotated files oldest first (gzipped ones
 * decompressed), `tail` counted from the end without scanning the history, `since` / `until`,
 * and `follow` across rotations through the writer's follower hooks.
 */

export interface ReadLine {
  source: string;
  sec: number;
  nsec: number;
  /** The log value's bytes as stored: a trailing "\n" unless the entry was a non-last piece. */
  log: Buffer;
}

export interface ReadOptions {
  /** Lines from the end; < 0 means all. */
  tail: number;
  since: { sec: number; nsec: number } | null;
  until: { sec: number; nsec: number } | null;
  follow: boolean;
}

export interface ReadSink {
  /** Receives lines in order; returns false to ask the reader to wait for `resume`. */
  lines(batch: ReadLine[]): boolean;
  /** A line that is not valid JSON (a torn write after a crash, say) was skipped. */
  corrupt(file: string, offset: number): void;
}

const CHUNK = 256 * 1024;

interface FileRef {
  fd: number;
  path: string;
  compressed: boolean;
}

export interface Snapshot {
  /** Oldest first. */
  rotated: FileRef[];
  live: FileRef | null;
  liveSize: number;
}

export interface RotatedFile {
  n: number;
  plain: string | null;
  gz: string | null;
}

/** The rotated files beside `livePath` (NAME.n and NAME.n.gz), newest (.1) first. Throws ENOENT for a missing directory. */
export async function listRotatedFiles(livePath: string): Promise<RotatedFile[]> {
  const dir = path.dirname(livePath);
  const base = path.basename(livePath);
  const byN = new Map<number, RotatedFile>();
  for (const name of await fs.promises.readdir(dir)) {
    if (!name.startsWith(base + '.')) continue;
    const m = /^\.(\d+)(\.gz)?$/.exec(name.slice(base.length));
    if (!m) continue;
    const n = Number(m[1]);
    const r = byN.get(n) ?? { n, plain: null, gz: null };
    if (m[2]) r.gz = path.join(dir, name);
    else r.plain = path.join(dir, name);
    byN.set(n, r);
  }
  return [...byN.values()].sort((a, b) => a.n - b.n);
}

/** Opens every file of the store (so renames and compression after this point do not matter). */
export async function openSnapshot(livePath: string): Promise<Snapshot> {
  const dir = path.dirname(livePath);
  let rotated: RotatedFile[];
  try {
    rotated = await listRotatedFiles(livePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { rotated: [], live: null, liveSize: 0 };
    throw err;
  }
  const refs: FileRef[] = [];
  // Oldest first. Between rotation and compression a file exists as NAME.1 and NAME.1.gz: the
  // plain one is complete.
  for (let i = rotated.length - 1; i >= 0; i--) {
    const compressed = rotated[i].plain === null;
    const p = (rotated[i].plain ?? rotated[i].gz)!;
    try {
      refs.push({ fd: await openForReading(p), path: p, compressed });
    } catch (err) {
      // Compressed and removed between readdir and open: take the .gz.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || compressed) continue;
      try {
        refs.push({ fd: await openForReading(p + '.gz'), path: p + '.gz', compressed: true });
      } catch {
        // gone entirely (rotated out): nothing to read
      }
    }
  }
  let live: FileRef | null = null;
  let liveSize = 0;
  try {
    const fd = await openForReading(livePath);
    liveSize = (await fstat(fd)).size;
    live = { fd, path: livePath, compressed: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { rotated: refs, live, liveSize };
}

export function closeSnapshot(s: Snapshot): void {
  for (const r of s.rotated) fs.close(r.fd, () => undefined);
  // The live fd is handed to a follower when following; closeSnapshot is for the rest.
}

function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

async function gunzipFd(fd: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  const stream = fs.createReadStream('', { fd, autoClose: false, highWaterMark: CHUNK }).pipe(zlib.createGunzip());
  for await (const piece of stream) parts.push(piece as Buffer);
  return Buffer.concat(parts);
}

/** The {"lastTime": …} logfan and Docker put in a rotated file's gzip header, or null. */
export async function gzipLastTime(fd: number): Promise<{ sec: number; nsec: number } | null> {
  const head = Buffer.alloc(12);
  if ((await readAt(fd, head, 0, 12, 0)) < 12 || head[0] !== 0x1f || head[1] !== 0x8b || (head[3] & 0x04) === 0) return null;
  const xlen = head.readUInt16LE(10);
  const extra = Buffer.alloc(xlen);
  if ((await readAt(fd, extra, 0, xlen, 12)) < xlen) return null;
  try {
    const meta = JSON.parse(extra.toString('utf8')) as { lastTime?: unknown };
    return typeof meta.lastTime === 'string' ? parseRfc3339(meta.lastTime) : null;
  } catch {
    return null;
  }
}

/** A run of bytes to read forward: part of an open file, or a decompressed buffer. */
type Segment = { kind: 'file'; ref: FileRef; start: number; end: number } | { kind: 'buffer'; ref: FileRef; buf: Buffer; start: number };

/** Finds where the last `want` lines of buf[0, end) begin; returns [start, linesFound]. */
function lastLinesStart(buf: Buffer, end: number, want: number): [number, number] {
  let found = 0;
  // A trailing newline ends the last line; it does not start one.
  let i = end > 0 && buf[end - 1] === 0x0a ? end - 2 : end - 1;
  for (; i >= 0; i--) {
    if (buf[i] === 0x0a) {
      found++;
      if (found === want) return [i + 1, found];
    }
  }
  return [0, end > 0 ? found + 1 : 0];
}

/** Backwards over a plain file from `size`: where its last `want` lines start, and how many it has. */
async function tailOfFile(fd: number, size: number, want: number): Promise<[number, number]> {
  if (size === 0) return [0, 0];
  const buf = Buffer.allocUnsafe(CHUNK);
  let found = 0;
  let pos = size;
  let skipFinalNewline = true;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const n = await readAt(fd, buf, 0, len, pos);
    for (let i = n - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipFinalNewline = false;
        continue;
      }
      if (skipFinalNewline) {
        skipFinalNewline = false;
        continue;
      }
      found++;
      if (found === want) return [pos + i + 1, found];
    }
  }
  return [0, found + 1];
}

/**
 * The segments to read, oldest first: everything, or just enough files (read backwards) to hold
 * the last `tail` lines.
 */
async function planSegments(snap: Snapshot, tail: number, since: { sec: number; nsec: number } | null): Promise<Segment[]> {
  const newestFirst: FileRef[] = [];
  if (snap.live) newestFirst.push(snap.live);
  for (let i = snap.rotated.length - 1; i >= 0; i--) newestFirst.push(snap.rotated[i]);
  if (tail === 0) return [];
  const plan: Segment[] = [];
  let need = tail < 0 ? Infinity : tail;
  for (const ref of newestFirst) {
    if (need <= 0) break;
    const size = ref === snap.live ? snap.liveSize : -1;
    if (ref.compressed) {
      // Docker's gzip header says when the file's last entry was written: skip files that end
      // before --since without decompressing them.
      if (since) {
        const last = await gzipLastTime(ref.fd);
        if (last && before(last, since)) continue;
      }
      const buf = await gunzipFd(ref.fd);
      if (need === Infinity) {
        plan.push({ kind: 'buffer', ref, buf, start: 0 });
        continue;
      }
      const [start, found] = lastLinesStart(buf, buf.length, need);
      plan.push({ kind: 'buffer', ref, buf, start });
      need -= found;
      continue;
    }
    const end = size >= 0 ? size : (await fstat(ref.fd)).size;
    if (need === Infinity) {
      plan.push({ kind: 'file', ref, start: 0, end });
      continue;
    }
    const [start, found] = await tailOfFile(ref.fd, end, need);
    plan.push({ kind: 'file', ref, start, end });
    need -= found;
  }
  return plan.reverse();
}

/** The end of the last complete line in [0, size): size itself unless the file ends mid-line. */
async function completeLinesEnd(fd: number, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
  let pos = size;
  while (pos > 0) {
    const len = Math.min(buf.length, pos);
    pos -= len;
    const n = await readAt(fd, buf, 0, len, pos);
    const nl = buf.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) return pos + nl + 1;
  }
  return 0;
}

function before(a: { sec: number; nsec: number }, b: { sec: number; nsec: number }): boolean {
  return a.sec < b.sec || (a.sec === b.sec && a.nsec < b.nsec);
}

/** Parses one stored line; null when it is not a json-file record. */
export function parseJsonLogLine(buf: Buffer, start: number, end: number): ReadLine | null {
  const fast = parseRecordFast(buf, start, end);
  if (fast !== undefined) return fast;
  let rec: { log?: unknown; stream?: unknown; time?: unknown };
  try {
    rec = JSON.parse(buf.toString('utf8', start, end)) as typeof rec;
  } catch {
    return null;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec.time !== 'string') return null;
  let t: { sec: number; nsec: number };
  try {
    t = parseRfc3339(rec.time);
  } catch {
    return null;
  }
  return {
    source: typeof rec.stream === 'string' ? rec.stream : '',
    sec: t.sec,
    nsec: t.nsec,
    log: typeof rec.log === 'string' ? Buffer.from(rec.log, 'utf8') : Buffer.alloc(0),
  };
}

const BATCH_LINES = 512;

/**
 * Streams lines from segments to the sink, applying since/until. Returns false once a line past
 * `until` was seen (the daemon stops there too) or the reader was stopped.
 */
class LineStreamer {
  private batch: ReadLine[] = [];
  pastUntil = false;
  stopped = false;
  private resumeWaiter: (() => void) | null = null;

  constructor(
    private readonly sink: ReadSink,
    private readonly opts: ReadOptions,
  ) {}

  resume(): void {
    const w = this.resumeWaiter;
    this.resumeWaiter = null;
    w?.();
  }

  stop(): void {
    this.stopped = true;
    this.resume();
  }

  /** Feeds complete lines of buf[start, end); returns the offset after the last complete line. */
  feed(buf: Buffer, start: number, end: number, ref: FileRef, fileOffset: number): number {
    let lineStart = start;
    for (;;) {
      const nl = buf.indexOf(0x0a, lineStart);
      if (nl < 0 || nl >= end) break;
      if (nl > lineStart) this.accept(buf, lineStart, nl, ref, fileOffset + (lineStart - start));
      lineStart = nl + 1;
      if (this.pastUntil) break;
    }
    return lineStart;
  }

  accept(buf: Buffer, start: number, end: number, ref: FileRef, fileOffset: number): void {
    const line = parseJsonLogLine(buf, start, end);
    if (line === null) {
      this.sink.corrupt(ref.path, fileOffset);
      return;
    }
    if (this.opts.since && before(line, this.opts.since)) return;
    if (this.opts.until && before(this.opts.until, line)) {
      this.pastUntil = true;
      return;
    }
    this.batch.push(line);
  }

  /** Hands the batch over, waiting while the sink asks for it. */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const out = this.batch;
    this.batch = [];
    if (!this.sink.lines(out) && !this.stopped) {
      await new Promise<void>((resolve) => (this.resumeWaiter = resolve));
    }
  }

  get size(): number {
    return this.batch.length;
  }
}

export interface ReadHandle {
  /** Settles when the read is over: history sent and, when following, the writer closed or stop() called. */
  done: Promise<void>;
  /** Call when the sink can take more after lines() returned false. */
  resume(): void;
  /** Stop now (client went away); releases files and the follower. */
  stop(): void;
}

/** Where a history read stopped, for a caller that follows the live file itself (see `handOff`). */
export interface HistoryEnd {
  /**
   * The snapshot's live file, still open: the history covered [0, size), which ends with a
   * complete line (a partly written last line is left for the follower). Null when there was no
   * live file. The receiver owns `fd` and must close it.
   */
  live: { fd: number; path: string; size: number } | null;
  /** A line past `until` was seen: the read is over, there is nothing to follow. */
  pastUntil: boolean;
}

/**
 * Reads the store at `livePath`. With a live `writer`, the snapshot is taken between two of its
 * operations, and following continues from exactly where the snapshot ends.
 *
 * `handOff`, when given and the reader does not follow through `writer` itself, is called once the
 * history is read (also when it failed or was stopped) with the still-open live file instead of
 * closing it, so that a caller without a writer can follow from exactly where the history ended.
 */
export function readJsonLog(
  livePath: string,
  writer: RotatingWriter | null,
  opts: ReadOptions,
  sink: ReadSink,
  handOff?: (end: HistoryEnd) => void,
): ReadHandle {
  const streamer = new LineStreamer(sink, opts);
  let follower: LiveFollower | null = null;
  const done = (async () => {
    let snap: Snapshot;
    if (writer && !writer.isClosed) {
      snap = await writer.exclusive(async () => {
        const s = await openSnapshot(livePath);
        if (opts.follow && s.live) {
          follower = new LiveFollower(s.live, s.liveSize, streamer, writer);
          writer.addFollower(follower);
        }
        return s;
      });
    } else {
      snap = await openSnapshot(livePath);
    }
    try {
      if (handOff && !follower && snap.live) snap.liveSize = await completeLinesEnd(snap.live.fd, snap.liveSize);
      const plan = await planSegments(snap, opts.tail, opts.since);
      await streamSegments(plan, streamer);
    } finally {
      closeSnapshot(snap);
      if (!follower && handOff) {
        handOff({ live: snap.live ? { fd: snap.live.fd, path: snap.live.path, size: snap.liveSize } : null, pastUntil: streamer.pastUntil });
      } else if (!follower && snap.live) fs.close(snap.live.fd, () => undefined);
    }
    if (follower && !streamer.pastUntil && !streamer.stopped) await (follower as LiveFollower).run();
    else if (follower) (follower as LiveFollower).release();
  })();
  return {
    done,
    resume: () => streamer.resume(),
    stop: () => {
      streamer.stop();
      (follower as LiveFollower | null)?.wake();
    },
  };
}

async function streamSegments(plan: Segment[], streamer: LineStreamer): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const seg of plan) {
    if (streamer.pastUntil || streamer.stopped) return;
    if (seg.kind === 'buffer') {
      const end = seg.buf.length;
      let pos = seg.start;
      while (pos < end && !streamer.pastUntil && !streamer.stopped) {
        const stop = Math.min(end, pos + CHUNK);
        let next = streamer.feed(seg.buf, pos, stop, seg.ref, pos);
        if (next === pos) {
          // No newline within a chunk: a line longer than CHUNK, or the torn tail of the file.
          const nl = seg.buf.indexOf(0x0a, pos);
          const lineEnd = nl < 0 ? end : nl;
          streamer.accept(seg.buf, pos, lineEnd, seg.ref, pos);
          next = lineEnd + 1;
        }
        pos = next;
        if (streamer.size >= BATCH_LINES) await streamer.flush();
      }
      await streamer.flush();
      continue;
    }
    let carry: Buffer | null = null;
    let pos = seg.start;
    while (pos < seg.end && !streamer.pastUntil && !streamer.stopped) {
      const len = Math.min(CHUNK, seg.end - pos);
      const n = await readAt(seg.ref.fd, buf, 0, len, pos);
      if (n === 0) break;
      let data = buf.subarray(0, n);
      let dataOffset = pos;
      if (carry) {
        dataOffset -= carry.length;
        data = Buffer.concat([carry, data]);
        carry = null;
      }
      const consumed = streamer.feed(data, 0, data.length, seg.ref, dataOffset);
      if (consumed < data.length) carry = Buffer.from(data.subarray(consumed));
      pos += n;
      await streamer.flush();
    }
    if (carry && carry.length > 0 && !streamer.pastUntil && !streamer.stopped) {
      // The file ends without a newline: a torn last write. Docker skips it too.
      streamer.accept(carry, 0, carry.length, seg.ref, seg.end - carry.length);
      await streamer.flush();
    }
  }
}

/**
 * Follows the live file from the snapshot's end. Reads are triggered by the writer's
 * notifications (no polling, no file watches); one read loop at a time.
 */
class LiveFollower implements FileFollower {
  private fd: number;
  private position: number;
  private nextFds: number[] = [];
  private closed = false;
  private dirty = true;
  private waiter: (() => void) | null = null;
  private carry: Buffer | null = null;
  private released = false;

  constructor(
    private readonly live: FileRef,
    startAt: number,
    private readonly streamer: LineStreamer,
    private readonly writer: RotatingWriter,
  ) {
    this.fd = live.fd;
    this.position = startAt;
  }

  onWritten(): void {
    this.dirty = true;
    this.wake();
  }

  onRotated(fd: number): void {
    this.nextFds.push(fd);
    this.wake();
  }

  onClosed(): void {
    this.closed = true;
    this.wake();
  }

  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async run(): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    try {
      for (;;) {
        if (this.streamer.stopped || this.streamer.pastUntil) return;
        // Read the current file to its end.
        this.dirty = false;
        for (;;) {
          const n = await readAt(this.fd, buf, 0, CHUNK, this.position);
          if (n === 0) break;
          let data = buf.subarray(0, n);
          if (this.carry) {
            data = Buffer.concat([this.carry, data]);
            this.carry = null;
          }
          const consumed = this.streamer.feed(data, 0, data.length, this.live, this.position);
          if (consumed < data.length) this.carry = Buffer.from(data.subarray(consumed));
          this.position += n;
          await this.streamer.flush();
          if (this.streamer.stopped || this.streamer.pastUntil) return;
        }
        if (this.nextFds.length > 0) {
          // Everything before the rotation is in the old file, which we just read to its end.
          fs.close(this.fd, () => undefined);
          this.fd = this.nextFds.shift()!;
          this.position = 0;
          this.carry = null;
          continue;
        }
        if (this.closed) return;
        if (!this.dirty) await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.release();
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.writer.removeFollower(this);
    fs.close(this.fd, () => undefined);
    for (const fd of this.nextFds) fs.close(fd, () => undefined);
    this.nextFds = [];
  }
}
