/**
 * The bytes Docker's fluentd driver sends per log line (fluent-logger-golang v1.8 Message /
 * MessageExt MarshalMsg through tinylib/msgp), written by hand for the fixed shape:
 *
 *   94 <str tag> <time> <map record> <map option>
 *
 * time: msgp AppendInt64 (smallest signed form: d2 + int32 for current dates) of the Unix
 * seconds, or with sub-second precision the EventTime ext `d7 00` + int32 BE seconds + int32 BE
 * nanoseconds. record: map of str → str: container_id, container_name, source, log, the extra
 * attributes (which may replace those), then for every partial piece partial_message "true",
 * partial_id, partial_ordinal, partial_last (which replace extras of the same name). Go's map order
 * is random; here it is fixed. `log` is a str holding the line's raw bytes, never re-encoded.
 * option: `80` ({}) or, with request-ack, {"chunk": base64(8-byte LE seconds + 8 random bytes)}.
 *
 * Filter fields (entry.fields, off the fast path) are record keys after Docker's, in the fields
 * object's order, with msgpack types: str, int (msgp's smallest signed form) for safe integers,
 * float64 (cb) for other numbers, true/false (c3/c2). A field named like one of Docker's keys
 * (log, source, container_id, container_name, an extra attribute, a partial_* key) replaces it:
 * that key is left out where it would have been, so no key appears twice and the map header
 * counts what is written. An empty key is skipped. entry.severity has no place in Docker's record
 * and is not sent (a parse filter keeps the `level` field itself).
 */
import { randomFillSync } from 'node:crypto';
import type { FieldValue, LogEntry } from '../../docker/log-entry.js';
import { copySmall } from '../util/json-bytes.js';

export interface FluentdEncoderConfig {
  tag: string;
  containerId: string;
  containerName: string;
  extra: Record<string, string>;
  subSecondPrecision: boolean;
  requestAck: boolean;
}

/** msgpack str header for a byte length. */
export function writeStrHeader(out: Buffer, pos: number, len: number): number {
  if (len <= 31) {
    out[pos++] = 0xa0 | len;
  } else if (len <= 0xff) {
    out[pos++] = 0xd9;
    out[pos++] = len;
  } else if (len <= 0xffff) {
    out[pos++] = 0xda;
    out[pos++] = len >>> 8;
    out[pos++] = len & 0xff;
  } else {
    out[pos++] = 0xdb;
    out.writeUInt32BE(len, pos);
    pos += 4;
  }
  return pos;
}

