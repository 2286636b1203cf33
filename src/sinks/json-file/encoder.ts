import type { FieldValue, LogEntry } from '../../docker/log-entry.js';
import { formatSecondsUtc, TimestampWriter, writeFraction } from '../../docker/timestamp.js';
import { goJsonString, JSON_NEEDS_ESCAPE, writeGoJsonString, writeGoJsonText } from '../util/go-json.js';
import { copySmall, maxJsonEscapedLength } from '../util/json-bytes.js';
import { writeLogString } from './escape.js';


/** goJsonString without the Buffer round trip for plain ASCII. */
function jsonString(s: string): string {
  return JSON_NEEDS_ESCAPE.test(s) ? goJsonString(s) : '"' + s + '"';
}

/** Go's order for map keys: by UTF-8 bytes (UTF-16 order differs only once surrogates are involved). */
export function compareGoKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 || y >= 0xd800) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    return x - y;
  }
  return a.length - b.length;
}

/** Sorts keys[0, n) with compareGoKeys (insertion sort while short). */
function sortGoKeys(keys: string[], n: number): void {
  if (n > 32) {
    const sorted = keys.slice(0, n).sort(compareGoKeys);
    for (let i = 0; i < n; i++) keys[i] = sorted[i];
    return;
  }
  for (let i = 1; i < n; i++) {
    const k = keys[i];
    let j = i;
    while (j > 0 && compareGoKeys(keys[j - 1], k) > 0) {
      keys[j] = keys[j - 1];
      j--;
    }
    keys[j] = k;
  }
}

const STREAM_STDOUT = Buffer.from('","stream":"stdout"');
const STREAM_STDERR = Buffer.from('","stream":"stderr"');
const ATTRS_OPEN = Buffer.from(',"attrs":{');
const TIME_KEY = Buffer.from(',"time":"');
/** Field keys kept encoded. */
const KEY_CACHE_MAX = 4096;

/**
 * Encodes entries exactly as moby's json-file driver (jsonfilelog.go marshalMessage +
 * jsonlog.JSONLogs.MarshalJSONBuf): `{"log":…,"stream":…,"attrs":…,"time":…}\n`.
 * Everything after the log string is constant per stream and precomputed.
 *
 * Filter fields (entry.fields, off the fast path) go into `attrs` with the static attributes
 * (labels, env, tag): values as strings (numbers as JS prints them, booleans "true"/"false"), a
 * field replacing a static attribute of the same name, keys sorted by bytes as Go marshals a map,
 * Go's escaping; an empty key is skipped, and with nothing left `attrs` is omitted as Docker omits
 * an empty one. entry.severity has no place in the record and is not written.
 */
export class JsonFileEncoder {
  private readonly timestamps = new TimestampWriter();
  private readonly stdoutMiddle: Buffer;
  private readonly stderrMiddle: Buffer;
  private readonly attrsJson: string | null;
  /** The static attributes in Go's order, and each as `"key":"value"`, for entries with filter fields. */
  private readonly staticKeys: string[] = [];
  private readonly staticPairs: Buffer[] = [];
  /** Filter field keys as `"key":`, cached: filters use a handful of keys. */
  private readonly keyPrefixes = new Map<string, Buffer>();
  private readonly scratchKeys: string[] = [];
  /** Per stream: middle + the date part of the time, rebuilt when the second changes. */
  private stdoutTail: Buffer = Buffer.alloc(0);
  private stderrTail: Buffer = Buffer.alloc(0);
  private tailSec = Number.NaN;
  private static readonly TIME_END = Buffer.from('Z"}\n');

  /** @param attrsJson the precomputed `attrs` object (Go json.Marshal output), or null for none. */
  constructor(attrsJson: string | null) {
    this.attrsJson = attrsJson;
    if (attrsJson !== null) {
      const attrs = JSON.parse(attrsJson) as Record<string, unknown>;
      this.staticKeys = Object.keys(attrs).sort(compareGoKeys);
      this.staticPairs = this.staticKeys.map((k) => Buffer.from(`${jsonString(k)}:${jsonString(String(attrs[k]))}`));
    }
    this.stdoutMiddle = this.middleFor('stdout');
    this.stderrMiddle = this.middleFor('stderr');
  }

  /** The bytes between the end of the log string's quote and the time value, for one stream. */
  private middleFor(stream: string): Buffer {
    let s = '"';
    if (stream !== '') s += ',"stream":"' + stream + '"';
    if (this.attrsJson !== null) s += ',"attrs":' + this.attrsJson;
    s += ',"time":"';
    return Buffer.from(s);
  }

