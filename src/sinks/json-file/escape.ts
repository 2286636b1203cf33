/**
 * The two JSON string escapers Docker's json-file uses, byte for byte.
 *
 * - `writeLogString`: moby's hand-written ffjson writer for `log` and `stream`
 *   (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go): `\"` `\\` `\n` `\r` short; every other
 *   byte < 0x20 (tab, backspace, form feed too) as `\u00xx`; `<` `>` `&` as `\u003c` `\u003e`
 *   `\u0026`; U+2028/U+2029 escaped; each byte of an invalid UTF-8 sequence as `\ufffd`; 0x7f raw.
 * - `goJsonString`: Go's encoding/json for the `attrs` map (short `\t` `\b` `\f` as in Go ≥ 1.22).
 */

const HEX = Buffer.from('0123456789abcdef');

// 0: copy as is; 1: needs escaping (ASCII); 2: start of a multi-byte sequence (validate).
const CLASS = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) CLASS[b] = 1;
CLASS[0x22] = 1; // "
CLASS[0x5c] = 1; // \
CLASS[0x3c] = 1; // <
CLASS[0x3e] = 1; // >
CLASS[0x26] = 1; // &
for (let b = 0x80; b < 0x100; b++) CLASS[b] = 2;

/** Worst case output bytes for an input of n bytes (every byte becomes `\ufffd` or `\u00xx`). */
export function maxEscapedLength(n: number): number {
  return n * 6;
}

function writeUnicodeEscape(out: Buffer, pos: number, code: number): number {
  out[pos] = 0x5c; // \
  out[pos + 1] = 0x75; // u
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
function validUtf8Length(src: Buffer, i: number, end: number): number {
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
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    const b2 = src[i + 2];
    return b2 >= 0x80 && b2 <= 0xbf ? 3 : 0;
  }
  if (b0 < 0xf5) {
    if (i + 3 >= end) return 0;
    const b1 = src[i + 1];
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    const b2 = src[i + 2];
    if (b2 < 0x80 || b2 > 0xbf) return 0;
    const b3 = src[i + 3];
    return b3 >= 0x80 && b3 <= 0xbf ? 4 : 0;
  }
  return 0;
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

/** Go encoding/json's string encoding (HTML-safe), for the attrs object. */
export function goJsonString(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | null = null;
    if (c < 0x20) {
      if (c === 0x0a) rep = '\\n';
      else if (c === 0x0d) rep = '\\r';
      else if (c === 0x09) rep = '\\t';
      else if (c === 0x08) rep = '\\b';
      else if (c === 0x0c) rep = '\\f';
      else rep = '\\u00' + (c < 0x10 ? '0' : '') + c.toString(16);
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3c) rep = '\\u003c';
    else if (c === 0x3e) rep = '\\u003e';
    else if (c === 0x26) rep = '\\u0026';
    else if (c === 0x2028) rep = '\\u2028';
    else if (c === 0x2029) rep = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is invalid UTF-8 on Go's side: U+FFFD.
      const isPair = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (isPair) {
        i++;
        continue;
      }
      rep = '\ufffd';
    }
    if (rep !== null) {
      out += s.slice(runStart, i) + rep;
      runStart = i + 1;
    }
  }
  return out + s.slice(runStart) + '"';
}

/** Go json.Marshal of a map[string]string: keys sorted by byte order, no spaces. */
export function goJsonStringMap(map: Record<string, string>): string {
  const keys = Object.keys(map).sort(compareUtf8);
  let out = '{';
  for (let k = 0; k < keys.length; k++) {
    if (k > 0) out += ',';
    out += goJsonString(keys[k]) + ':' + goJsonString(map[keys[k]]);
  }
  return out + '}';
}

/** Go sorts map keys as byte strings; JS's default sort is by UTF-16 code unit. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