export function writeMapHeader(out: Buffer, pos: number, n: number): number {
  if (n <= 15) {
    out[pos++] = 0x80 | n;
  } else if (n <= 0xffff) {
    out[pos++] = 0xde;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  } else {
    out[pos++] = 0xdf;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  return pos;
}

/** msgp.AppendInt64 for a safe integer: the smallest signed form (positive fixint, d0–d3, negative fixint). */
export function writeInt64(out: Buffer, pos: number, v: number): number {
  if (v >= 0) {
    if (v <= 0x7f) {
      out[pos++] = v;
    } else if (v <= 0x7fff) {
      out[pos++] = 0xd1;
      out.writeInt16BE(v, pos);
      pos += 2;
    } else if (v <= 0x7fffffff) {
      out[pos++] = 0xd2;
      out.writeInt32BE(v, pos);
      pos += 4;
    } else {
      out[pos++] = 0xd3;
      pos = writeInt64Raw(out, pos, v);
    }
    return pos;
  }
  if (v >= -32) {
    out[pos++] = v & 0xff;
  } else if (v >= -128) {
    out[pos++] = 0xd0;
    out.writeInt8(v, pos);
    pos += 1;
  } else if (v >= -32768) {
    out[pos++] = 0xd1;
    out.writeInt16BE(v, pos);
    pos += 2;
  } else if (v >= -2147483648) {
    out[pos++] = 0xd2;
    out.writeInt32BE(v, pos);
    pos += 4;
  } else {
    out[pos++] = 0xd3;
    pos = writeInt64Raw(out, pos, v);
  }
  return pos;
}

/** 8-byte big-endian two's complement of a safe integer. */
function writeInt64Raw(out: Buffer, pos: number, v: number): number {
  const hi = Math.floor(v / 4294967296);
  const lo = v - hi * 4294967296;
  out.writeInt32BE(hi, pos);
  out.writeUInt32BE(lo, pos + 4);
  return pos + 8;
}

function str(s: string, encoding: BufferEncoding = 'utf8'): Buffer {
  const body = Buffer.from(s, encoding);
  const head = Buffer.alloc(5);
  const n = writeStrHeader(head, 0, body.length);
  return Buffer.concat([head.subarray(0, n), body]);
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

/** Standard base64 with padding of src[0, 16) into out at pos (24 bytes). */
function writeBase64Of16(src: Buffer, out: Buffer, pos: number): number {
  let i = 0;
  for (; i < 15; i += 3) {
    const n = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
    out[pos++] = B64[(n >>> 18) & 63];
    out[pos++] = B64[(n >>> 12) & 63];
    out[pos++] = B64[(n >>> 6) & 63];
    out[pos++] = B64[n & 63];
  }
  const n = src[15] << 16;
  out[pos++] = B64[(n >>> 18) & 63];
  out[pos++] = B64[(n >>> 12) & 63];
  out[pos++] = 0x3d;
  out[pos++] = 0x3d;
  return pos;
}

/** Length of the chunk id; it is always the last bytes of an encoded event with request-ack. */
export const CHUNK_ID_LENGTH = 24;

const KEY_SOURCE = str('source');
const KEY_LOG = str('log');
const KEY_PARTIAL_ID = str('partial_id');
const KEY_PARTIAL_ORDINAL = str('partial_ordinal');
const KEY_PARTIAL_LAST = str('partial_last');
const VAL_STDOUT = str('stdout');
const VAL_STDERR = str('stderr');
const VAL_TRUE = str('true');
const VAL_FALSE = str('false');
const OPTION_EMPTY = 0x80;
/** {"chunk": <str of 24>} up to the id. */
const OPTION_CHUNK_PREFIX = Buffer.from([0x81, 0xa5, 0x63, 0x68, 0x75, 0x6e, 0x6b, 0xb8]);

const PARTIAL_KEYS = ['partial_message', 'partial_id', 'partial_ordinal', 'partial_last'];

/** The partial keys written per entry (partial_message is in the fixed part). */
const PARTIAL_DYNAMIC_KEYS = ['partial_id', 'partial_ordinal', 'partial_last'];

/** The per-container constant part of the record, for whole lines or for partial pieces. */
interface RecordShape {
  /** Map header and the fixed key/value pairs. */
  fixed: Buffer;
  sourceDynamic: boolean;
  logDynamic: boolean;
  /** The fixed pairs one by one (key, then key and value encoded), for entries with fields. */
  pairs: Array<{ key: string; bytes: Buffer }>;
  /** `fixed` without its map header, the number of keys it is for, and all of those keys. */
  body: Buffer;
  count: number;
  keys: Set<string>;
}

function shape(cfg: FluentdEncoderConfig, partial: boolean): RecordShape {
  // Go map semantics: later assignments replace earlier ones; track which keys stay dynamic.
  const fixed = new Map<string, string>();
  fixed.set('container_id', cfg.containerId);
  fixed.set('container_name', cfg.containerName);
  let sourceDynamic = true;
  let logDynamic = true;
  for (const [k, v] of Object.entries(cfg.extra)) {
    if (partial && PARTIAL_KEYS.includes(k)) continue;
    if (k === 'source') sourceDynamic = false;
    if (k === 'log') logDynamic = false;
    fixed.set(k, v);
  }
  if (partial) fixed.set('partial_message', 'true');
  const count = fixed.size + (sourceDynamic ? 1 : 0) + (logDynamic ? 1 : 0) + (partial ? 3 : 0);
  const head = Buffer.alloc(5);
  const parts: Buffer[] = [head.subarray(0, writeMapHeader(head, 0, count))];
  const pairs: Array<{ key: string; bytes: Buffer }> = [];
  for (const [k, v] of fixed) {
    parts.push(str(k), str(v));
    pairs.push({ key: k, bytes: Buffer.concat([str(k), str(v)]) });
  }
  // The source key goes with the fixed part (one copy less per event); its value follows.
  if (sourceDynamic) parts.push(KEY_SOURCE);
  const keys = new Set(fixed.keys());
  if (sourceDynamic) keys.add('source');
  if (logDynamic) keys.add('log');
  if (partial) for (const k of PARTIAL_DYNAMIC_KEYS) keys.add(k);
  return { fixed: Buffer.concat(parts), sourceDynamic, logDynamic, pairs, body: Buffer.concat(parts.slice(1)), count, keys };
}

const RANDOM_POOL_BYTES = 8 * 1024;

/** Field keys kept as encoded str. */
const KEY_CACHE_MAX = 4096;

/** Whether a filter field replaces Docker's key `key`. */
function replaced(fields: Record<string, FieldValue>, key: string): boolean {
  return key !== '' && Object.hasOwn(fields, key);
}

/** The value of the `source` key (the key itself is part of the fixed bytes). */
function writeSource(entry: LogEntry, out: Buffer, pos: number): number {
  if (entry.source === 'stdout') return copySmall(VAL_STDOUT, out, pos);
  if (entry.source === 'stderr') return copySmall(VAL_STDERR, out, pos);
  const len = Buffer.byteLength(entry.source);
  pos = writeStrHeader(out, pos, len);
  return pos + out.write(entry.source, pos, 'utf8');
}

/** `log` and the line's raw bytes. */
function writeLog(entry: LogEntry, out: Buffer, pos: number): number {
  out[pos++] = 0xa3;
  out[pos++] = 0x6c;
  out[pos++] = 0x6f;
  out[pos++] = 0x67;
  const len = entry.lineEnd - entry.lineStart;
  pos = writeStrHeader(out, pos, len);
  if (len > 64) pos += entry.buf.copy(out, pos, entry.lineStart, entry.lineEnd);
  else for (let i = entry.lineStart; i < entry.lineEnd; i++) out[pos++] = entry.buf[i];
  return pos;
}

/** partial_id, partial_ordinal, partial_last, minus those a filter field replaces. */
function writePartial(entry: LogEntry, out: Buffer, pos: number, fields: Record<string, FieldValue> | null): number {
  if (fields === null || !replaced(fields, 'partial_id')) {
    pos = copySmall(KEY_PARTIAL_ID, out, pos);
    // The id came off the wire as latin1; write it back byte for byte.
    pos = writeStrHeader(out, pos, entry.partialId.length);
    pos += out.write(entry.partialId, pos, 'latin1');
  }
  if (fields === null || !replaced(fields, 'partial_ordinal')) {
    pos = copySmall(KEY_PARTIAL_ORDINAL, out, pos);
    const ord = String(entry.partialOrdinal);
    out[pos++] = 0xa0 | ord.length;
    pos += out.write(ord, pos, 'latin1');
  }
  if (fields === null || !replaced(fields, 'partial_last')) {
    pos = copySmall(KEY_PARTIAL_LAST, out, pos);
    pos = copySmall(entry.partialLast ? VAL_TRUE : VAL_FALSE, out, pos);
  }
  return pos;
}

/** A filter field's value: str, int (smallest signed form), float64 or bool. */
function writeFieldValue(out: Buffer, pos: number, v: FieldValue): number {
  if (typeof v === 'string') {
    const n = v.length;
    if (n <= 48) {
      // Short ASCII (the usual value) by hand: a native call costs more than the loop.
      let i = 0;
      while (i < n && v.charCodeAt(i) < 0x80) i++;
      if (i === n) {
        pos = writeStrHeader(out, pos, n);
        for (let k = 0; k < n; k++) out[pos + k] = v.charCodeAt(k);
        return pos + n;
      }
    }
    pos = writeStrHeader(out, pos, Buffer.byteLength(v));
    return pos + out.write(v, pos, 'utf8');
  }
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return writeInt64(out, pos, v);
    out[pos++] = 0xcb;
    out.writeDoubleBE(v, pos);
    return pos + 8;
  }
  out[pos++] = v ? 0xc3 : 0xc2;
  return pos;
}


export class FluentdEncoder {
  private readonly head: Buffer;
  private readonly whole: RecordShape;
  private readonly partial: RecordShape;
  private readonly fixedMax: number;
  private readonly subSecond: boolean;
  private readonly requestAck: boolean;
  private readonly chunkScratch = Buffer.alloc(16);
  private readonly keys = new Map<string, Buffer>();
  private randomPool = Buffer.alloc(0);
  private randomPos = 0;
  /** Replaceable in tests: fills 8 bytes of random for a chunk id. */
  random: (into: Buffer, offset: number) => void = (into, offset) => this.poolRandom(into, offset);

  constructor(cfg: FluentdEncoderConfig) {
    this.head = Buffer.concat([Buffer.from([0x94]), str(cfg.tag)]);
    this.whole = shape(cfg, false);
    this.partial = shape(cfg, true);
    this.subSecond = cfg.subSecondPrecision;
    this.requestAck = cfg.requestAck;
    this.fixedMax = this.head.length + Math.max(this.whole.fixed.length, this.partial.fixed.length) + 256;
  }

  /** An upper bound on encode's output for this entry. */
  maxLength(entry: LogEntry): number {
    const n = this.fixedMax + (entry.lineEnd - entry.lineStart) + entry.partialId.length * 3 + entry.source.length * 3;
    if (entry.fields === null) return n;
    let f = 0;
    const fields = entry.fields;
    // str headers (5 at most) and UTF-8 (3 bytes per UTF-16 unit at most); numbers 9 bytes
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      f += 5 + k.length * 3 + (typeof v === 'string' ? 5 + v.length * 3 : 9);
    }
    return n + f;
  }

  /** Encodes one event into out at pos (room for maxLength bytes); returns the end. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    pos = copySmall(this.head, out, pos);
    // time
    if (this.subSecond) {
      out[pos++] = 0xd7;
      out[pos++] = 0x00;
      out.writeInt32BE(entry.timeSec | 0, pos);
      out.writeUInt32BE(entry.timeNsec, pos + 4);
      pos += 8;
    } else {
      pos = writeInt64(out, pos, entry.timeSec);
    }
    // record
    const s = entry.partial ? this.partial : this.whole;
    if (entry.fields !== null) {
      pos = this.writeRecordWithFields(entry, entry.fields, s, out, pos);
    } else {
      pos = copySmall(s.fixed, out, pos);
      if (s.sourceDynamic) {
        if (entry.source === 'stdout') pos = copySmall(VAL_STDOUT, out, pos);
        else if (entry.source === 'stderr') pos = copySmall(VAL_STDERR, out, pos);
        else {
          const len = Buffer.byteLength(entry.source);
          pos = writeStrHeader(out, pos, len);
          pos += out.write(entry.source, pos, 'utf8');
        }
      }
      if (s.logDynamic) {
        out[pos++] = 0xa3;
        out[pos++] = 0x6c;
        out[pos++] = 0x6f;
        out[pos++] = 0x67;
        const len = entry.lineEnd - entry.lineStart;
        pos = writeStrHeader(out, pos, len);
        if (len > 64) pos += entry.buf.copy(out, pos, entry.lineStart, entry.lineEnd);
        else for (let i = entry.lineStart; i < entry.lineEnd; i++) out[pos++] = entry.buf[i];
      }
      if (entry.partial) pos = writePartial(entry, out, pos, null);
    }
    // option
    if (!this.requestAck) {
      out[pos++] = OPTION_EMPTY;
      return pos;
    }
    pos = copySmall(OPTION_CHUNK_PREFIX, out, pos);
    const c = this.chunkScratch;
    const sec = entry.timeSec;
    const hi = Math.floor(sec / 4294967296);
    c.writeUInt32LE(sec - hi * 4294967296, 0);
    c.writeInt32LE(hi, 4);
    this.random(c, 8);
    return writeBase64Of16(c, out, pos);
  }

  /** The record of an entry with filter fields: Docker's keys minus those the fields replace, then the fields. */
  private writeRecordWithFields(entry: LogEntry, fields: Record<string, FieldValue>, s: RecordShape, out: Buffer, pos: number): number {
    const keys = Object.keys(fields);
    let count = 0;
    let clash = false;
    for (const k of keys) {
      if (k === '') continue;
      count++;
      if (s.keys.has(k)) clash = true;
    }
    if (!clash) {
      // The usual case: Docker's record as is, with a larger count, then the fields.
      pos = writeMapHeader(out, pos, s.count + count);
      pos = copySmall(s.body, out, pos);
      if (s.sourceDynamic) pos = writeSource(entry, out, pos);
      if (s.logDynamic) pos = writeLog(entry, out, pos);
      if (entry.partial) pos = writePartial(entry, out, pos, null);
      return this.writeFields(keys, fields, out, pos);
    }
    for (const p of s.pairs) if (!replaced(fields, p.key)) count++;
    const source = s.sourceDynamic && !replaced(fields, 'source');
    const log = s.logDynamic && !replaced(fields, 'log');
    if (source) count++;
    if (log) count++;
    if (entry.partial) for (const k of PARTIAL_DYNAMIC_KEYS) if (!replaced(fields, k)) count++;
    pos = writeMapHeader(out, pos, count);
    for (const p of s.pairs) if (!replaced(fields, p.key)) pos = copySmall(p.bytes, out, pos);
    if (source) {
      pos = copySmall(KEY_SOURCE, out, pos);
      pos = writeSource(entry, out, pos);
    }
    if (log) pos = writeLog(entry, out, pos);
    if (entry.partial) pos = writePartial(entry, out, pos, fields);
    return this.writeFields(keys, fields, out, pos);
  }

  private writeFields(keys: string[], fields: Record<string, FieldValue>, out: Buffer, pos: number): number {
    for (const k of keys) {
      if (k === '') continue;
      pos = copySmall(this.keyBytes(k), out, pos);
      pos = writeFieldValue(out, pos, fields[k]);
    }
    return pos;
  }

  /** A field key as a msgpack str, cached: filters use a handful of keys. */
  private keyBytes(key: string): Buffer {
    let b = this.keys.get(key);
    if (b === undefined) {
      if (this.keys.size >= KEY_CACHE_MAX) this.keys.clear();
      b = str(key);
      this.keys.set(key, b);
    }
    return b;
  }

  private poolRandom(into: Buffer, offset: number): void {
    if (this.randomPos + 8 > this.randomPool.length) {
      if (this.randomPool.length === 0) this.randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
      randomFillSync(this.randomPool);
      this.randomPos = 0;
    }
    this.randomPool.copy(into, offset, this.randomPos, this.randomPos + 8);
    this.randomPos += 8;
  }
}
