/**
 * The daemon's LogEntry protobuf (moby daemon/logger/internal/logdriver/entry.proto), by hand:
 * five fields do not justify a codegen step, and a hand decoder keeps `line` as a view into the
 * read buffer (no copy) and `time_nano` exact (a JS number would lose up to ~256 ns).
 *
 *   1 source string | 2 time_nano int64 | 3 line bytes | 4 partial bool
 *   5 partial_log_metadata { 1 last bool | 2 id string | 3 ordinal int32 }
 */

const EMPTY = Buffer.alloc(0);

/** A field value a filter can attach to an entry. */
export type FieldValue = string | number | boolean;

/**
 * One decoded entry. The time is whole seconds since the epoch plus 0..999_999_999 nanoseconds
 * (exact for any int64). The line (without its trailing newline) is buf[lineStart, lineEnd): the
 * decoder points into the bytes it read instead of making a Buffer view per line, and reuses one
 * LogEntry per stream, so an entry is only valid during the callback that receives it.
 */
export class LogEntry {
  source = '';
  timeSec = 0;
  timeNsec = 0;
  buf: Buffer = EMPTY;
  lineStart = 0;
  lineEnd = 0;
  partial = false;
  partialLast = false;
  partialId = '';
  partialOrdinal = 0;
  /**
   * Fields a filter attached (parse, set, labels); null on the fast path, where no filter runs.
   * Sinks carry them as GELF `_` fields, fluentd record keys, journald fields and json-file attrs.
   */
  fields: Record<string, FieldValue> | null = null;
  /**
   * Syslog severity 0..7 a filter derived from the line (e.g. a parsed `level`), or -1: then the
   * stream decides, as in Docker's drivers (6 stdout, 3 stderr).
   */
  severity = -1;

  /** The line decoded once for all filters that need text; reset whenever the line changes. */
  private textCache: string | null = null;

  /** Replaces the line with other bytes (filters never write into `buf`: it is the read chunk). */
  setLine(line: Buffer): void {
    this.textCache = null;
    this.buf = line;
    this.lineStart = 0;
    this.lineEnd = line.length;
  }

  /**
   * Makes this entry a copy of `other` that outlives `other`'s callback. The line is copied only
   * when `copyLine` is set (a filter holding the entry past the call); otherwise it is shared,
   * which is safe as long as nobody writes into `buf` (see setLine). Fields are copied shallowly.
   */
  assign(other: LogEntry, copyLine: boolean): this {
    this.source = other.source;
    this.timeSec = other.timeSec;
    this.timeNsec = other.timeNsec;
    if (copyLine) this.setLine(Buffer.from(other.buf.subarray(other.lineStart, other.lineEnd)));
    else {
      this.buf = other.buf;
      this.lineStart = other.lineStart;
      this.lineEnd = other.lineEnd;
      this.textCache = other.textCache;
    }
    this.partial = other.partial;
    this.partialLast = other.partialLast;
    this.partialId = other.partialId;
    this.partialOrdinal = other.partialOrdinal;
    this.fields = other.fields === null ? null : { ...other.fields };
    this.severity = other.severity;
    return this;
  }

  /** The line as text (allocates; for filters, which need strings for regexes). */
  text(): string {
    return (this.textCache ??= this.buf.toString('utf8', this.lineStart, this.lineEnd));
  }

  /** Forgets the decoded text (the decoder reuses this object for the next line). */
  resetText(): void {
    this.textCache = null;
  }

  /** A view of the line (allocates; the hot path uses buf/lineStart/lineEnd). */
  get line(): Buffer {
    return this.buf.subarray(this.lineStart, this.lineEnd);
  }

  get lineLength(): number {
    return this.lineEnd - this.lineStart;
  }

  static of(fields: LogEntryInput): LogEntry {
    const e = new LogEntry();
    e.source = fields.source;
    e.timeSec = fields.timeSec;
    e.timeNsec = fields.timeNsec;
    e.buf = fields.line;
    e.lineStart = 0;
    e.lineEnd = fields.line.length;
    e.partial = fields.partial ?? false;
    e.partialLast = fields.partialLast ?? false;
    e.partialId = fields.partialId ?? '';
    e.partialOrdinal = fields.partialOrdinal ?? 0;
    return e;
  }
}

