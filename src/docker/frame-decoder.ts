import { decodeLogEntry, LogEntry } from './log-entry.js';

/** Docker's own readers refuse records over 1,000,000 bytes; a copier frame is at most ~16.5 KB. */
export const MAX_FRAME_BYTES = 1_000_000;

export interface FrameDecoderEvents {
  /** Called for each entry in stream order; the entry object is reused, valid only during the call. */
  onEntry(entry: LogEntry): void;
  /** A frame was unreadable; `skippedBytes` were dropped to get back in step. */
  onCorruption(reason: string, skippedBytes: number): void;
}

// Every frame the daemon writes starts its entry with field 1, "stdout" or "stderr":
// 0a 06 73 74 64 ("\n\x06std"). After a corrupt length we look for that to get back in step.
const SYNC = Buffer.from([0x0a, 0x06, 0x73, 0x74, 0x64]);

/**
 * Splits a byte stream into length-prefixed LogEntry frames, accepting chunk boundaries at any
 * byte. Frames wholly inside a chunk are decoded in place; only a frame that straddles two
 * chunks is copied, once.
 */
export class FrameDecoder {
  private pending: Buffer | null = null;
  private pendingLen = 0;
  /** Total length of the straddling frame including its 4-byte header, or 0 while unknown. */
  private pendingNeed = 0;
  private readonly entry = new LogEntry();
  framesDecoded = 0;
  corruptFrames = 0;
  bytesSkipped = 0;

  constructor(private readonly events: FrameDecoderEvents) {}

  /** Bytes held back waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.pendingLen;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.pendingLen > 0) {
      pos = this.completePending(chunk);
      if (pos < 0) return;
    }
    const end = chunk.length;
    while (pos < end) {
      if (end - pos < 4) {
        this.hold(chunk, pos, end, 0);
        return;
      }
      const len = chunk.readUInt32BE(pos);
      if (len > MAX_FRAME_BYTES) {
        pos = this.resync(chunk, pos, `frame length ${len} exceeds ${MAX_FRAME_BYTES} bytes`);
        continue;
      }
      const frameEnd = pos + 4 + len;
      if (frameEnd > end) {
        this.hold(chunk, pos, end, 4 + len);
        return;
      }
      this.decodeOne(chunk, pos + 4, frameEnd);
      pos = frameEnd;
    }
  }

  /** Removes and returns the bytes of an incomplete frame (to hand them to a later reader). */
  takePending(): Buffer | null {
    if (this.pendingLen === 0) return null;
    const bytes = Buffer.from(this.pending!.subarray(0, this.pendingLen));
    this.pending = null;
    this.pendingLen = 0;
    this.pendingNeed = 0;
    return bytes;
  }

  /**
   * The stream ended. A frame cut short by EOF (the writer died mid-frame) is reported, not lost
   * silently. Returns the number of bytes discarded.
   */
  end(): number {
    const dropped = this.pendingLen;
    if (dropped > 0) {
      this.corruptFrames++;
      this.bytesSkipped += dropped;
      this.events.onCorruption(`stream ended inside a frame (${dropped} bytes)`, dropped);
    }
    this.pending = null;
    this.pendingLen = 0;
    this.pendingNeed = 0;
    return dropped;
  }

  private decodeOne(buf: Buffer, start: number, end: number): void {
    let entry: LogEntry;
    try {
      entry = decodeLogEntry(buf, start, end, this.entry);
    } catch (err) {
      this.corruptFrames++;
      this.bytesSkipped += end - start + 4;
      this.events.onCorruption((err as Error).message, end - start + 4);
      return;
    }
    this.framesDecoded++;
    this.events.onEntry(entry);
  }

  private hold(chunk: Buffer, start: number, end: number, need: number): void {
    const n = end - start;
    const capacity = Math.max(need, 4, n);
    const buf = Buffer.allocUnsafe(capacity);
    chunk.copy(buf, 0, start, end);
    this.pending = buf;
    this.pendingLen = n;
    this.pendingNeed = need;
  }

  /** Feeds the start of `chunk` into the held frame. Returns where the chunk's own frames begin, or -1. */
  private completePending(chunk: Buffer): number {
    let pos = 0;
    if (this.pendingNeed === 0) {
      // Still missing part of the 4-byte length.
      const take = Math.min(4 - this.pendingLen, chunk.length);
      chunk.copy(this.pending!, this.pendingLen, 0, take);
      this.pendingLen += take;
      pos = take;
      if (this.pendingLen < 4) return -1;
      const len = this.pending!.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) {
        // Re-run the header bytes we hold through the resync path together with the chunk.
        const joined = Buffer.concat([this.pending!.subarray(0, 4), chunk.subarray(pos)]);
        this.pending = null;
        this.pendingLen = 0;
        this.push(joined);
        return -1;
      }
      const grown = Buffer.allocUnsafe(4 + len);
      this.pending!.copy(grown, 0, 0, 4);
      this.pending = grown;
      this.pendingNeed = 4 + len;
    }
    const missing = this.pendingNeed - this.pendingLen;
    const take = Math.min(missing, chunk.length - pos);
    chunk.copy(this.pending!, this.pendingLen, pos, pos + take);
    this.pendingLen += take;
    pos += take;
    if (this.pendingLen < this.pendingNeed) return -1;
    const frame = this.pending!;
    const frameEnd = this.pendingNeed;
    this.pending = null;
    this.pendingLen = 0;
    this.pendingNeed = 0;
    this.decodeOne(frame, 4, frameEnd);
    return pos;
  }

  /** Skips to the next position that looks like a frame header, holding back a possible partial match. */
  private resync(chunk: Buffer, pos: number, reason: string): number {
    let p = chunk.indexOf(SYNC, pos + 5);
    while (p !== -1) {
      const headerAt = p - 4;
      const len = chunk.readUInt32BE(headerAt);
      if (len <= MAX_FRAME_BYTES && len >= SYNC.length) break;
      p = chunk.indexOf(SYNC, p + 1);
    }
    const resumeAt = p === -1 ? Math.max(pos + 1, chunk.length - 8) : p - 4;
    const skipped = resumeAt - pos;
    this.corruptFrames++;
    this.bytesSkipped += skipped;
    this.events.onCorruption(reason, skipped);
    return resumeAt;
  }
}
