/**
 * SpoolQueue: the sinks' message queue (the same surface as BoundedQueue), overflowing to disk.
 * When a sink is away its queue spills into segment files under `dir`, survives a logfan restart,
 * and drains in order when the sink returns.
 *
 * Layout, always in this order: memory head … disk … (memory tail). While nothing is on disk,
 * push() keeps messages in memory up to `memoryBytes`; beyond that they are appended to the current
 * segment file, and once anything is on disk every push goes to disk until the disk part has been
 * read back, so order is kept. take()/shift()/peek() only hand out what is in memory; `length` and
 * `bytes` count memory + disk, so `length > 0` with take() returning [] means "more is coming":
 * the sink stops pumping and waits for `onReadable`, called when a chunk arrives from disk.
 *
 * Using it: `await open()` first (pushes made before it resolves are kept and go after what it
 * finds); a sink pumps while take() returns messages and otherwise waits for `onReadable`; before
 * close() it gives back (unshift) what it did not deliver; destroy() when the container is gone.
 *
 * No synchronous fs call anywhere. push() is synchronous and does no I/O: it copies the message
 * (into a memory slab, or as a record into an append buffer), so the caller may reuse its buffer at
 * once; a background writer appends those buffers with one writev per event-loop turn (everything
 * that accumulated while the previous write was in flight), at most one write in flight per queue.
 * A failed write is retried (backoff up to 30 s) after cutting the file back to what was written.
 * Reading back is asynchronous too: when the memory part falls under half of `memoryBytes`, the
 * next chunk (up to 1 MiB of records, at least one record) is read.
 *
 * Files (mode 0600 in a 0700 directory):
 *   000000000001.spool …  segments: "LFSPOOL1", then records; at most `segmentBytes` each (a
 *                          larger single record gets a segment of its own). Sequence numbers only
 *                          grow. Only the newest segment is appended to; the rest are read-only.
 *   head.spool             written by close(): "LFSPHEAD", the cursor (segment seq f64, offset
 *                          f64: every record of an older segment, and of that one before the
 *                          offset, is consumed), crc32 of those 24 bytes, then the records that
 *                          were in memory. Written to head.spool.tmp, fsynced, then renamed.
 *   record                 [u32 LE payload length][u32 LE crc32][payload]. The crc covers the
 *                          4 length bytes and then the payload (crc32(payload, crc32(length))),
 *                          not the payload alone, so a zero-filled tail (what a filesystem can
 *                          leave after a crash) is not a run of valid empty records.
 *
 * open() validates every record of every file. The first bad record of a file (length over
 * 64 MiB, a record running past the end of the file, a checksum mismatch, a bad file header) ends
 * that file's valid data: counted (corruptRecords +1, corruptBytes += the rest of the file),
 * logged as a warning, never thrown. A file without a valid record is deleted. (A bad record met
 * while reading back a file written in this run — the disk changed under us — ends it the same
 * way; then corruptRecords counts every record lost.)
 *
 * Delivery guarantee (at-least-once, within these limits):
 *  - clean close(): every message accepted by push() (true) that was not handed out by
 *    take()/shift(), or was given back with unshift() before close(), is on disk (fsynced) when
 *    close() resolves, and a new SpoolQueue on the same dir hands them out first, in order, after
 *    open(). Messages handed out and not given back count as delivered: a sink gives back what it
 *    did not deliver before it calls close().
 *  - crash (kill -9): messages that went to disk come back, also those already handed out (so they
 *    can be delivered twice), provided their record was completely written to the file (a
 *    half-written tail record is skipped and counted). Messages that only ever lived in memory
 *    (the first `memoryBytes` while nothing is on disk, or given back with unshift() after their
 *    segment was deleted) are lost. Records are written to the page cache, which survives a
 *    process crash; a segment is fsynced when it is full and close() fsyncs the rest, so a power
 *    loss can lose what the current segment got since.
 *  - a segment file is deleted only when all its records were read back, none of its messages is
 *    still in memory, and none is among the last `retainTaken` messages handed out by
 *    take()/shift() and not given back. unshift(messages) takes its messages to be the last ones
 *    handed out (what a failed send gives back), so those go back to their segment. A handed-out
 *    message is therefore only lost by a crash once `retainTaken` (default 16384) more messages
 *    were handed out after it — more than any sink keeps in flight.
 *  - duplicates: after a crash, every record of a segment file that still exists is delivered
 *    again — the segment being read back and those holding the last `retainTaken` handed-out
 *    messages (while head.spool exists, its cursor still skips what was consumed before the last
 *    clean close()); and what close() left in head.spool is delivered again if it still exists.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Logger } from '../../log.js';
import type { BoundedQueue } from './bounded-queue.js';
import { Slab } from './slab.js';

/** What a sink needs from its queue: BoundedQueue (memory only) and SpoolQueue (spills to disk). */
export interface MessageQueue {
  /** Messages queued, in memory and (SpoolQueue) on disk. */
  readonly length: number;
  /** Payload bytes queued, in memory and (SpoolQueue) on disk. */
  readonly bytes: number;
  readonly droppedMessages: number;
  readonly droppedBytes: number;
  /** Adds `bytes[start, end)`; false when it (or, for a drop-oldest BoundedQueue, an older one) was dropped. */
  push(bytes: Buffer, start?: number, end?: number): boolean;
  peek(): Buffer | undefined;
  shift(): Buffer | undefined;
  /** Up to maxCount messages / maxBytes from the front (at least one if any is in memory). */
  take(maxCount: number, maxBytes: number): Buffer[];
  /** Puts messages back at the front, in order (a send that failed). */
  unshift(messages: Buffer[]): void;
  /** Drops everything queued; returns how many messages that was. */
  clear(): number;
}