export class LogEntryDecodeError extends Error {
  override name = 'LogEntryDecodeError';
}


// 2^(7k) = Q[k] * 1e9 + R[k], so a varint's 7-bit groups can be summed as (seconds, nanoseconds)
// pairs without ever forming the 64-bit value in a double.
const POW7_Q: number[] = [];
const POW7_R: number[] = [];
{
  let p = 1n;
  for (let k = 0; k < 10; k++) {
    POW7_Q.push(Number(p / 1_000_000_000n));
    POW7_R.push(Number(p % 1_000_000_000n));
    p <<= 7n;
  }
}
const TWO64_Q = Number((1n << 64n) / 1_000_000_000n);
const TWO64_R = Number((1n << 64n) % 1_000_000_000n);

// Sources are always "stdout" or "stderr": reuse the strings instead of decoding each time.
const STDOUT = 'stdout';
const STDERR = 'stderr';

function readSource(buf: Buffer, start: number, end: number): string {
  if (end - start === 6 && buf[start] === 0x73 && buf[start + 1] === 0x74 && buf[start + 2] === 0x64) {
    if (buf[start + 3] === 0x6f && buf[start + 4] === 0x75 && buf[start + 5] === 0x74) return STDOUT;
    if (buf[start + 3] === 0x65 && buf[start + 4] === 0x72 && buf[start + 5] === 0x72) return STDERR;
  }
  return buf.toString('utf8', start, end);
}

/**
 * Decodes one LogEntry occupying buf[start, end) into `into` (a fresh entry when omitted).
 * Unknown fields are skipped by wire type; every length is bounds-checked.
 */
export function decodeLogEntry(buf: Buffer, start: number, end: number, into: LogEntry = new LogEntry()): LogEntry {
  let pos = start;
  let source = '';
  let timeSec = 0;
  let timeNsec = 0;
  let lineStart = start;
  let lineEnd = start;
  let partial = false;
  let partialLast = false;
  let partialId = '';
  let partialOrdinal = 0;

  while (pos < end) {
    // Tags in this message are always one byte; a longer varint tag is an unknown field.
    let tag = buf[pos++];
    if (tag > 0x7f) {
      let shift = 7;
      tag &= 0x7f;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated field tag');
        b = buf[pos++];
        tag += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b > 0x7f && shift < 64);
      if (b > 0x7f) throw new LogEntryDecodeError('field tag varint too long');
    }
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 2 && wire === 0) {
      // int64 time_nano as (sec, nsec)
      let sec = 0;
      let nsRem = 0;
      let k = 0;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated time_nano');
        if (k === 10) throw new LogEntryDecodeError('time_nano varint too long');
        b = buf[pos++];
        const g = b & 0x7f;
        if (g !== 0) {
          sec += g * POW7_Q[k];
          nsRem += g * POW7_R[k];
        }
        k++;
      } while (b > 0x7f);
      // A 10-byte varint with bit 63 set is a negative int64 in two's complement.
      if (k === 10 && (buf[pos - 1] & 0x01) === 1) {
        sec -= TWO64_Q;
        nsRem -= TWO64_R;
      }
      const carry = Math.floor(nsRem / 1_000_000_000);
      timeSec = sec + carry;
      timeNsec = nsRem - carry * 1_000_000_000;
      continue;
    }
    if (wire === 2) {
      let len = 0;
      let shift = 0;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated length');
        b = buf[pos++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b > 0x7f && shift < 35);
      if (b > 0x7f) throw new LogEntryDecodeError('length varint too long');
      const valueEnd = pos + len;
      if (valueEnd > end) throw new LogEntryDecodeError(`field ${field} length ${len} overruns the entry`);
      if (field === 3) {
        lineStart = pos;
        lineEnd = valueEnd;
      }
      else if (field === 1) source = readSource(buf, pos, valueEnd);
      else if (field === 5) {
        // Written into the entry directly: no object per split line.
        decodePartialMetadata(buf, pos, valueEnd, into);
        partialLast = into.partialLast;
        partialId = into.partialId;
        partialOrdinal = into.partialOrdinal;
      }
      pos = valueEnd;
      continue;
    }
    if (wire === 0) {
      let value = 0;
      let shift = 0;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated varint');
        b = buf[pos++];
        if (shift < 32) value += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b > 0x7f && shift < 70);
      if (b > 0x7f) throw new LogEntryDecodeError('varint too long');
      if (field === 4) partial = value !== 0;
      continue;
    }
    if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new LogEntryDecodeError(`unsupported wire type ${wire} for field ${field}`);
    if (pos > end) throw new LogEntryDecodeError(`field ${field} overruns the entry`);
  }
  into.source = source;
  into.timeSec = timeSec;
  into.timeNsec = timeNsec;
  into.buf = buf;
  into.lineStart = lineStart;
  into.lineEnd = lineEnd;
  into.partial = partial;
  into.partialLast = partialLast;
  into.partialId = partialId;
  into.partialOrdinal = partialOrdinal;
  into.fields = null;
  into.severity = -1;
  into.resetText();
  return into;
}

