/**
 * The filters' hot paths as they were before the prechecks and fast paths were added, kept as
 * references: the tests check that the new code decides exactly as these did (the filters'
 * behaviour must not change). Copied from src/filters/redact.ts and parse.ts; not used by src.
 */
import type { FieldValue } from '../../src/docker/log-entry.js';
import { type BuiltinRedaction, luhnValid } from '../../src/filters/redact.js';

export type { FieldValue };

// ---- redact: the byte scan the line precheck used (RedactPrecheck must give the same bits) ----

// Detector bits.
const BEARER = 1;
const AWS_ID = 2;
const AWS_SECRET = 4;
const KEY = 8;
const CARD = 16;
const EMAIL = 32;

export const BITS_REF: Record<BuiltinRedaction, number> = {
  bearer: BEARER,
  'aws-access-key': AWS_ID | AWS_SECRET,
  'private-key': KEY,
  'credit-card': CARD,
  email: EMAIL,
};

// Byte classes for the precheck scan; 0 = nothing to look at.
const C_DIGIT = 1;
const C_SEP = 2; // ' ' or '-' (a card group separator; '-' may also start '-----BEGIN')
const C_AT = 3;
const C_B = 4; // B/b: Bearer
const C_A = 5; // A: AKIA/ASIA
const C_S = 6; // S/s: secret
/**
 * The class table for the enabled detectors only: bytes no enabled detector cares about are 0, so
 * the scan's common path is one table load and one compare per byte.
 */
export function classTableRef(enabled: number): Uint8Array {
  const t = new Uint8Array(256);
  if (enabled & CARD) {
    for (let c = 0x30; c <= 0x39; c++) t[c] = C_DIGIT;
    t[0x20] = C_SEP;
    t[0x2d] = C_SEP;
  }
  if (enabled & KEY) t[0x2d] = C_SEP;
  if (enabled & EMAIL) t[0x40] = C_AT;
  if (enabled & BEARER) t[0x42] = t[0x62] = C_B;
  if (enabled & AWS_ID) t[0x41] = C_A;
  if (enabled & AWS_SECRET) t[0x53] = t[0x73] = C_S;
  return t;
}

const CARD_MIN_DIGITS = 13;

/** Lower-case ASCII letter comparison: (b | 0x20) === expected lower-case letter. */
function lowerAt(b: number, lower: number): boolean {
  return (b | 0x20) === lower;
}

