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

import { maxJsonEscapedLength, writeJsonBytes } from './json-bytes.js';


/** Writes src[start, end) as the inside of a Go JSON string (no quotes); see json-bytes.ts. */
export function writeGoJsonString(out: Buffer, pos: number, src: Buffer, start: number, end: number): number {
  return writeJsonBytes(out, pos, src, start, end, true);
}

/** A JS string as a Go JSON string literal, quotes included (lone surrogates become U+FFFD, as their bytes would). */
export function goJsonString(s: string): string {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(maxJsonEscapedLength(src.length) + 2);
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

/** ASCII that Go's encoding/json writes as is: the fast check before escaping a JS string. */
export const JSON_NEEDS_ESCAPE = /[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]/;

/** ASCII text into out at pos: a loop for short strings (cheaper than a native call), else write. */
export function writeAscii(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n > 48) return pos + out.write(s, pos, 'latin1');
  for (let i = 0; i < n; i++) out[pos + i] = s.charCodeAt(i);
  return pos + n;
}

/** A JS string as the inside of a Go JSON string: plain ASCII copied, the rest escaped via its UTF-8 bytes. */
export function writeGoJsonText(out: Buffer, pos: number, s: string): number {
  if (!JSON_NEEDS_ESCAPE.test(s)) return writeAscii(out, pos, s);
  const src = Buffer.from(s, 'utf8');
  return writeGoJsonString(out, pos, src, 0, src.length);
}