function decodePartialMetadata(buf: Buffer, start: number, end: number, into: LogEntry): void {
  let pos = start;
  let last = false;
  let id = '';
  let ordinal = 0;
  while (pos < end) {
    const tag = buf[pos++];
    const field = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) {
      let value = 0;
      let shift = 0;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated partial metadata varint');
        b = buf[pos++];
        if (shift < 32) value += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b > 0x7f && shift < 70);
      if (field === 1) last = value !== 0;
      else if (field === 3) ordinal = value | 0;
    } else if (wire === 2) {
      let len = 0;
      let shift = 0;
      let b: number;
      do {
        if (pos >= end) throw new LogEntryDecodeError('truncated partial metadata length');
        b = buf[pos++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b > 0x7f && shift < 35);
      if (pos + len > end) throw new LogEntryDecodeError('partial metadata field overruns');
      if (field === 2) id = buf.toString('latin1', pos, pos + len);
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new LogEntryDecodeError(`unsupported wire type ${wire} in partial metadata`);
  }
  if (pos > end) throw new LogEntryDecodeError('partial metadata overruns');
  into.partialLast = last;
  into.partialId = id;
  into.partialOrdinal = ordinal;
}

// ---------------------------------------------------------------------------------------------
// Encoding: used by ReadLogs and by tests that play the daemon's side of the FIFO.

