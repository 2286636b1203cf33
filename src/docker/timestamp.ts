/**
 * Go's time.RFC3339Nano in UTC ("2006-01-02T15:04:05.999999999Z"): fraction digits with trailing
 * zeros trimmed, no dot at all when the nanoseconds are zero. Times are (seconds, nanoseconds)
 * pairs so that every int64 nanosecond value is exact.
 */

export class TimestampRangeError extends Error {
  override name = 'TimestampRangeError';
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** "YYYY-MM-DDTHH:MM:SS" for whole seconds since the epoch (UTC). */
export function formatSecondsUtc(sec: number): string {
  const d = new Date(sec * 1000);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new TimestampRangeError('time.MarshalJSON: year outside of range [0,9999]');
  }
  return (
    String(year).padStart(4, '0') +
    '-' +
    pad2(d.getUTCMonth() + 1) +
    '-' +
    pad2(d.getUTCDate()) +
    'T' +
    pad2(d.getUTCHours()) +
    ':' +
    pad2(d.getUTCMinutes()) +
    ':' +
    pad2(d.getUTCSeconds())
  );
}

/** ".123456789" with trailing zeros trimmed, or "" for zero. */
export function formatFraction(nsec: number): string {
  if (nsec === 0) return '';
  let s = String(nsec).padStart(9, '0');
  let end = 9;
  while (s.charCodeAt(end - 1) === 0x30) end--;
  return '.' + s.slice(0, end);
}

export function formatRfc3339NanoUtc(sec: number, nsec: number): string {
  return formatSecondsUtc(sec) + formatFraction(nsec) + 'Z';
}

/** "000" … "999" as ASCII, for writing nanoseconds three digits at a time. */
const DIGITS3 = new Uint8Array(3000);
for (let n = 0; n < 1000; n++) {
  DIGITS3[n * 3] = 0x30 + Math.floor(n / 100);
  DIGITS3[n * 3 + 1] = 0x30 + (Math.floor(n / 10) % 10);
  DIGITS3[n * 3 + 2] = 0x30 + (n % 10);
}

/** Writes ".123456789" with trailing zeros trimmed (nothing for zero); returns the new position. */
export function writeFraction(out: Buffer, pos: number, nsec: number): number {
  if (nsec === 0) return pos;
  // nsec < 1e9 fits in int32, so |0 is an exact floor here.
  const hi = ((nsec / 1_000_000) | 0) * 3;
  const mid = (((nsec / 1000) | 0) % 1000) * 3;
  const lo = (nsec % 1000) * 3;
  out[pos] = 0x2e; // .
  out[pos + 1] = DIGITS3[hi];
  out[pos + 2] = DIGITS3[hi + 1];
  out[pos + 3] = DIGITS3[hi + 2];
  out[pos + 4] = DIGITS3[mid];
  out[pos + 5] = DIGITS3[mid + 1];
  out[pos + 6] = DIGITS3[mid + 2];
  out[pos + 7] = DIGITS3[lo];
  out[pos + 8] = DIGITS3[lo + 1];
  out[pos + 9] = DIGITS3[lo + 2];
  pos += 10;
  while (out[pos - 1] === 0x30) pos--;
  return pos;
}

/**
 * Writes RFC3339Nano timestamps into buffers, reusing the date part while the second is the same
 * (consecutive log lines almost always share it).
 */
export class TimestampWriter {
  private cachedSec = Number.NaN;
  private cachedPrefix = Buffer.alloc(0);

  /** Writes the timestamp at pos (ASCII, at most 30 bytes) and returns the new position. */
  write(out: Buffer, pos: number, sec: number, nsec: number): number {
    if (sec !== this.cachedSec) {
      this.cachedPrefix = Buffer.from(formatSecondsUtc(sec), 'latin1');
      this.cachedSec = sec;
    }
    const prefix = this.cachedPrefix;
    for (let k = 0; k < prefix.length; k++) out[pos + k] = prefix[k];
    pos += prefix.length;
    pos = writeFraction(out, pos, nsec);
    out[pos++] = 0x5a; // Z
    return pos;
  }
}

const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/** Seconds since the epoch of a proleptic Gregorian UTC date and time, for any year (no Date). */
export function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const yy = y - 1;
  const days = 365 * (y - 1970) + (Math.floor(yy / 4) - 492) - (Math.floor(yy / 100) - 19) + (Math.floor(yy / 400) - 4) + DAYS_BEFORE_MONTH[mo - 1] + (leap && mo > 2 ? 1 : 0) + (d - 1);
  return days * 86400 + h * 3600 + mi * 60 + s;
}

/** Parses an RFC 3339 time (any offset, up to 9 fraction digits) into exact (sec, nsec). */
export function parseRfc3339(text: string): { sec: number; nsec: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) throw new Error(`invalid RFC 3339 time: '${text}'`);
  const base = utcSeconds(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]);
  let offset = 0;
  if (m[8] !== 'Z' && m[8] !== 'z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    offset = sign * (+m[8].slice(1, 3) * 3600 + +m[8].slice(4, 6) * 60);
  }
  const nsec = m[7] ? +m[7].padEnd(9, '0') : 0;
  return { sec: base - offset, nsec };
}