/** Compile-time check that BoundedQueue satisfies MessageQueue structurally. */
type Assert<T extends true> = T;
export type BoundedQueueIsAMessageQueue = Assert<BoundedQueue extends MessageQueue ? true : false>;

export interface SpoolQueueOptions {
  /** The spool directory (created with mode 0700); one per queue. */
  dir: string;
  /** Messages kept in memory while nothing is on disk; also the read-back budget. */
  memoryBytes: number;
  /** Bytes of segment files at most (headers included); beyond it push() drops the newest. */
  maxDiskBytes: number;
  /** Segment file size; default 8 MiB. */
  segmentBytes?: number;
  /** Messages handed out that keep their segment file (see the module comment); default 16384. */
  retainTaken?: number;
  /** Appends waiting for the disk, at most (a slow or failing disk); default 64 MiB. */
  maxPendingBytes?: number;
  logger?: Logger;
  /** Called when messages arrived from disk into memory: take() has something again. */
  onReadable?: () => void;
}

export interface SpoolQueueStats {
  /** Payload bytes / messages in memory (what take() can hand out now). */
  memoryBytes: number;
  memoryMessages: number;
  /** Bytes of the spool's files (headers and records, consumed ones until their file goes). */
  diskBytes: number;
  /** Messages on disk not read back yet (including appends still waiting for the writer). */
  diskMessages: number;
  /** Messages that went to disk, in total. */
  spooledTotal: number;
  corruptRecords: number;
  corruptBytes: number;
  droppedMessages: number;
  droppedBytes: number;
  segments: number;
  writeErrors: number;
  readErrors: number;
  /** Messages accepted but not written because the disk kept failing until close(). */
  lostMessages: number;
}

const SEGMENT_MAGIC = Buffer.from('LFSPOOL1', 'latin1');
const HEAD_MAGIC = Buffer.from('LFSPHEAD', 'latin1');
const SEGMENT_HEADER = 8;
const HEAD_HEADER = 8 + 8 + 8 + 4;
const RECORD_HEADER = 8;
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const DEFAULT_RETAIN_TAKEN = 16384;
const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const MIN_READ = 4096;
const FIRST_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;
const SCAN_CHUNK = 1024 * 1024;
const RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
const CLOSE_WRITE_ATTEMPTS = 3;
const HEAD_FILE = 'head.spool';
const HEAD_TMP = 'head.spool.tmp';
const SEGMENT_NAME = /^(\d{12})\.spool$/;
/** The tag of a message that belongs to no segment file. */
const NO_SEGMENT = -1;
/** How long open() waits for another queue of this process to let go of the same directory. */
const HANDOVER_WAIT_MS = 30_000;
/** Per directory, the queue of this process that opened it last. */
const holders = new Map<string, SpoolQueue>();
const HEAD_SEQ = 0;

// crc32 (zlib's polynomial) of the 4 length bytes, in JS: no Buffer to allocate per record.
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The record checksum: crc32 of the u32 LE length and then the payload. */
export function recordCrc(payload: Buffer): number {
  const len = payload.length;
  let c = -1;
  c = CRC_TABLE[(c ^ len) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (len >>> 8)) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (len >>> 16)) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (len >>> 24)) & 0xff] ^ (c >>> 8);
  return zlib.crc32(payload, (c ^ -1) >>> 0);
}

export function segmentFileName(seq: number): string {
  return seq === HEAD_SEQ ? HEAD_FILE : `${String(seq).padStart(12, '0')}.spool`;
}

interface Chunk {
  buf: Buffer;
  used: number;
  records: number;
}

class Segment {
  /** Bytes the file will have once every append is written. */
  size = 0;
  /** Bytes known to be in the file (what the reader may read). */
  written = 0;
  /** Valid records in the file or waiting to be appended (from readOffset on, for a cursor segment). */
  records = 0;
  readRecords = 0;
  readOffset = 0;
  unreadPayload = 0;
  /** Its messages in memory or among the retained handed-out ones. */
  refs = 0;
  pending: Chunk[] = [];
  pendingBytes = 0;
  writeHandle: FileHandle | null = null;
  readHandle: FileHandle | null = null;
  gone = false;
  /** A write failed: the file may hold part of it, to cut off (back to `written`) before the next. */
  dirty = false;

  constructor(
    public seq: number,
    private readonly dir: string,
  ) {}

  get file(): string {
    return path.join(this.dir, segmentFileName(this.seq));
  }
}

