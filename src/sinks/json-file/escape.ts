/**
 * The two JSON string escapers Docker's json-file uses, byte for byte.
 *
 * - `writeLogString`: moby's hand-written ffjson writer for `log` and `stream`
 *   (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go): `\"` `\\` `\n` `\r` short; every other
 *   byte < 0x20 (tab, backspace, form feed too) as `\u00xx`; `<` `>` `&` as `\u003c` `\u003e`
 *   `\u0026`; U+2028/U+2029 escaped; each byte of an invalid UTF-8 sequence as `\ufffd`; 0x7f raw.
 * The `attrs` object is Go's encoding/json instead: ../util/go-json.ts.
 */

import { JSON_BYTE_CLASS, validUtf8Length, writeUnicodeEscape } from '../util/utf8.js';

// A module-local binding: the hot loops index it per byte, and an import is a live binding.
const CLASS = JSON_BYTE_CLASS;


/** Worst case output bytes for an input of n bytes (every byte becomes `\ufffd` or `\u00xx`). */
export function maxEscapedLength(n: number): number {
  return n * 6;
}

/**
 * Writes src[start, end) escaped (without quotes) into out at pos; returns the new position.
 * `out` must have room for maxEscapedLength(end - start) bytes.
 *
 * Measured on these machines, V8 moves about one byte per 2–3 ns in a loop and Buffer#copy costs
 * ~50 ns a call, so: skip the clean prefix four bytes at a time and copy it in one call (most lines
 * are clean throughout), then move the rest byte by byte, escaping as we go.
 */
export function writeLogString(out: Buffer, pos: number, src: Buffer, start: number, end: number): number {
  let i = start;
  while (i + 4 <= end && (CLASS[src[i]] | CLASS[src[i + 1]] | CLASS[src[i + 2]] | CLASS[src[i + 3]]) === 0) i += 4;
  while (i < end && CLASS[src[i]] === 0) i++;
  if (i > start) {
    if (i - start >= 24) pos += src.copy(out, pos, start, i);
    else for (let k = start; k < i; k++) out[pos++] = src[k];
  }
  while (i < end) {
    const b = src[i];
    const cls = CLASS[b];
    if (cls === 0) {
      out[pos++] = b;
      i++;
    } else if (cls === 1) {
      if (b === 0x22 || b === 0x5c) {
        out[pos++] = 0x5c;
        out[pos++] = b;
      } else if (b === 0x0a) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      } else if (b === 0x0d) {
        out[pos++] = 0x5c;
        out[pos++] = 0x72;
      } else {
        pos = writeUnicodeEscape(out, pos, b);
      }
      i++;
    } else {
      const n = validUtf8Length(src, i, end);
      if (n === 0) {
        pos = writeUnicodeEscape(out, pos, 0xfffd);
        i++;
      } else if (n === 3 && b === 0xe2 && src[i + 1] === 0x80 && (src[i + 2] === 0xa8 || src[i + 2] === 0xa9)) {
        // U+2028 / U+2029
        pos = writeUnicodeEscape(out, pos, src[i + 2] === 0xa8 ? 0x2028 : 0x2029);
        i += 3;
      } else {
        for (let k = 0; k < n; k++) out[pos++] = src[i + k];
        i += n;
      }
    }
  }
  return pos;
}

/** Copies a short constant into out; for tens of bytes a loop is cheaper than Buffer#copy. */
export function copySmall(src: Buffer, out: Buffer, pos: number): number {
  const n = src.length;
  for (let k = 0; k < n; k++) out[pos + k] = src[k];
  return pos + n;
}

