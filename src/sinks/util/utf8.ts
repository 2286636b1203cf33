/**
 * UTF-8 validity exactly as Go's utf8.DecodeRune decides it, and JSON \\uXXXX escapes: shared by
 * the two JSON string encoders Docker's drivers use (json-file's log writer and encoding/json).
 */

const HEX = Buffer.from('0123456789abcdef');


/** Writes a backslash, u and four lowercase hex digits at pos; returns the new position. */
export function writeUnicodeEscape(out: Buffer, pos: number, code: number): number {
  out[pos] = 0x5c;
  out[pos + 1] = 0x75;
  out[pos + 2] = HEX[(code >> 12) & 0xf];
  out[pos + 3] = HEX[(code >> 8) & 0xf];
  out[pos + 4] = HEX[(code >> 4) & 0xf];
  out[pos + 5] = HEX[code & 0xf];
  return pos + 6;
}

/**
 * Length in bytes of the valid UTF-8 sequence starting at src[i] (a byte >= 0x80), or 0 when
 * Go's utf8.DecodeRune would return (RuneError, 1) for it.
 */
export function validUtf8Length(src: Buffer, i: number, end: number): number {
  const b0 = src[i];
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) {
    if (i + 1 >= end) return 0;
    const b1 = src[i + 1];
    return b1 >= 0x80 && b1 <= 0xbf ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (i + 2 >= end) return 0;
    const b1 = src[i + 1];
    if (b1 < (b0 === 0xe0 ? 0xa0 : 0x80) || b1 > (b0 === 0xed ? 0x9f : 0xbf)) return 0;
    const b2 = src[i + 2];
    return b2 >= 0x80 && b2 <= 0xbf ? 3 : 0;
  }
  if (b0 < 0xf5) {
    if (i + 3 >= end) return 0;
    const b1 = src[i + 1];
    if (b1 < (b0 === 0xf0 ? 0x90 : 0x80) || b1 > (b0 === 0xf4 ? 0x8f : 0xbf)) return 0;
    const b2 = src[i + 2];
    if (b2 < 0x80 || b2 > 0xbf) return 0;
    const b3 = src[i + 3];
    return b3 >= 0x80 && b3 <= 0xbf ? 4 : 0;
  }
  return 0;
}