interface ScanResult {
  size: number;
  validEnd: number;
  firstRecord: number;
  records: number;
  payload: number;
  corrupt: string | null;
  cursor?: { seq: number; offset: number };
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class SpoolQueue implements MessageQueue {
  readonly dir: string;
  readonly memoryLimit: number;
  readonly maxDiskBytes: number;
  readonly segmentBytes: number;
  readonly retainTaken: number;
  readonly maxPendingBytes: number;
  onReadable: (() => void) | null;
  private readonly logger: Logger | undefined;

  droppedMessages = 0;
  droppedBytes = 0;

  // memory part: a FIFO with a moving head; tags[i] is the segment seq of items[i] or NO_SEGMENT
  private items: Buffer[] = [];
  private tags: number[] = [];
  private head = 0;
  private memBytes = 0;
  /** Where push() copies the messages it keeps in memory. */
  private readonly slab = new Slab(64 * 1024);

  // the last `retainTaken` handed-out messages' tags, a ring
  private window: Float64Array;
  private winHead = 0;
  private winLen = 0;

  // disk part
  private segs: Segment[] = [];
  private readonly segBySeq = new Map<number, Segment>();
  private writeSeg: Segment | null = null;
  private nextSeq = 1;
  private diskMessages = 0;
  private diskPayload = 0;
  private diskFileBytes = 0;
  private pendingTotal = 0;
  private nextChunkSize = FIRST_CHUNK;

  // background work
  private openPromise: Promise<void> | null = null;
  private opened = false;
  private discardOnOpen = false;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | null = null;
  private resolveReleased!: () => void;
  /** Settles when this queue has closed (or was destroyed): its directory is free for another. */
  private readonly released = new Promise<void>((resolve) => (this.resolveReleased = resolve));
  private writeScheduled = false;
  private writerPromise: Promise<void> | null = null;
  private currentWrite: { seg: Segment; done: Promise<unknown> } | null = null;
  private writeFailures = 0;
  private loadPromise: Promise<void> | null = null;
  private loadingSeg: Segment | null = null;
  private loadRetry: NodeJS.Timeout | null = null;
  private readonly deletions = new Set<Promise<void>>();

  // counters
  private spooledTotal = 0;
  private corruptRecords = 0;
  private corruptBytes = 0;
  private writeErrors = 0;
  private readErrors = 0;
  private lostMessages = 0;

  constructor(options: SpoolQueueOptions) {
    this.dir = options.dir;
    this.memoryLimit = options.memoryBytes;
    this.maxDiskBytes = options.maxDiskBytes;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.retainTaken = Math.max(0, Math.floor(options.retainTaken ?? DEFAULT_RETAIN_TAKEN));
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.logger = options.logger;
    this.onReadable = options.onReadable ?? null;
    this.window = new Float64Array(Math.min(64, this.retainTaken));
  }

  // ------------------------------------------------------------------ the MessageQueue surface

  get length(): number {
    return this.items.length - this.head + this.diskMessages;
  }

  get bytes(): number {
    return this.memBytes + this.diskPayload;
  }

  /** Messages in memory: what take() can hand out right now. */
  get memoryLength(): number {
    return this.items.length - this.head;
  }

  /** Copies the message into memory or onto the disk part; false (counted) when it is dropped. */
  push(bytes: Buffer, start = 0, end = bytes.length): boolean {
    const message = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
    const len = message.length;
    if (this.closing) return this.drop(len);
    if (this.opened && this.diskMessages === 0 && this.memBytes + len <= this.memoryLimit) {
      this.pushMemory(message);
      return true;
    }
    const rec = RECORD_HEADER + len;
    const headerBytes = this.needsNewSegment(rec) ? SEGMENT_HEADER : 0;
    if (len > MAX_RECORD_BYTES || this.diskFileBytes + headerBytes + rec > this.maxDiskBytes || this.pendingTotal + rec > this.maxPendingBytes) {
      // Like BoundedQueue, an empty queue takes a message whatever its size.
      if (this.opened && this.length === 0) {
        this.pushMemory(message);
        return true;
      }
      return this.drop(len);
    }
    this.append(message);
    return true;
  }

  peek(): Buffer | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const m = this.shiftMemory();
    this.afterTake();
    return m;
  }

  take(maxCount: number, maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let bytes = 0;
    while (this.head < this.items.length && out.length < maxCount) {
      const next = this.items[this.head];
      if (out.length > 0 && bytes + next.length > maxBytes) break;
      out.push(this.shiftMemory());
      bytes += next.length;
    }
    if (out.length > 0) this.afterTake();
    return out;
  }

  unshift(messages: Buffer[]): void {
    const n = messages.length;
    if (n === 0) return;
    // They are taken to be the last ones handed out: they get their segments back.
    const tags = new Array<number>(n);
    for (let i = n - 1; i >= 0; i--) tags[i] = this.winLen > 0 ? this.popNewestTaken() : NO_SEGMENT;
    this.items = messages.concat(this.items.slice(this.head));
    this.tags = tags.concat(this.tags.slice(this.head));
    this.head = 0;
    for (let i = 0; i < n; i++) this.memBytes += messages[i].length;
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.tags = [];
    this.head = 0;
    this.memBytes = 0;
    this.winHead = 0;
    this.winLen = 0;
    for (const seg of this.segs.slice()) this.retire(seg);
    this.writeSeg = null;
    this.diskMessages = 0;
    this.diskPayload = 0;
    if (!this.opened) this.discardOnOpen = true;
    return n;
  }

  // ------------------------------------------------------------------ the rest of the API

  /** Creates the directory and takes over what a previous run left in it (handed out first). */
  open(): Promise<void> {
    this.openPromise ??= this.doOpen();
    return this.openPromise;
  }

  /** Resolves when every message pushed so far is in its file (not fsynced). */
  async flush(): Promise<void> {
    await this.openPromise;
    while (this.opened && !this.closed && this.hasPending()) {
      if (!this.writerPromise) this.startWriter();
      await this.writerPromise;
    }
  }

  /** Writes out what is queued (memory included, see the module comment) and closes the files. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose().finally(() => this.letGo());
    return this.closePromise;
  }

  /** Drops everything and removes the directory (the container is gone and its logs delivered). */
  async destroy(): Promise<void> {
    this.closing = true;
    if (this.loadRetry) clearTimeout(this.loadRetry);
    await this.openPromise?.catch(() => {});
    await this.closePromise?.catch(() => {});
    this.clear();
    await this.writerPromise;
    await this.loadPromise;
    await this.settleDeletions();
    this.closed = true;
    await fsp.rm(this.dir, { recursive: true, force: true });
    this.letGo();
  }