  /** An upper bound on the encoded size of an entry. */
  static maxEncodedLength(entry: LogEntry, attrsLength: number): number {
    const n = maxJsonEscapedLength(entry.lineEnd - entry.lineStart) + 2 + 64 + attrsLength + 40 + entry.source.length * 6;
    if (entry.fields === null) return n;
    // `,"attrs":{}`, then `,"key":"value"` each, escapes at worst (6 bytes per UTF-16 unit)
    let f = 12;
    const fields = entry.fields;
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      f += 6 + maxJsonEscapedLength(k.length) + (typeof v === 'string' ? maxJsonEscapedLength(v.length) : 32);
    }
    return n + f;
  }

  get attrsLength(): number {
    return this.attrsJson === null ? 0 : Buffer.byteLength(this.attrsJson);
  }

  /** Writes one encoded entry at pos; `out` must hold maxEncodedLength bytes there. Returns the new position. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    const withNewline = !entry.partial || entry.partialLast;
    const start = pos;
    const noLogKey = entry.lineEnd === entry.lineStart && !withNewline;
    if (noLogKey) {
      // moby omits the "log" key when the value is empty (only possible for a non-last fragment).
      out[pos++] = 0x7b; // {
    } else {
      // {"log":"
      out[pos] = 0x7b;
      out[pos + 1] = 0x22;
      out[pos + 2] = 0x6c;
      out[pos + 3] = 0x6f;
      out[pos + 4] = 0x67;
      out[pos + 5] = 0x22;
      out[pos + 6] = 0x3a;
      out[pos + 7] = 0x22;
      pos = writeLogString(out, pos + 8, entry.buf, entry.lineStart, entry.lineEnd);
      if (withNewline) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      }
    }
    const src = entry.source;
    if (entry.fields !== null) {
      if (src === 'stdout' || src === 'stderr') pos = copySmall(src === 'stdout' ? STREAM_STDOUT : STREAM_STDERR, out, pos);
      else pos = this.writeStream(out, pos, src);
      pos = this.writeAttrsWithFields(entry.fields, out, pos);
      pos = copySmall(TIME_KEY, out, pos);
      if (noLogKey) pos = this.fixupNoLog(out, start, pos);
      pos = this.timestamps.write(out, pos, entry.timeSec, entry.timeNsec);
      return copySmall(JsonFileEncoder.TIME_END, out, pos - 1);
    }
    if (src === 'stdout' || src === 'stderr') {
      // One copy for everything from the log value's closing quote to the time's seconds.
      if (entry.timeSec !== this.tailSec) this.rebuildTails(entry.timeSec);
      const tail = src === 'stdout' ? this.stdoutTail : this.stderrTail;
      pos += tail.copy(out, pos);
      if (noLogKey) pos = this.fixupNoLog(out, start, pos);
      pos = writeFraction(out, pos, entry.timeNsec);
      // Z"}\n
      out[pos] = 0x5a;
      out[pos + 1] = 0x22;
      out[pos + 2] = 0x7d;
      out[pos + 3] = 0x0a;
      return pos + 4;
    }
    pos = this.writeOtherMiddle(out, pos, src, this.attrsJson);
    if (noLogKey) pos = this.fixupNoLog(out, start, pos);
    pos = this.timestamps.write(out, pos, entry.timeSec, entry.timeNsec);
    return copySmall(JsonFileEncoder.TIME_END, out, pos - 1);
  }

  private rebuildTails(sec: number): void {
    const date = Buffer.from(formatSecondsUtc(sec), 'latin1');
    this.stdoutTail = Buffer.concat([this.stdoutMiddle, date]);
    this.stderrTail = Buffer.concat([this.stderrMiddle, date]);
    this.tailSec = sec;
  }

  /**
   * `,"attrs":{…}` with the filter fields merged into the static attributes (a merge of two sorted
   * lists; a field replaces the static attribute of its name), or nothing when it would be empty.
   */
  private writeAttrsWithFields(fields: Record<string, FieldValue>, out: Buffer, pos: number): number {
    const keys = this.scratchKeys;
    let n = 0;
    for (const k of Object.keys(fields)) if (k !== '') keys[n++] = k;
    sortGoKeys(keys, n);
    const staticKeys = this.staticKeys;
    const ns = staticKeys.length;
    if (n + ns === 0) return pos;
    pos = copySmall(ATTRS_OPEN, out, pos);
    let first = true;
    let i = 0;
    let j = 0;
    while (i < ns || j < n) {
      if (i < ns && (j === n || compareGoKeys(staticKeys[i], keys[j]) < 0)) {
        if (!first) out[pos++] = 0x2c;
        first = false;
        pos = copySmall(this.staticPairs[i], out, pos);
        i++;
        continue;
      }
      // A static attribute of the field's name is replaced by it.
      if (i < ns && staticKeys[i] === keys[j]) i++;
      if (!first) out[pos++] = 0x2c;
      first = false;
      const v = fields[keys[j]];
      pos = copySmall(this.keyPrefix(keys[j]), out, pos);
      out[pos++] = 0x22;
      pos = writeGoJsonText(out, pos, typeof v === 'string' ? v : String(v));
      out[pos++] = 0x22;
      j++;
    }
    out[pos++] = 0x7d; // }
    keys.fill('', 0, n);
    return pos;
  }

  private keyPrefix(key: string): Buffer {
    let b = this.keyPrefixes.get(key);
    if (b === undefined) {
      if (this.keyPrefixes.size >= KEY_CACHE_MAX) this.keyPrefixes.clear();
      b = Buffer.from(jsonString(key) + ':');
      this.keyPrefixes.set(key, b);
    }
    return b;
  }

  /** `"` ending the log value and `,"stream":"<src>"` for a source other than stdout / stderr. */
  private writeStream(out: Buffer, pos: number, src: string): number {
    const srcBuf = Buffer.from(src);
    out[pos++] = 0x22;
    if (src !== '') {
      pos += out.write(',"stream":"', pos, 'latin1');
      pos = writeLogString(out, pos, srcBuf, 0, srcBuf.length);
      out[pos++] = 0x22;
    }
    return pos;
  }

  private writeOtherMiddle(out: Buffer, pos: number, src: string, attrsJson: string | null): number {
    pos = this.writeStream(out, pos, src);
    if (attrsJson !== null) pos += out.write(',"attrs":' + attrsJson, pos);
    pos += out.write(',"time":"', pos, 'latin1');
    return pos;
  }

  /** Rewrites `{"` + `,"stream"…` into `{"stream"…` for an entry without a log key. */
  private fixupNoLog(out: Buffer, start: number, pos: number): number {
    // After "{" we wrote `",` (end quote + comma) followed by the next key; remove those two bytes.
    out.copy(out, start + 1, start + 3, pos);
    return pos - 2;
  }
}
