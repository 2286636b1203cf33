/**
 * Docker's syslog message layouts, byte for byte (moby v20.10.24 daemon/logger/syslog/syslog.go and
 * vendor/github.com/RackSec/srslog formatter.go, framer.go, writer.go):
 *
 *   ""            <PRI>Mmm _d HH:MM:SS TAG[PID]: MSG\n                  (srslog UnixFormatter)
 *   rfc3164       <PRI>Mmm _d HH:MM:SS HOSTNAME TAG[PID]: MSG\n
 *   rfc5424       <PRI>1 YYYY-MM-DDTHH:MM:SS±hh:mm HOSTNAME TAG PID TAG - MSG\n
 *   rfc5424micro  <PRI>1 YYYY-MM-DDTHH:MM:SS.uuuuuu±hh:mm HOSTNAME TAG PID TAG - MSG\n
 *
 * PRI = facility*8 + 6 (stdout) or 3 (stderr). Times are the local time zone (offset "Z" when it
 * is zero, as Go's Z07:00). MSG is the raw line (no escaping, invalid UTF-8 kept); "\n" is added
 * unless the line already ends with one. With octet counting (rfc5424* over tcp+tls) the message
 * is prefixed by its byte length and a space (RFC 5425).
 *
 * Filters (off the fast path): with entry.severity 0..7, PRI = facility*8 + severity. Filter fields
 * have no place in Docker's layouts; the rfc5424 formats carry them as STRUCTURED-DATA instead of
 * "-": `[logfan@32473 name="value" …]` (32473 is the example enterprise number of RFC 5612), in
 * the fields object's order. A PARAM-NAME is the key with every character that is not printable
 * US-ASCII or is '=', ' ', ']' or '"' replaced by '_', cut to 32 characters; keys that come out
 * equal keep the later key's value in the first one's place, and an empty key is skipped (no
 * fields left: "-"). A PARAM-VALUE is the value as text (numbers as JS prints them, booleans
 * true/false) in UTF-8 with '"', '\' and ']' escaped by a backslash (RFC 5424 6.3.3); other
 * bytes, newlines included, are kept as they are, as the message is. rfc3164 and the default
 * format leave fields out.
 */
import type { FieldValue } from '../../docker/log-entry.js';
import type { SyslogFormat } from './options.js';
import { copySmall } from '../util/json-bytes.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** Go's "Z07:00" for a Date in the local zone. */
export function goZoneOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return sign + pad2(Math.floor(abs / 60)) + ':' + pad2(abs % 60);
}