export interface LogEntryInput {
  source: string;
  timeSec: number;
  timeNsec: number;
  line: Buffer;
  partial?: boolean;
  partialLast?: boolean;
  partialId?: string;
  partialOrdinal?: number;
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** time_nano as a bigint, for encoding (exact; never a double). */
export function toNanos(timeSec: number, timeNsec: number): bigint {
  return BigInt(timeSec) * 1_000_000_000n + BigInt(timeNsec);
}

function timeVarintBytes(timeSec: number, timeNsec: number): Buffer {
  let v = toNanos(timeSec, timeNsec);
  if (v < 0n) v += 1n << 64n;
  const bytes: number[] = [];
  while (v >= 128n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

/** Encodes a LogEntry as the daemon's gogo marshaller does: ascending fields, zero values omitted. */
export function encodeLogEntry(e: LogEntryInput): Buffer {
  const sourceLen = Buffer.byteLength(e.source);
  const time = e.timeSec === 0 && e.timeNsec === 0 ? null : timeVarintBytes(e.timeSec, e.timeNsec);
  let metaLen = 0;
  const idLen = e.partialId ? Buffer.byteLength(e.partialId) : 0;
  if (e.partial) {
    if (e.partialLast) metaLen += 2;
    if (idLen > 0) metaLen += 1 + varintSize(idLen) + idLen;
    if (e.partialOrdinal) metaLen += 1 + varintSize(e.partialOrdinal);
  }
  let size = 0;
  if (sourceLen > 0) size += 1 + varintSize(sourceLen) + sourceLen;
  if (time) size += 1 + time.length;
  if (e.line.length > 0) size += 1 + varintSize(e.line.length) + e.line.length;
  if (e.partial) size += 2 + 1 + varintSize(metaLen) + metaLen;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (sourceLen > 0) {
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, sourceLen);
    pos += out.write(e.source, pos);
  }
  if (time) {
    out[pos++] = 0x10;
    pos += time.copy(out, pos);
  }
  if (e.line.length > 0) {
    out[pos++] = 0x1a;
    pos = writeVarint(out, pos, e.line.length);
    pos += e.line.copy(out, pos);
  }
  if (e.partial) {
    out[pos++] = 0x20;
    out[pos++] = 1;
    out[pos++] = 0x2a;
    pos = writeVarint(out, pos, metaLen);
    if (e.partialLast) {
      out[pos++] = 0x08;
      out[pos++] = 1;
    }
    if (idLen > 0) {
      out[pos++] = 0x12;
      pos = writeVarint(out, pos, idLen);
      pos += out.write(e.partialId!, pos);
    }
    if (e.partialOrdinal) {
      out[pos++] = 0x18;
      pos = writeVarint(out, pos, e.partialOrdinal);
    }
  }
  return out;
}

/** A frame as the daemon writes it to the FIFO: 4-byte big-endian length, then the entry. */
export function encodeFrame(e: LogEntryInput): Buffer {
  const body = encodeLogEntry(e);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/**
 * Appends a ReadLogs frame (4-byte length + LogEntry with source, time and line) to out at pos;
 * out must have room for frameSize(...) bytes. Returns the new position.
 */
export function writeReadFrame(out: Buffer, pos: number, source: string, timeSec: number, timeNsec: number, line: Buffer): number {
  const sourceLen = source.length; // "stdout" / "stderr": ASCII
  // time_nano as two 32-bit halves, exactly, without BigInt: sec·1e9 + nsec with
  // sec = sh·2^16 + sl keeps every intermediate below 2^53.
  let lo = 0;
  let hi = 0;
  if (timeSec >= 0) {
    const sh = Math.floor(timeSec / 65536);
    const sl = timeSec - sh * 65536;
    const b = sh * 1_000_000_000;
    const bHi = Math.floor(b / 65536);
    const x = (b - bHi * 65536) * 65536 + sl * 1_000_000_000 + timeNsec;
    const xHi = Math.floor(x / 4294967296);
    lo = x - xHi * 4294967296;
    hi = bHi + xHi;
  } else {
    let t = BigInt(timeSec) * 1_000_000_000n + BigInt(timeNsec) + (1n << 64n);
    lo = Number(t & 0xffffffffn);
    t >>= 32n;
    hi = Number(t);
  }
  const zeroTime = lo === 0 && hi === 0;
  let timeBytes = 0;
  if (!zeroTime) {
    let l = lo;
    let h = hi;
    timeBytes = 1;
    while (h > 0 || l >= 128) {
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
      timeBytes++;
    }
  }
  let size = 0;
  if (sourceLen > 0) size += 1 + varintSize(sourceLen) + sourceLen;
  if (timeBytes > 0) size += 1 + timeBytes;
  if (line.length > 0) size += 1 + varintSize(line.length) + line.length;
  out.writeUInt32BE(size, pos);
  pos += 4;
  if (sourceLen > 0) {
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, sourceLen);
    for (let k = 0; k < sourceLen; k++) out[pos++] = source.charCodeAt(k);
  }
  if (!zeroTime) {
    out[pos++] = 0x10;
    while (hi > 0 || lo >= 128) {
      out[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    out[pos++] = lo;
  }
  if (line.length > 0) {
    out[pos++] = 0x1a;
    pos = writeVarint(out, pos, line.length);
    if (line.length >= 32) pos += line.copy(out, pos);
    else for (let k = 0; k < line.length; k++) out[pos++] = line[k];
  }
  return pos;
}

/** An upper bound on writeReadFrame's output. */
export function readFrameMaxSize(source: string, line: Buffer): number {
  return 4 + 2 + source.length + 11 + 6 + line.length;
}
