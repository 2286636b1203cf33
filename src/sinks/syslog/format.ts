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
 */
import type { SyslogFormat } from './options.js';

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
  /** What follows the timestamp up to the message. */
  private readonly suffix: Buffer;
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
  }

  /**
   * The message for line bytes buf[start, end). `nowMs` is the wall-clock time in milliseconds,
   * `subMs` the microseconds within that millisecond (0..999), used by rfc5424micro only.
   */
  /** An upper bound on encodeInto's output at `nowMs` for a line of `lineLen` bytes. */
  maxLength(lineLen: number, nowMs: number): number {
    this.refreshIfNeeded(nowMs);
    // octet count and space, PRI, stamp, ".uuuuuu" and zone, the rest, the line and a newline
    return 11 + Math.max(this.priErr.length, this.priInfo.length) + this.cachedStamp.length + 7 + this.cachedZone.length + this.suffix.length + lineLen + 1;
  }

  /** One message as its own buffer (tests and callers off the hot path). */
  encode(buf: Buffer, start: number, end: number, stderr: boolean, nowMs: number, subMs: number): Buffer {
    const out = Buffer.allocUnsafe(this.maxLength(end - start, nowMs));
    return out.subarray(0, this.encodeInto(out, 0, buf, start, end, stderr, nowMs, subMs));
  }

  private refreshIfNeeded(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.cachedSecond) this.refreshStamp(second);
  }

  /** Writes one message (with its octet-count prefix where the framing wants one) at pos; returns the end. */
  encodeInto(out: Buffer, pos: number, buf: Buffer, start: number, end: number, stderr: boolean, nowMs: number, subMs: number): number {
    this.refreshIfNeeded(nowMs);
    const second = this.cachedSecond;
    const pri = stderr ? this.priErr : this.priInfo;
    const micro = this.format === 'rfc5424micro';
    const lineLen = end - start;
    const addNewline = lineLen === 0 || buf[end - 1] !== 0x0a;
    const msgLen = pri.length + this.cachedStamp.length + (micro ? 7 + this.cachedZone.length : 0) + this.suffix.length + lineLen + (addNewline ? 1 : 0);
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
    pos += this.suffix.copy(out, pos);
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