/** time.Stamp in the local zone: "Jan _2 15:04:05". */
export function formatStamp(d: Date): string {
  const day = d.getDate();
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "2006-01-02T15:04:05" in the local zone (no zone). */
function formatLocalSeconds(d: Date): string {
  return `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** time.RFC3339 in the local zone. */
export function formatRfc3339Local(d: Date): string {
  return formatLocalSeconds(d) + goZoneOffset(d);
}

/** "2006-01-02T15:04:05.000000Z07:00" in the local zone; micros = 0..999999 within the second. */
export function formatRfc3339MicroLocal(d: Date, micros: number): string {
  return formatLocalSeconds(d) + '.' + String(micros).padStart(6, '0') + goZoneOffset(d);
}

export interface SyslogEncoderConfig {
  format: SyslogFormat;
  /** facility << 3 */
  facility: number;
  tag: string;
  hostname: string;
  pid: number;
  octetCounting: boolean;
}

export const SEVERITY_ERR = 3;
export const SEVERITY_INFO = 6;

/** The SD-ID filter fields go under. */
export const SD_ID = 'logfan@32473';

/** An RFC 5424 PARAM-NAME for a field key ('' when the field is skipped). */
export function sdParamName(key: string): string {
  let n = '';
  let count = 0;
  for (const ch of key) {
    if (count === 32) break;
    const c = ch.charCodeAt(0);
    n += ch.length === 1 && c > 0x20 && c < 0x7f && c !== 0x3d && c !== 0x5d && c !== 0x22 ? ch : '_';
    count++;
  }
  return n;
}

/** An upper bound on the STRUCTURED-DATA for these fields. */
export function structuredDataMaxLength(fields: Record<string, FieldValue>): number {
  // "[" SD-ID "]", then ` name="value"` each: a name at most 32 bytes, a value 3 bytes per
  // UTF-16 unit, doubled by escapes
  let n = 2 + SD_ID.length;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    n += 4 + 32 + (typeof v === 'string' ? v.length * 6 : 48);
  }
  return n;
}

/** Writes a PARAM-VALUE body at pos: UTF-8 with '"', '\\' and ']' escaped by a backslash. */
function writeSdValue(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n <= 64) {
    // Short ASCII (the usual value) by hand.
    const start = pos;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      if (c === 0x22 || c === 0x5c || c === 0x5d) out[pos++] = 0x5c;
      out[pos++] = c;
    }
    if (i === n) return pos;
    pos = start;
  }
  const b = Buffer.from(s, 'utf8');
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22 || c === 0x5c || c === 0x5d) out[pos++] = 0x5c;
    out[pos++] = c;
  }
  return pos;
}

/** A field's PARAM-NAME and the bytes ` name="` that start it. */
interface SdParam {
  name: string;
  prefix: Buffer;
}

const SD_OPEN = Buffer.from('[' + SD_ID, 'latin1');
/** Param names kept by key: filters use a handful of keys. */
const NAME_CACHE_MAX = 4096;

/** Writes the STRUCTURED-DATA element for filter fields; keeps what it can between entries. */
export class StructuredDataWriter {
  private readonly params = new Map<string, SdParam | null>();
  private readonly names: SdParam[] = [];
  private readonly values: FieldValue[] = [];

  /** Writes `[logfan@32473 …]` at pos (room: structuredDataMaxLength); returns the end, or -1 (and writes nothing) when no field is left. */
  write(fields: Record<string, FieldValue>, out: Buffer, pos: number): number {
    const names = this.names;
    const values = this.values;
    let n = 0;
    let index: Map<string, number> | null = null;
    const keys = Object.keys(fields);
    for (let k = 0; k < keys.length; k++) {
      const p = this.param(keys[k]);
      if (p === null) continue;
      // A later key with the same name: its value, in the first one's place.
      let at = -1;
      if (index === null && n > 16) {
        index = new Map();
        for (let i = 0; i < n; i++) index.set(names[i].name, i);
      }
      if (index !== null) at = index.get(p.name) ?? -1;
      else for (let i = 0; i < n; i++) if (names[i].name === p.name) at = i;
      if (at >= 0) {
        values[at] = fields[keys[k]];
        continue;
      }
      index?.set(p.name, n);
      names[n] = p;
      values[n] = fields[keys[k]];
      n++;
    }
    if (n === 0) return -1;
    pos = copySmall(SD_OPEN, out, pos);
    for (let i = 0; i < n; i++) {
      pos = copySmall(names[i].prefix, out, pos);
      const v = values[i];
      pos = writeSdValue(out, pos, typeof v === 'string' ? v : String(v));
      out[pos++] = 0x22;
    }
    out[pos++] = 0x5d;
    values.fill(0, 0, n);
    return pos;
  }

  private param(key: string): SdParam | null {
    let p = this.params.get(key);
    if (p === undefined) {
      if (this.params.size >= NAME_CACHE_MAX) this.params.clear();
      const name = sdParamName(key);
      p = name === '' ? null : { name, prefix: Buffer.from(` ${name}="`, 'latin1') };
      this.params.set(key, p);
    }
    return p;
  }
}

/** The STRUCTURED-DATA element for filter fields as its own buffer, or null when no field is left (tests, tools). */
export function structuredData(fields: Record<string, FieldValue>): Buffer | null {
  const out = Buffer.allocUnsafe(structuredDataMaxLength(fields));
  const end = new StructuredDataWriter().write(fields, out, 0);
  return end < 0 ? null : out.subarray(0, end);
}

/**
 * Encodes one message per line into its own Buffer (datagram transports need the boundaries and
 * the queue counts messages). The timestamp text is cached per wall-clock second.
 */
export class SyslogEncoder {
  private readonly format: SyslogFormat;
  private readonly octetCounting: boolean;
  /** "<PRI>" for stdout / stderr, plus "1 " for RFC 5424. */
  private readonly priInfo: Buffer;
  private readonly priErr: Buffer;
  /** The same for severities 0..7. */
  private readonly priBySeverity: Buffer[] = [];
  /** What follows the timestamp up to the message. */
  private readonly suffix: Buffer;
  /** RFC 5424: the suffix without its "- " (STRUCTURED-DATA and the space before MSG); else null. */
  private readonly suffixBeforeSd: Buffer | null;
  private readonly sd = new StructuredDataWriter();
  private sdScratch: Buffer = Buffer.alloc(0);
  private cachedSecond = NaN;
  /** The timestamp up to the seconds (RFC 5424 micro: without fraction and zone). */
  private cachedStamp: Buffer = Buffer.alloc(0);
  private cachedZone: Buffer = Buffer.alloc(0);

  constructor(cfg: SyslogEncoderConfig) {
    this.format = cfg.format;
    this.octetCounting = cfg.octetCounting;
    const version = cfg.format === 'rfc5424' || cfg.format === 'rfc5424micro' ? '1 ' : '';
    this.priInfo = Buffer.from(`<${cfg.facility | SEVERITY_INFO}>${version}`, 'latin1');
    this.priErr = Buffer.from(`<${cfg.facility | SEVERITY_ERR}>${version}`, 'latin1');
    for (let sev = 0; sev < 8; sev++) this.priBySeverity.push(Buffer.from(`<${cfg.facility | sev}>${version}`, 'latin1'));
    let suffix: string;
    switch (cfg.format) {
      case '':
        suffix = ` ${cfg.tag}[${cfg.pid}]: `;
        break;
      case 'rfc3164':
        suffix = ` ${cfg.hostname} ${cfg.tag}[${cfg.pid}]: `;
        break;
      default:
        suffix = ` ${cfg.hostname} ${cfg.tag} ${cfg.pid} ${cfg.tag} - `;
    }
    this.suffix = Buffer.from(suffix, 'utf8');
    this.suffixBeforeSd = version !== '' ? this.suffix.subarray(0, this.suffix.length - 2) : null;
  }

  /**
   * The message for line bytes buf[start, end). `nowMs` is the wall-clock time in milliseconds,
   * `subMs` the microseconds within that millisecond (0..999), used by rfc5424micro only.
   */
  /**
   * An upper bound on encodeInto's output at `nowMs` for a line of `lineLen` bytes (with
   * `fields`, the filter fields the message will carry).
   */
  maxLength(lineLen: number, nowMs: number, fields: Record<string, FieldValue> | null = null): number {
    this.refreshIfNeeded(nowMs);
    // octet count and space, PRI (any severity), stamp, ".uuuuuu" and zone, the rest, the line and a newline
    const n = 11 + this.priBySeverity[7].length + 1 + this.cachedStamp.length + 7 + this.cachedZone.length + this.suffix.length + lineLen + 1;
    if (fields === null || this.suffixBeforeSd === null) return n;
    return n + structuredDataMaxLength(fields);
  }

  /** One message as its own buffer (tests and callers off the hot path). */
  encode(
    buf: Buffer,
    start: number,
    end: number,
    stderr: boolean,
    nowMs: number,
    subMs: number,
    severity = -1,
    fields: Record<string, FieldValue> | null = null,
  ): Buffer {
    const out = Buffer.allocUnsafe(this.maxLength(end - start, nowMs, fields));
    return out.subarray(0, this.encodeInto(out, 0, buf, start, end, stderr, nowMs, subMs, severity, fields));
  }

  private refreshIfNeeded(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.cachedSecond) this.refreshStamp(second);
  }

  /**
   * Writes one message (with its octet-count prefix where the framing wants one) at pos; returns
   * the end. `severity` 0..7 sets the PRI's severity (else the stream's); `fields` are written as
   * STRUCTURED-DATA by the rfc5424 formats (room: maxLength with the same fields).
   */
  encodeInto(
    out: Buffer,
    pos: number,
    buf: Buffer,
    start: number,
    end: number,
    stderr: boolean,
    nowMs: number,
    subMs: number,
    severity = -1,
    fields: Record<string, FieldValue> | null = null,
  ): number {
    this.refreshIfNeeded(nowMs);
    const second = this.cachedSecond;
    const pri = severity >= 0 && severity <= 7 ? this.priBySeverity[severity | 0] : stderr ? this.priErr : this.priInfo;
    const micro = this.format === 'rfc5424micro';
    const lineLen = end - start;
    const addNewline = lineLen === 0 || buf[end - 1] !== 0x0a;
    // RFC 5424 with fields: "[…] " in place of "- " (written into a scratch buffer first: the
    // octet count needs its length).
    let sdLen = -1;
    if (fields !== null && this.suffixBeforeSd !== null) {
      const need = structuredDataMaxLength(fields);
      if (this.sdScratch.length < need) this.sdScratch = Buffer.allocUnsafe(Math.max(need, 2 * this.sdScratch.length));
      sdLen = this.sd.write(fields, this.sdScratch, 0);
    }
    const msgLen =
      pri.length + this.cachedStamp.length + (micro ? 7 + this.cachedZone.length : 0) + this.suffix.length + lineLen + (addNewline ? 1 : 0) + (sdLen < 0 ? 0 : sdLen - 1);
    if (this.octetCounting) {
      // RFC 5425: the decimal length, a space, then the message.
      let digits = 1;
      for (let v = msgLen; v >= 10; v = Math.floor(v / 10)) digits++;
      for (let k = pos + digits - 1, v = msgLen; k >= pos; k--, v = Math.floor(v / 10)) out[k] = 0x30 + (v % 10);
      pos += digits;
      out[pos++] = 0x20;
    }
    pos += pri.copy(out, pos);
    pos += this.cachedStamp.copy(out, pos);
    if (micro) {
      let us = (nowMs - second * 1000) * 1000 + subMs;
      out[pos++] = 0x2e;
      for (let k = pos + 5; k >= pos; k--) {
        out[k] = 0x30 + (us % 10);
        us = Math.floor(us / 10);
      }
      pos += 6;
      pos += this.cachedZone.copy(out, pos);
    }
    if (sdLen < 0) {
      pos += this.suffix.copy(out, pos);
    } else {
      pos += this.suffixBeforeSd!.copy(out, pos);
      pos += this.sdScratch.copy(out, pos, 0, sdLen);
      out[pos++] = 0x20;
    }
    pos += buf.copy(out, pos, start, end);
    if (addNewline) out[pos++] = 0x0a;
    return pos;
  }

  private refreshStamp(second: number): void {
    const d = new Date(second * 1000);
    this.cachedSecond = second;
    switch (this.format) {
      case '':
      case 'rfc3164':
        this.cachedStamp = Buffer.from(formatStamp(d), 'latin1');
        break;
      case 'rfc5424':
        this.cachedStamp = Buffer.from(formatRfc3339Local(d), 'latin1');
        break;
      case 'rfc5424micro':
        this.cachedStamp = Buffer.from(formatLocalSeconds(d), 'latin1');
        this.cachedZone = Buffer.from(goZoneOffset(d), 'latin1');
        break;
    }
  }
}