/** Luhn over the digits buf[start, end) (contiguous digits). */
function luhnBytes(buf: Buffer, start: number, end: number): boolean {
  let sum = 0;
  let double = false;
  for (let i = end - 1; i >= start; i--) {
    let d = buf[i] - 0x30;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * A run of 13+ digits (single spaces/dashes allowed between them) ended: worth running the card
 * detector? A contiguous run is decided here (13–19 digits passing Luhn), so epoch-millisecond
 * timestamps and long ids do not make every JSON line go through the regexes; a run with
 * separators goes to the detector, which tries its groups.
 */
function cardRunBytes(buf: Buffer, start: number, end: number, digits: number, seps: number): boolean {
  if (seps > 0) return true;
  return digits <= 19 && luhnBytes(buf, start, end);
}


/** What the line's bytes could contain: a bitmask of detectors worth running. */
export function scanBytesRef(buf: Buffer, start: number, end: number, table: Uint8Array): number {
  let found = 0;
  let run = 0; // digits in the current card-like run
  let runStart = 0;
  let runEnd = 0;
  let seps = 0;
  let prevDigit = false;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    const k = table[c];
    if (k === C_DIGIT) {
      if (run === 0) {
        runStart = i;
        seps = 0;
      } else if (!prevDigit) seps++;
      run++;
      runEnd = i + 1;
      prevDigit = true;
      continue;
    }
    if (run !== 0) {
      // a separator right after a digit continues the run; anything else ends it
      if (k === C_SEP && prevDigit) prevDigit = false;
      else {
        if (run >= CARD_MIN_DIGITS && cardRunBytes(buf, runStart, runEnd, run, seps)) found |= CARD;
        run = 0;
      }
    }
    if (k === 0) continue;
    if (k === C_SEP) {
      // '-----BEGIN' / '-----END'
      if (c === 0x2d && i + 8 <= end && buf[i + 1] === 0x2d && buf[i + 2] === 0x2d && buf[i + 3] === 0x2d && buf[i + 4] === 0x2d) {
        const d = buf[i + 5];
        if (d === 0x42 || d === 0x45) found |= KEY;
      }
      continue;
    }
    if (k === C_AT) found |= EMAIL;
    else if (k === C_B) {
      if (i + 5 < end && lowerAt(buf[i + 1], 0x65) && lowerAt(buf[i + 2], 0x61) && lowerAt(buf[i + 3], 0x72) && lowerAt(buf[i + 4], 0x65) && lowerAt(buf[i + 5], 0x72)) found |= BEARER;
    } else if (k === C_A) {
      if (i + 3 < end && (buf[i + 1] === 0x4b || buf[i + 1] === 0x53) && buf[i + 2] === 0x49 && buf[i + 3] === 0x41) found |= AWS_ID;
    } else if (i + 5 < end && lowerAt(buf[i + 1], 0x65) && lowerAt(buf[i + 2], 0x63) && lowerAt(buf[i + 3], 0x72) && lowerAt(buf[i + 4], 0x65) && lowerAt(buf[i + 5], 0x74)) {
      found |= AWS_SECRET;
    }
  }
  if (run >= CARD_MIN_DIGITS && cardRunBytes(buf, runStart, runEnd, run, seps)) found |= CARD;
  return found;
}


// ---- parse: JSON flattening and logfmt ----

const MAX_DEPTH = 16;

export function flattenRef(obj: Record<string, unknown>, keyPrefix: string, out: Record<string, FieldValue>, depth: number): void {
  for (const key in obj) {
    const v = obj[key];
    const name = keyPrefix === '' ? key : keyPrefix + key;
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
        out[name] = v;
        break;
      case 'object':
        if (v === null) out[name] = 'null';
        else if (Array.isArray(v) || depth >= MAX_DEPTH) out[name] = JSON.stringify(v);
        else flattenRef(v as Record<string, unknown>, name + '.', out, depth + 1);
        break;
    }
  }
}

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isKeyChar(c: number): boolean {
  // anything visible except '=' and '"'
  return c > 0x20 && c !== 0x3d && c !== 0x22 && c !== 0x7f;
}


/** Parses logfmt into out (fields with prefix); false (out possibly half-filled) if it is not logfmt. */
export function parseLogfmtRef(s: string, out: Record<string, FieldValue>, prefix: string): boolean {
  const n = s.length;
  let i = 0;
  let pairs = 0;
  while (i < n) {
    let c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      i++;
      continue;
    }
    const keyStart = i;
    while (i < n && isKeyChar(s.charCodeAt(i))) i++;
    if (i === keyStart || i >= n || s.charCodeAt(i) !== 0x3d) return false;
    const key = s.slice(keyStart, i);
    i++; // '='
    let value: FieldValue;
    if (i < n && s.charCodeAt(i) === 0x22) {
      // quoted: \" \\ \n \t \r \uXXXX as in Go's strconv.Quote
      i++;
      let text = '';
      let segment = i;
      let closed = false;
      while (i < n) {
        c = s.charCodeAt(i);
        if (c === 0x22) {
          text += s.slice(segment, i);
          i++;
          closed = true;
          break;
        }
        if (c === 0x5c && i + 1 < n) {
          text += s.slice(segment, i);
          const e = s.charCodeAt(i + 1);
          if (e === 0x6e) text += '\n';
          else if (e === 0x74) text += '\t';
          else if (e === 0x72) text += '\r';
          else if (e === 0x75 && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            text += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
            i += 4;
          } else text += s[i + 1];
          i += 2;
          segment = i;
          continue;
        }
        i++;
      }
      if (!closed) return false;
      value = text;
      if (i < n && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) return false;
    } else {
      const valueStart = i;
      while (i < n && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) {
        if (s.charCodeAt(i) === 0x22 || s.charCodeAt(i) === 0x3d) return false;
        i++;
      }
      const raw = s.slice(valueStart, i);
      if (raw === 'true') value = true;
      else if (raw === 'false') value = false;
      else if (raw.length > 0 && raw.length < 24 && NUMBER_RE.test(raw)) value = Number(raw);
      else value = raw;
    }
    out[prefix === '' ? key : prefix + key] = value;
    pairs++;
  }
  return pairs > 0;
}

