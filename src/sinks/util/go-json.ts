/**
 * Go encoding/json string encoding as the daemon here has it (Docker 20.10.24 is built with Go
 * 1.19.8; encode.go `stringBytes` / `string` with escapeHTML on):
 *
 * - `"` and `\` escaped with a backslash; `\n` `\r` `\t` short; every other byte < 0x20 as
 *   `\u00xx` (lowercase hex; `\b` and `\f` became short escapes only in Go 1.22);
 * - `<` `>` `&` as `\u003c` `\u003e` `\u0026`; U+2028 / U+2029 as `\u2028` / `\u2029`;
 * - each byte that does not start a valid UTF-8 sequence as `\ufffd`; 0x7f raw.
 *
 * Used for the json-file `attrs` object and for GELF messages.
 */

import { JSON_BYTE_CLASS, validUtf8Length, writeUnicodeEscape } from './utf8.js';

// A module-local binding: the hot loops index it per byte, and an import is a live binding.
const CLASS = JSON_BYTE_CLASS;


/** Worst case output for n input bytes (each byte becomes a six-byte escape). */
export function maxGoEscapedLength(n: number): number {
  return n * 6;
}

/**
 * Writes src[start, end) as the inside of a Go JSON string (no quotes) into out at pos and
 * returns the new position; out needs room for maxGoEscapedLength(end - start) bytes.
 * Clean runs are skipped four bytes at a time and copied in one call.
 */
export function writeGoJsonString(out: Buffer, pos: number, src: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const runStart = i;
    while (i + 4 <= end && (CLASS[src[i]] | CLASS[src[i + 1]] | CLASS[src[i + 2]] | CLASS[src[i + 3]]) === 0) i += 4;
    while (i < end && CLASS[src[i]] === 0) i++;
    if (i > runStart) {
      if (i - runStart >= 24) pos += src.copy(out, pos, runStart, i);
      else for (let k = runStart; k < i; k++) out[pos++] = src[k];
    }
    if (i >= end) break;
    const b = src[i];
    if (CLASS[b] === 1) {
      if (b === 0x22 || b === 0x5c) {
        out[pos++] = 0x5c;
        out[pos++] = b;
      } else if (b === 0x0a) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      } else if (b === 0x0d) {
        out[pos++] = 0x5c;
        out[pos++] = 0x72;
      } else if (b === 0x09) {
        out[pos++] = 0x5c;
        out[pos++] = 0x74;
      } else {
        pos = writeUnicodeEscape(out, pos, b);
      }
      i++;
      continue;
    }
    const n = validUtf8Length(src, i, end);
    if (n === 0) {
      pos = writeUnicodeEscape(out, pos, 0xfffd);
      i++;
    } else if (n === 3 && b === 0xe2 && src[i + 1] === 0x80 && (src[i + 2] === 0xa8 || src[i + 2] === 0xa9)) {
      pos = writeUnicodeEscape(out, pos, src[i + 2] === 0xa8 ? 0x2028 : 0x2029);
      i += 3;
    } else {
      for (let k = 0; k < n; k++) out[pos++] = src[i + k];
      i += n;
    }
  }
  return pos;
}

/** A JS string as a Go JSON string literal, quotes included (lone surrogates become U+FFFD, as their bytes would). */
export function goJsonString(s: string): string {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(maxGoEscapedLength(src.length) + 2);
  out[0] = 0x22;
  const end = writeGoJsonString(out, 1, src, 0, src.length);
  out[end] = 0x22;
  return out.toString('utf8', 0, end + 1);
}

/** Go's json.Marshal of a map[string]string: keys sorted by their bytes, no spaces. */
export function goJsonStringMap(map: Record<string, string>): string {
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return '{' + keys.map((k) => `${goJsonString(k)}:${goJsonString(map[k])}`).join(',') + '}';
}

/**
 * Go encoding/json for a float64: shortest round-trip digits, 'f' form for 1e-6 <= |f| < 1e21 and
 * 'e' form outside with e-7 / e+21 exponents. JS Number#toString picks the same form at the same
 * bounds with the same digits; only -0 differs.
 */
export function goJsonFloat(f: number): string {
  return Object.is(f, -0) ? '-0' : String(f);
}