  /** Two queues on one directory would each take the other's files for their own. */
  private async takeOver(): Promise<void> {
    const key = path.resolve(this.dir);
    const previous = holders.get(key);
    holders.set(key, this);
    if (previous === undefined || previous === this) return;
    if (!previous.closing) this.logger?.warn({ dir: this.dir }, 'spool: opened while another queue still uses it; waiting for that one to close');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), HANDOVER_WAIT_MS);
      timer.unref();
    });
    if (await Promise.race([previous.released.then(() => false), timedOut])) {
      this.logger?.error({ dir: this.dir, waitedMs: HANDOVER_WAIT_MS }, 'spool: the previous queue on this directory did not close; opening it anyway');
    }
    clearTimeout(timer);
  }

  private letGo(): void {
    const key = path.resolve(this.dir);
    if (holders.get(key) === this) holders.delete(key);
    this.resolveReleased();
  }

  stats(): SpoolQueueStats {
    return {
      memoryBytes: this.memBytes,
      memoryMessages: this.memoryLength,
      diskBytes: this.diskFileBytes,
      diskMessages: this.diskMessages,
      spooledTotal: this.spooledTotal,
      corruptRecords: this.corruptRecords,
      corruptBytes: this.corruptBytes,
      droppedMessages: this.droppedMessages,
      droppedBytes: this.droppedBytes,
      segments: this.segs.length,
      writeErrors: this.writeErrors,
      readErrors: this.readErrors,
      lostMessages: this.lostMessages,
    };
  }

  // ------------------------------------------------------------------ memory part

  private drop(len: number): false {
    this.droppedMessages++;
    this.droppedBytes += len;
    return false;
  }

  private pushMemory(message: Buffer): void {
    const at = this.slab.reserve(message.length);
    const end = at + message.copy(this.slab.buf, at);
    this.slab.commit(end);
    this.items.push(this.slab.buf.subarray(at, end));
    this.tags.push(NO_SEGMENT);
    this.memBytes += message.length;
  }

  private shiftMemory(): Buffer {
    const m = this.items[this.head];
    const tag = this.tags[this.head];
    this.items[this.head] = undefined as unknown as Buffer;
    this.head++;
    this.memBytes -= m.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.tags = this.tags.slice(this.head);
      this.head = 0;
    }
    this.retainTakenTag(tag);
    return m;
  }

  private afterTake(): void {
    if (this.head === this.items.length && this.head > 0) {
      this.items = [];
      this.tags = [];
      this.head = 0;
    }
    this.kickLoader();
  }

  private retainTakenTag(tag: number): void {
    const cap = this.retainTaken;
    if (cap === 0) {
      this.release(tag);
      return;
    }
    let w = this.window;
    if (this.winLen === w.length && w.length < cap) {
      // grow (the ring is only as large as it needs to be), oldest first
      const grown = new Float64Array(Math.min(w.length * 2, cap));
      for (let i = 0; i < this.winLen; i++) grown[i] = w[(this.winHead + i) % w.length];
      this.window = w = grown;
      this.winHead = 0;
    }
    if (this.winLen === cap) {
      // full (then w.length === cap): the oldest can no longer be given back
      const old = w[this.winHead];
      w[this.winHead] = tag;
      this.winHead = (this.winHead + 1) % w.length;
      this.release(old);
    } else {
      w[(this.winHead + this.winLen) % w.length] = tag;
      this.winLen++;
    }
  }

  private popNewestTaken(): number {
    this.winLen--;
    return this.window[(this.winHead + this.winLen) % this.window.length];
  }

  /** A handed-out message that can no longer be given back: its segment may go. */
  private release(tag: number): void {
    if (tag < 0) return;
    const seg = this.segBySeq.get(tag);
    if (!seg || seg.gone) return;
    seg.refs--;
    this.maybeRetire(seg);
  }

  // ------------------------------------------------------------------ appending

  private append(message: Buffer): void {
    const len = message.length;
    const rec = RECORD_HEADER + len;
    const seg = this.needsNewSegment(rec) ? this.newWriteSegment() : this.writeSeg!;
    const last = seg.pending.length > 0 ? seg.pending[seg.pending.length - 1] : undefined;
    const chunk = last && last.buf.length - last.used >= rec ? last : this.newChunk(seg, rec);
    const at = chunk.used;
    chunk.buf.writeUInt32LE(len, at);
    chunk.buf.writeUInt32LE(recordCrc(message), at + 4);
    message.copy(chunk.buf, at + RECORD_HEADER);
    chunk.used += rec;
    chunk.records++;
    seg.pendingBytes += rec;
    seg.size += rec;
    seg.records++;
    seg.unreadPayload += len;
    this.pendingTotal += rec;
    this.diskFileBytes += rec;
    this.diskMessages++;
    this.diskPayload += len;
    this.spooledTotal++;
    this.scheduleWrite();
  }

  private needsNewSegment(rec: number): boolean {
    const seg = this.writeSeg;
    return !seg || (seg.records > 0 && seg.size + rec > this.segmentBytes);
  }

  private newWriteSegment(): Segment {
    const seg = new Segment(this.opened ? this.nextSeq++ : NO_SEGMENT, this.dir);
    const chunk = this.newChunk(seg, SEGMENT_HEADER);
    SEGMENT_MAGIC.copy(chunk.buf, 0);
    chunk.used = SEGMENT_HEADER;
    seg.pendingBytes = SEGMENT_HEADER;
    seg.size = SEGMENT_HEADER;
    seg.readOffset = SEGMENT_HEADER;
    this.pendingTotal += SEGMENT_HEADER;
    this.diskFileBytes += SEGMENT_HEADER;
    this.segs.push(seg);
    if (seg.seq !== NO_SEGMENT) this.segBySeq.set(seg.seq, seg);
    this.writeSeg = seg;
    return seg;
  }

  private newChunk(seg: Segment, need: number): Chunk {
    const size = Math.max(need, this.nextChunkSize);
    this.nextChunkSize = Math.min(this.nextChunkSize * 2, MAX_CHUNK);
    const chunk: Chunk = { buf: Buffer.allocUnsafe(size), used: 0, records: 0 };
    seg.pending.push(chunk);
    return chunk;
  }

  private scheduleWrite(): void {
    if (!this.opened || this.closed || this.writeScheduled || this.writerPromise) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      if (!this.writerPromise) this.startWriter();
    });
  }

  private hasPending(): boolean {
    return this.writerPromise !== null || this.segs.some((s) => s.pendingBytes > 0);
  }

  private startWriter(): void {
    this.writerPromise = this.runWriter()
      .catch((err: unknown) => this.logger?.error({ dir: this.dir, error: errMessage(err) }, 'spool writer failed'))
      .finally(() => {
      this.writerPromise = null;
      if (this.pendingTotal > 0 && !this.closing) this.scheduleWrite();
    });
  }

  /** Appends the pending buffers, oldest segment first, one writev at a time. */
  private async runWriter(): Promise<void> {
    for (;;) {
      const seg = this.segs.find((s) => s.pendingBytes > 0);
      if (!seg) return;
      const chunks = seg.pending;
      const bytes = seg.pendingBytes;
      seg.pending = [];
      seg.pendingBytes = 0;
      this.nextChunkSize = FIRST_CHUNK;
      const op = this.writeChunks(seg, chunks, bytes);
      this.currentWrite = { seg, done: op.catch(() => {}) };
      let failure: unknown = null;
      try {
        await op;
      } catch (err) {
        failure = err;
      }
      this.currentWrite = null;
      if (failure === null) {
        this.pendingTotal -= bytes;
        if (seg.gone) continue;
        seg.written += bytes;
        if (this.writeFailures > 0) {
          this.logger?.warn({ dir: this.dir, failures: this.writeFailures }, 'spool writes work again');
          this.writeFailures = 0;
        }
        if (seg !== this.writeSeg && seg.pendingBytes === 0 && seg.writeHandle) {
          // a complete segment: to the disk, then let go
          const h = seg.writeHandle;
          seg.writeHandle = null;
          await h.sync().catch(() => {});
          await h.close().catch(() => {});
        }
        this.maybeRetire(seg);
        this.kickLoader();
        continue;
      }
      if (seg.gone) {
        this.pendingTotal -= bytes;
        continue;
      }
      // Nothing of a failed write counts: back in front of what came since, the file cut back.
      seg.pending = chunks.concat(seg.pending);
      seg.pendingBytes += bytes;
      this.writeErrors++;
      this.writeFailures++;
      if (this.writeFailures === 1) this.logger?.warn({ dir: this.dir, file: seg.file, error: errMessage(failure) }, 'spool write failed; retrying');
      if (this.closing && this.writeFailures >= CLOSE_WRITE_ATTEMPTS) {
        this.giveUpWrites();
        return;
      }
      seg.dirty = true;
      const h = seg.writeHandle;
      seg.writeHandle = null;
      await h?.close().catch(() => {});
      if (!this.closing) await sleep(Math.min(RETRY_MS * 2 ** (this.writeFailures - 1), MAX_RETRY_MS));
    }
  }

  private async writeChunks(seg: Segment, chunks: Chunk[], bytes: number): Promise<void> {
    if (seg.dirty) {
      // nothing is appended after a possibly torn record: cut the file back first (or fail again)
      try {
        await fsp.truncate(seg.file, seg.written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || seg.written > 0) throw err;
      }
      seg.dirty = false;
    }
    if (!seg.writeHandle) {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      seg.writeHandle = await fsp.open(seg.file, 'a', 0o600);
    }
    const bufs = chunks.map((c) => (c.used === c.buf.length ? c.buf : c.buf.subarray(0, c.used)));
    const { bytesWritten } = await seg.writeHandle.writev(bufs);
    if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
  }

  /** close() with a disk that keeps failing: what could not be written is lost, counted. */
  private giveUpWrites(): void {
    let lost = 0;
    for (const seg of this.segs) {
      for (const c of seg.pending) lost += c.records;
      this.pendingTotal -= seg.pendingBytes;
      seg.pending = [];
      seg.pendingBytes = 0;
    }
    this.lostMessages += lost;
    this.logger?.error({ dir: this.dir, lost }, 'spool: the disk kept failing; messages not written are lost');
  }

  // ------------------------------------------------------------------ reading back

  private kickLoader(): void {
    if (this.loadPromise || this.loadRetry || !this.opened || this.closing || this.diskMessages === 0) return;
    if (this.memoryLength > 0 && this.memBytes * 2 >= this.memoryLimit) return;
    const seg = this.segs.find((s) => s.readRecords < s.records);
    if (!seg || seg.readOffset >= seg.written) return; // still with the writer: it kicks again
    const budget = Math.min(READ_CHUNK, Math.max(this.memoryLimit - this.memBytes, MIN_READ));
    this.loadingSeg = seg;
    this.loadPromise = this.load(seg, budget).then(() => {
      this.loadPromise = null;
      this.loadingSeg = null;
      this.kickLoader();
    });
  }

  /** Reads the next records of a segment into memory; `budget` bytes, at least one record. Never throws; false on a read error. */
  private async load(seg: Segment, budget: number, notify = true): Promise<boolean> {
    let buf: Buffer;
    let got: number;
    const start = seg.readOffset;
    try {
      if (!seg.readHandle) seg.readHandle = await fsp.open(seg.file, 'r');
      const avail = seg.written - start;
      const want = Math.min(avail, Math.max(budget, RECORD_HEADER));
      buf = Buffer.allocUnsafe(want);
      got = (await seg.readHandle.read(buf, 0, want, start)).bytesRead;
      if (got >= RECORD_HEADER && !seg.gone) {
        const need = RECORD_HEADER + buf.readUInt32LE(0);
        if (need > got && need <= avail && need - RECORD_HEADER <= MAX_RECORD_BYTES) {
          // one record larger than the budget
          buf = Buffer.allocUnsafe(need);
          got = (await seg.readHandle.read(buf, 0, need, start)).bytesRead;
        }
      }
    } catch (err) {
      if (seg.gone) return true;
      this.readErrors++;
      this.logger?.warn({ dir: this.dir, file: seg.file, error: errMessage(err) }, 'spool read failed; retrying');
      const h = seg.readHandle;
      seg.readHandle = null;
      await h?.close().catch(() => {});
      if (!this.loadRetry && !this.closing) {
        this.loadRetry = setTimeout(() => {
          this.loadRetry = null;
          this.kickLoader();
        }, RETRY_MS);
        this.loadRetry.unref();
      }
      return false;
    }
    if (seg.gone || this.closed || seg.readOffset !== start) return true;
    let pos = 0;
    let n = 0;
    let payload = 0;
    let corrupt: string | null = null;
    while (pos + RECORD_HEADER <= got && seg.readRecords + n < seg.records) {
      const len = buf.readUInt32LE(pos);
      const end = pos + RECORD_HEADER + len;
      if (len > MAX_RECORD_BYTES || start + end > seg.written) {
        corrupt = `bad record length ${len}`;
        break;
      }
      if (end > got) break;
      const message = buf.subarray(pos + RECORD_HEADER, end);
      if (recordCrc(message) !== buf.readUInt32LE(pos + 4)) {
        corrupt = 'checksum mismatch';
        break;
      }
      this.items.push(message);
      this.tags.push(seg.seq);
      n++;
      payload += len;
      pos = end;
    }
    if (n === 0 && corrupt === null) corrupt = 'truncated record'; // the file is shorter than what we wrote
    seg.readOffset += pos;
    seg.readRecords += n;
    seg.unreadPayload -= payload;
    seg.refs += n;
    this.memBytes += payload;
    this.diskMessages -= n;
    this.diskPayload -= payload;
    if (corrupt !== null) this.skipRest(seg, corrupt);
    if (seg.readRecords === seg.records && seg !== this.writeSeg && seg.readHandle) {
      const h = seg.readHandle;
      seg.readHandle = null;
      void h.close().catch(() => {});
    }
    if (n > 0 && notify && this.onReadable) {
      try {
        this.onReadable();
      } catch (err) {
        this.logger?.error({ dir: this.dir, error: errMessage(err) }, 'spool: onReadable threw');
      }
    }
    return true;
  }

  /** A bad record in a file written in this run (the disk changed under us): the rest goes. */
  private skipRest(seg: Segment, reason: string): void {
    const unread = seg.records - seg.readRecords;
    this.corruptRecords += unread;
    this.corruptBytes += seg.size - seg.readOffset;
    this.diskMessages -= unread;
    this.diskPayload -= seg.unreadPayload;
    this.pendingTotal -= seg.pendingBytes;
    seg.pending = [];
    seg.pendingBytes = 0;
    seg.readRecords = seg.records;
    seg.unreadPayload = 0;
    seg.readOffset = seg.size;
    if (this.writeSeg === seg) this.writeSeg = null;
    this.logger?.warn({ dir: this.dir, file: seg.file, reason, records: unread }, 'spool: corrupt record; the rest of the segment is skipped');
    this.maybeRetire(seg);
  }

  // ------------------------------------------------------------------ deleting segments

  private maybeRetire(seg: Segment): void {
    if (seg.gone || seg.refs > 0 || seg.readRecords < seg.records || seg.pendingBytes > 0 || this.closing) return;
    if (this.currentWrite?.seg === seg) return; // the writer comes back here when done
    this.retire(seg);
  }

  /** Forgets a segment now and deletes its file in the background. */
  private retire(seg: Segment): void {
    if (seg.gone) return;
    seg.gone = true;
    const i = this.segs.indexOf(seg);
    if (i >= 0) this.segs.splice(i, 1);
    if (this.segBySeq.get(seg.seq) === seg) this.segBySeq.delete(seg.seq);
    if (this.writeSeg === seg) this.writeSeg = null;
    this.diskFileBytes -= seg.size;
    this.pendingTotal -= seg.pendingBytes;
    seg.pending = [];
    seg.pendingBytes = 0;
    if (seg.seq === NO_SEGMENT) return; // never written
    const write = this.currentWrite?.seg === seg ? this.currentWrite.done : null;
    const load = this.loadingSeg === seg ? this.loadPromise : null;
    const p = (async () => {
      await write;
      await load;
      await seg.writeHandle?.close().catch(() => {});
      await seg.readHandle?.close().catch(() => {});
      seg.writeHandle = null;
      seg.readHandle = null;
      try {
        await fsp.unlink(seg.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger?.warn({ file: seg.file, error: errMessage(err) }, 'spool: cannot delete a consumed segment');
      }
    })();
    this.deletions.add(p);
    void p.finally(() => this.deletions.delete(p));
  }

  private async settleDeletions(): Promise<void> {
    while (this.deletions.size > 0) await Promise.all([...this.deletions]);
  }

  // ------------------------------------------------------------------ open

  private async doOpen(): Promise<void> {
    await this.takeOver();
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = await fsp.readdir(this.dir);
    const found: Segment[] = [];
    let cursor = { seq: 0, offset: 0 };
    if (names.includes(HEAD_TMP)) await fsp.rm(path.join(this.dir, HEAD_TMP), { force: true });
    if (names.includes(HEAD_FILE)) {
      const head = new Segment(HEAD_SEQ, this.dir);
      const scan = await this.scan(head.file, HEAD_MAGIC, HEAD_HEADER, null);
      if (scan.cursor) cursor = scan.cursor;
      this.adopt(head, scan, found);
    }
    const seqs = names
      .map((n) => SEGMENT_NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .filter((s) => s > 0)
      .sort((a, b) => a - b);
    let maxSeq = 0;
    for (const seq of seqs) {
      maxSeq = seq;
      const seg = new Segment(seq, this.dir);
      if (seq < cursor.seq) {
        await fsp.rm(seg.file, { force: true }); // consumed before the last close()
        continue;
      }
      const scan = await this.scan(seg.file, SEGMENT_MAGIC, SEGMENT_HEADER, seq === cursor.seq ? cursor.offset : null);
      this.adopt(seg, scan, found);
    }
    this.nextSeq = Math.max(maxSeq, cursor.seq) + 1;
    // Pushed before open(): after what was found, in a segment of its own.
    const early = this.segs;
    for (const seg of early) {
      seg.seq = this.nextSeq++;
      this.segBySeq.set(seg.seq, seg);
    }
    this.segs = found.concat(early);
    for (const seg of found) {
      this.segBySeq.set(seg.seq, seg);
      this.diskFileBytes += seg.size;
      this.diskMessages += seg.records;
      this.diskPayload += seg.unreadPayload;
    }
    this.opened = true;
    if (this.discardOnOpen) for (const seg of found) this.retire(seg);
    if (this.closing) return;
    this.scheduleWrite();
    this.kickLoader();
  }

  /** A file found at open(): kept if it has records to deliver, deleted otherwise. */
  private adopt(seg: Segment, scan: ScanResult, found: Segment[]): void {
    if (scan.corrupt) {
      this.corruptRecords++;
      this.corruptBytes += scan.size - scan.validEnd;
      this.logger?.warn(
        { dir: this.dir, file: seg.file, reason: scan.corrupt, offset: scan.validEnd, skippedBytes: scan.size - scan.validEnd, records: scan.records },
        'spool: corrupt or torn record; the rest of the file is skipped',
      );
    }
    if (scan.records === 0) {
      const p = fsp.rm(seg.file, { force: true }).catch(() => {});
      this.deletions.add(p);
      void p.finally(() => this.deletions.delete(p));
      return;
    }
    seg.size = scan.size;
    seg.written = scan.validEnd;
    seg.readOffset = scan.firstRecord;
    seg.records = scan.records;
    seg.unreadPayload = scan.payload;
    found.push(seg);
  }

  /** Validates a whole file; records ending at or before `skipUntil` are consumed ones. */
  private async scan(file: string, magic: Buffer, headerBytes: number, skipUntil: number | null): Promise<ScanResult> {
    const r: ScanResult = { size: 0, validEnd: 0, firstRecord: headerBytes, records: 0, payload: 0, corrupt: null };
    let h: FileHandle;
    try {
      h = await fsp.open(file, 'r');
    } catch (err) {
      r.corrupt = `cannot open: ${errMessage(err)}`;
      return r;
    }
    try {
      r.size = (await h.stat()).size;
      const header = Buffer.alloc(headerBytes);
      const { bytesRead } = await h.read(header, 0, headerBytes, 0);
      if (bytesRead < headerBytes || !header.subarray(0, 8).equals(magic)) {
        r.corrupt = 'bad file header';
        return r;
      }
      if (magic === HEAD_MAGIC) {
        if (zlib.crc32(header.subarray(0, 24)) !== header.readUInt32LE(24)) {
          r.corrupt = 'bad head header checksum';
          return r;
        }
        const seq = header.readDoubleLE(8);
        const offset = header.readDoubleLE(16);
        if (Number.isSafeInteger(seq) && Number.isSafeInteger(offset) && seq >= 0 && offset >= 0) r.cursor = { seq, offset };
      }
      let pos = headerBytes;
      r.validEnd = pos;
      let buf = Buffer.allocUnsafe(SCAN_CHUNK);
      for (;;) {
        if (pos === r.size) break;
        if (r.size - pos < RECORD_HEADER) {
          r.corrupt = 'truncated record header';
          break;
        }
        const got = (await h.read(buf, 0, Math.min(buf.length, r.size - pos), pos)).bytesRead;
        let p = 0;
        while (p + RECORD_HEADER <= got) {
          const len = buf.readUInt32LE(p);
          if (len > MAX_RECORD_BYTES) {
            r.corrupt = `bad record length ${len}`;
            break;
          }
          if (pos + p + RECORD_HEADER + len > r.size) {
            r.corrupt = 'truncated record';
            break;
          }
          if (p + RECORD_HEADER + len > got) break;
          const payload = buf.subarray(p + RECORD_HEADER, p + RECORD_HEADER + len);
          if (recordCrc(payload) !== buf.readUInt32LE(p + 4)) {
            r.corrupt = 'checksum mismatch';
            break;
          }
          p += RECORD_HEADER + len;
          if (skipUntil !== null && pos + p <= skipUntil) {
            r.firstRecord = pos + p;
          } else {
            r.records++;
            r.payload += len;
          }
        }
        pos += p;
        r.validEnd = pos;
        if (r.corrupt) break;
        if (p === 0) {
          // a record larger than the buffer
          if (got < RECORD_HEADER) {
            r.corrupt = 'truncated record header';
            break;
          }
          buf = Buffer.allocUnsafe(RECORD_HEADER + buf.readUInt32LE(0));
        }
      }
    } catch (err) {
      r.corrupt = `read error: ${errMessage(err)}`;
    } finally {
      await h.close().catch(() => {});
    }
    return r;
  }

  // ------------------------------------------------------------------ close

  private async doClose(): Promise<void> {
    this.closing = true;
    if (this.loadRetry) clearTimeout(this.loadRetry);
    try {
      await this.openPromise;
    } catch {
      // never opened: nothing of ours on disk to keep consistent
    }
    if (!this.opened) {
      this.closed = true;
      return;
    }
    // 1. everything accepted reaches its file
    this.writeFailures = 0;
    while (this.hasPending()) {
      if (!this.writerPromise) this.startWriter();
      await this.writerPromise;
    }
    await this.loadPromise;
    // 2. what is left of an old head file goes into the new one, after the memory part
    const headTail: Buffer[] = [];
    const oldHead = this.segBySeq.get(HEAD_SEQ);
    if (oldHead && !oldHead.gone) {
      for (let tries = 0; oldHead.readRecords < oldHead.records && tries < 1000; tries++) {
        const before = this.items.length;
        if (!(await this.load(oldHead, READ_CHUNK, false))) break; // logged by load(); those records stay lost
        for (const m of this.items.splice(before)) headTail.push(m);
        this.tags.length = this.items.length;
      }
    }
    await this.settleDeletions();
    // 3. the cursor: the first record not read back
    const next = this.segs.find((s) => s.seq !== HEAD_SEQ && s.readRecords < s.records);
    const cursorSeq = next ? next.seq : this.nextSeq;
    const cursorOffset = next ? next.readOffset : 0;
    const keep: Buffer[] = this.items.slice(this.head).concat(headTail);
    for (const seg of this.segs) {
      if (seg.writeHandle) {
        await seg.writeHandle.sync().catch(() => {});
        await seg.writeHandle.close().catch(() => {});
        seg.writeHandle = null;
      }
      if (seg.readHandle) {
        await seg.readHandle.close().catch(() => {});
        seg.readHandle = null;
      }
    }
    const headPath = path.join(this.dir, HEAD_FILE);
    try {
      if (keep.length === 0 && !next) {
        // Empty: no file left (the segments first, so a crash in between only duplicates).
        for (const seg of this.segs) if (seg.seq !== HEAD_SEQ) await fsp.rm(seg.file, { force: true });
        await fsp.rm(headPath, { force: true });
      } else {
        await this.writeHead(keep, cursorSeq, cursorOffset);
        for (const seg of this.segs) if (seg.seq !== HEAD_SEQ && seg.seq < cursorSeq) await fsp.rm(seg.file, { force: true });
      }
    } catch (err) {
      this.logger?.error({ dir: this.dir, error: errMessage(err), messages: keep.length }, 'spool: cannot write the head file; its messages are lost');
      this.lostMessages += keep.length;
    }
    this.items = [];
    this.tags = [];
    this.head = 0;
    this.memBytes = 0;
    this.closed = true;
  }

  private async writeHead(messages: Buffer[], cursorSeq: number, cursorOffset: number): Promise<void> {
    const header = Buffer.alloc(HEAD_HEADER);
    HEAD_MAGIC.copy(header, 0);
    header.writeDoubleLE(cursorSeq, 8);
    header.writeDoubleLE(cursorOffset, 16);
    header.writeUInt32LE(zlib.crc32(header.subarray(0, 24)), 24);
    let total = HEAD_HEADER;
    for (const m of messages) total += RECORD_HEADER + m.length;
    const out = Buffer.allocUnsafe(total);
    header.copy(out, 0);
    let at = HEAD_HEADER;
    for (const m of messages) {
      out.writeUInt32LE(m.length, at);
      out.writeUInt32LE(recordCrc(m), at + 4);
      m.copy(out, at + RECORD_HEADER);
      at += RECORD_HEADER + m.length;
    }
    const tmp = path.join(this.dir, HEAD_TMP);
    const h = await fsp.open(tmp, 'w', 0o600);
    try {
      const { bytesWritten } = await h.write(out, 0, total, 0);
      if (bytesWritten !== total) throw new Error(`short write: ${bytesWritten} of ${total} bytes`);
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, path.join(this.dir, HEAD_FILE));
    try {
      const d = await fsp.open(this.dir, 'r');
      await d.sync().catch(() => {});
      await d.close();
    } catch {
      // a directory fsync is best effort
    }
  }
}

/** The counters a spooling sink reports for its spool (stats() keys), or none without a spool. */
export function spoolStats(spool: SpoolQueue | null, spooledAtClose: number): Record<string, number> {
  if (spool === null) return {};
  const st = spool.stats();
  return { spoolBytes: st.diskBytes, spoolMessages: st.diskMessages, spooledTotal: st.spooledTotal, spoolCorruptRecords: st.corruptRecords, spooledAtClose };
}
