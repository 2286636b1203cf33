import os from 'node:os';
import type { ContainerInfo } from '../../docker/container-info.js';
import type { FieldValue, LogEntry } from '../../docker/log-entry.js';
import { extraAttributes } from '../../docker/extra-attributes.js';
import { renderTag, DEFAULT_TAG_TEMPLATE } from '../../docker/tag-template.js';
import { goJsonFloat, goJsonString, goJsonStringMap, writeAscii, writeGoJsonString, writeGoJsonText } from '../util/go-json.js';
import { copySmall, maxJsonEscapedLength } from '../util/json-bytes.js';

/** info.Command(): the entrypoint and the arguments joined by spaces. */
function infoCommand(info: ContainerInfo): string {
  return [info.ContainerEntrypoint ?? '', ...(info.ContainerArgs ?? [])].join(' ');
}

/**
 * The `_`-prefixed fields Docker's gelf driver adds to every message (moby daemon/logger/gelf/
 * gelf.go New): a map of the fixed fields overlaid with the extra attributes (a label or env
 * called `container_id` replaces `_container_id`, as in Docker), json.Marshal'ed once.
 */
export function gelfExtraFields(info: ContainerInfo, raw: Record<string, string>): Record<string, string> {
  const tag = renderTag(raw['tag'] ?? '', info, DEFAULT_TAG_TEMPLATE);
  const extra: Record<string, string> = {
    _container_id: info.ContainerID,
    _container_name: info.ContainerName.replace(/^\//, ''),
    _image_id: info.ContainerImageID,
    _image_name: info.ContainerImageName,
    _command: infoCommand(info),
    _tag: tag,
    _created: info.ContainerCreated,
  };
  for (const [k, v] of Object.entries(extraAttributes(info, raw))) {
    extra[k.startsWith('_') ? k : '_' + k] = v;
  }
  return extra;
}


/**
 * The GELF additional-field name for a filter field: `_` + the key (a key already starting with
 * `_` keeps it, as gelfExtraFields does for labels and env), every character outside GELF's
 * `[\w.\-]` replaced by `_` (one per code point), and `_id` — reserved by GELF — sent as `__id`.
 * An empty key gives '' (the field is skipped).
 */
export function gelfFieldName(key: string): string {
  if (key === '') return '';
  let n = key.charCodeAt(0) === 0x5f ? '' : '_';
  if (/^[\w.-]*$/.test(key)) n += key;
  else for (const ch of key) n += /^[\w.-]$/.test(ch) ? ch : '_';
  return n === '_id' ? '__id' : n;
}

/** Sanitised names by key: filters use a handful of keys, so each is worked out once. */
const NAME_CACHE_MAX = 4096;

/** A field's GELF name and the bytes `,"name":` written before its value. */
interface FieldName {
  name: string;
  prefix: Buffer;
}


const TRUE_JSON = Buffer.from('"true"');
const FALSE_JSON = Buffer.from('"false"');

/**
 * GELF payloads as go-gelf's Message.MarshalJSONBuf writes them for Docker:
 *   {"version":"1.1","host":H,"short_message":M,"timestamp":T,"level":L,<extras sorted>}
 * (full_message and facility are empty and omitted). Everything but the line and the timestamp is
 * precomputed, so encoding is two copies, one escape and a number.
 *
 * Filters (entry.severity, entry.fields), off the fast path:
 * - `level` is entry.severity when it is 0..7, else 6 / 3 by stream as Docker;
 * - each field is an additional field named by gelfFieldName, written after the extras and sorted
 *   by name (bytes; names are ASCII): strings as JSON strings escaped as the extras are, finite
 *   numbers as JSON numbers (Go's float64 form), booleans and non-finite numbers as strings
 *   ("true", "false", "NaN", "Infinity"). A field whose name equals an extra's (say `_tag` or
 *   `_container_id`) replaces it: the extra is left out. Two keys that sanitise to one name keep
 *   the value of the later key in the fields object; an empty key is skipped.
 */
export class GelfEncoder {
  private readonly head: Buffer;
  private readonly tailStdout: Buffer;
  private readonly tailStderr: Buffer;
  /** `,"level":N` for N = 0..7. */
  private readonly levels: Buffer[] = [];
  /** `,<extras>` (empty without extras), then `}` and the terminator. */
  private readonly extraInner: Buffer;
  private readonly end: Buffer;
  /** Each extra as `,"_key":"value"`, in the order the extras are written (sorted). */
  private readonly extraPairs: Array<{ name: string; bytes: Buffer }>;
  private readonly extraNames: Set<string>;
  private readonly names = new Map<string, FieldName>();
  private readonly scratchNames: FieldName[] = [];
  private readonly scratchValues: FieldValue[] = [];
  private readonly maxFixed: number;
  private static readonly MID = Buffer.from('","timestamp":');

  constructor(
    hostname: string,
    extra: Record<string, string>,
    /** Appended after each message (TCP framing: a NUL byte). */
    readonly terminator: Buffer = Buffer.alloc(0),
  ) {
    this.head = Buffer.from(`{"version":"1.1","host":${goJsonString(hostname)},"short_message":"`);
    const rawExtra = goJsonStringMap(extra);
    const inner = rawExtra.length > 2 ? ',' + rawExtra.slice(1, -1) : '';
    this.tailStdout = Buffer.concat([Buffer.from(`,"level":6${inner}}`), terminator]);
    this.tailStderr = Buffer.concat([Buffer.from(`,"level":3${inner}}`), terminator]);
    for (let l = 0; l < 8; l++) this.levels.push(Buffer.from(`,"level":${l}`));
    this.extraInner = Buffer.from(inner);
    this.end = Buffer.concat([Buffer.from('}'), terminator]);
    const keys = Object.keys(extra).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    this.extraPairs = keys.map((k) => ({ name: k, bytes: Buffer.from(`,${goJsonString(k)}:${goJsonString(extra[k])}`) }));
    this.extraNames = new Set(keys);
    // head + mid + a timestamp (at most 24 characters) + the longer tail
    this.maxFixed = this.head.length + GelfEncoder.MID.length + 32 + Math.max(this.tailStdout.length, this.tailStderr.length);
  }

  static forContainer(info: ContainerInfo, raw: Record<string, string>, terminator?: Buffer, hostname: string = os.hostname()): GelfEncoder {
    return new GelfEncoder(hostname, gelfExtraFields(info, raw), terminator);
  }

  /** Upper bound on encode()'s output for this entry. */
  maxEncodedLength(entry: LogEntry): number {
    const n = this.maxFixed + maxJsonEscapedLength(entry.lineEnd - entry.lineStart);
    if (entry.fields === null) return n;
    return n + fieldsMaxLength(entry.fields);
  }

  /** Writes the message into out at pos (room: maxEncodedLength) and returns the end position. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    pos += this.head.copy(out, pos);
    pos = writeGoJsonString(out, pos, entry.buf, entry.lineStart, entry.lineEnd);
    pos += GelfEncoder.MID.copy(out, pos);
    pos = writeGelfTimestamp(out, pos, entry.timeSec, entry.timeNsec);
    if (entry.fields === null && entry.severity < 0) {
      const tail = entry.source === 'stderr' ? this.tailStderr : this.tailStdout;
      pos += tail.copy(out, pos);
      return pos;
    }
    return this.encodeFiltered(entry, out, pos);
  }

  /** The level, extras and fields of an entry a filter touched. */
  private encodeFiltered(entry: LogEntry, out: Buffer, pos: number): number {
    const sev = entry.severity;
    const level = sev >= 0 && sev <= 7 ? sev | 0 : entry.source === 'stderr' ? 3 : 6;
    pos = copySmall(this.levels[level], out, pos);
    const fields = entry.fields;
    if (fields === null) {
      pos = copySmall(this.extraInner, out, pos);
      return copySmall(this.end, out, pos);
    }
    // Scratch arrays kept on the encoder: no allocation per entry.
    const names = this.scratchNames;
    const values = this.scratchValues;
    let n = 0;
    let overridden: Set<string> | null = null;
    const keys = Object.keys(fields);
    for (let k = 0; k < keys.length; k++) {
      const f = this.fieldName(keys[k]);
      if (f.name === '') continue;
      names[n] = f;
      values[n] = fields[keys[k]];
      n++;
      if (this.extraNames.has(f.name)) (overridden ??= new Set()).add(f.name);
    }
    // By name (ASCII: code unit order is byte order), stably: of two keys with one name the later
    // in the fields object comes last, and only that one is written.
    sortByName(names, values, n);
    if (overridden === null) pos = copySmall(this.extraInner, out, pos);
    else for (const pair of this.extraPairs) if (!overridden.has(pair.name)) pos = copySmall(pair.bytes, out, pos);
    for (let i = 0; i < n; i++) {
      if (i + 1 < n && names[i + 1].name === names[i].name) continue;
      pos = copySmall(names[i].prefix, out, pos);
      pos = writeGelfValue(out, pos, values[i]);
    }
    // Do not keep values alive past the call.
    values.fill(0, 0, n);
    return copySmall(this.end, out, pos);
  }

  private fieldName(key: string): FieldName {
    let f = this.names.get(key);
    if (f === undefined) {
      if (this.names.size >= NAME_CACHE_MAX) this.names.clear();
      const name = gelfFieldName(key);
      f = { name, prefix: Buffer.from(`,"${name}":`, 'latin1') };
      this.names.set(key, f);
    }
    return f;
  }

  /** Encodes one entry into a fresh Buffer (tests, tools). */
  encodeToBuffer(entry: LogEntry): Buffer {
    const out = Buffer.allocUnsafe(this.maxEncodedLength(entry));
    return out.subarray(0, this.encode(entry, out, 0));
  }
}

/** Sorts names[0, n) and values alongside by name, stably (insertion sort while short). */
function sortByName(names: FieldName[], values: FieldValue[], n: number): void {
  if (n <= 32) {
    for (let i = 1; i < n; i++) {
      const f = names[i];
      const v = values[i];
      let j = i;
      while (j > 0 && names[j - 1].name > f.name) {
        names[j] = names[j - 1];
        values[j] = values[j - 1];
        j--;
      }
      names[j] = f;
      values[j] = v;
    }
    return;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (names[a].name < names[b].name ? -1 : names[a].name > names[b].name ? 1 : a - b));
  const ns = order.map((i) => names[i]);
  const vs = order.map((i) => values[i]);
  for (let i = 0; i < n; i++) {
    names[i] = ns[i];
    values[i] = vs[i];
  }
}

/** An upper bound on the bytes the fields add: `,"name":value` each, escapes at worst. */
function fieldsMaxLength(fields: Record<string, FieldValue>): number {
  let n = 0;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    // name: '_' + key + '_' at most (`__id`), one byte per code unit or fewer
    n += 6 + key.length + 2 + (typeof v === 'string' ? 2 + maxJsonEscapedLength(v.length) : 32);
  }
  return n;
}

/** A field's value: JSON string, number, or a string for booleans and non-finite numbers. */
function writeGelfValue(out: Buffer, pos: number, v: FieldValue): number {
  if (typeof v === 'boolean') return copySmall(v ? TRUE_JSON : FALSE_JSON, out, pos);
  if (typeof v === 'number' && Number.isFinite(v)) return writeAscii(out, pos, goJsonFloat(v));
  out[pos++] = 0x22;
  pos = writeGoJsonText(out, pos, typeof v === 'string' ? v : String(v));
  out[pos++] = 0x22;
  return pos;
}

/**
 * Docker's `float64(t.UnixNano()/int64(time.Millisecond)) / 1000.0`: whole milliseconds
 * (truncated toward zero) divided by 1000 in floating point.
 */
export function gelfTimestamp(sec: number, nsec: number): number {
  let ms: number;
  if (sec >= 0) ms = sec * 1000 + Math.floor(nsec / 1_000_000);
  else ms = sec * 1000 + Math.ceil(nsec / 1_000_000);
  return ms / 1000;
}

const DIGITS = Buffer.from('0123456789');

/**
 * Writes gelfTimestamp(sec, nsec) as Go's encoding/json prints that float64, without making a
 * string: for 0 <= sec < 1e11 the shortest round-trip form of ms/1000 is the seconds, then '.'
 * and the milliseconds without trailing zeros (a float64 near 1e11 still resolves 1e-5, so no
 * shorter decimal maps to the same value). Other times go through goJsonFloat.
 */
export function writeGelfTimestamp(out: Buffer, pos: number, sec: number, nsec: number): number {
  if (!(sec >= 0 && sec < 1e11)) return pos + out.write(goJsonFloat(gelfTimestamp(sec, nsec)), pos, 'latin1');
  let digits = 1;
  for (let p = 10; p <= sec; p *= 10) digits++;
  let v = sec;
  for (let i = digits - 1; i >= 0; i--) {
    out[pos + i] = DIGITS[v % 10];
    v = Math.floor(v / 10);
  }
  pos += digits;
  let ms = Math.floor(nsec / 1_000_000);
  if (ms === 0) return pos;
  out[pos++] = 0x2e;
  out[pos++] = DIGITS[Math.floor(ms / 100)];
  ms %= 100;
  if (ms === 0) return pos;
  out[pos++] = DIGITS[Math.floor(ms / 10)];
  ms %= 10;
  if (ms === 0) return pos;
  out[pos++] = DIGITS[ms];
  return pos;
}
