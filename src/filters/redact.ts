import { z } from 'zod';
import type { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { parseWith, userRegex } from './options.js';

/**
 * `redact` masks secrets in the line and in the string values of `entry.fields`.
 *
 *   {type: 'redact', builtin?: 'all' | Array<'bearer'|'aws-access-key'|'private-key'|'credit-card'|'email'>,
 *    patterns?: string[], mask?: string (default '[REDACTED]')}
 *
 * Built-in detectors:
 * - bearer: `Bearer <token>` (any case, e.g. in `Authorization: Bearer …`): the token is masked,
 *   the word Bearer kept.
 * - aws-access-key: access key ids `AKIA…`/`ASIA…` (+16 of [A-Z0-9]), and the value after
 *   `aws_secret_access_key` / `AWS_SECRET_ACCESS_KEY` / `awsSecretAccessKey` (`=` or `:`, quoted or not).
 * - private-key: a PEM `-----BEGIN … PRIVATE KEY-----` block: the body between the BEGIN and END
 *   lines is masked, also when multiline joined it with \n. A BEGIN line without its END (the key
 *   was logged line by line) masks the rest of that line and then the PEM body lines that follow
 *   on the same stream (base64 or `Header: value` lines, at most 200) up to the END line.
 * - credit-card: 13–19 digits, in groups separated by single spaces or dashes, masked only when
 *   the Luhn checksum passes (so timestamps, ids and phone numbers are left alone).
 * - email: `local@domain.tld`.
 * `patterns` are user regexes (compiled through compileSafeRegex); every match is masked.
 * With credit-card, a number field holding a Luhn-valid 13–19 digit integer (a card number parsed
 * from JSON) is replaced by the mask as well.
 *
 * Cost: one pass over the line's bytes with a 256-entry class table looks for what each enabled
 * detector needs (`earer`, `AKIA`/`ASIA`, `ecret`, `-----BEGIN`/`-----END`, `@`, a run of 13+
 * digits — contiguous runs are Luhn-checked right there, so epoch-millisecond timestamps and long
 * ids do not count); a line with none of them is passed on without being decoded or copied. Only a line
 * that changed is re-encoded (`entry.setLine`). User patterns have no precheck: with `patterns`,
 * every line is decoded.
 */
export type BuiltinRedaction = 'bearer' | 'aws-access-key' | 'private-key' | 'credit-card' | 'email';
export const BUILTIN_REDACTIONS: readonly BuiltinRedaction[] = ['bearer', 'aws-access-key', 'private-key', 'credit-card', 'email'];

export interface RedactOptions {
  type: 'redact';
  builtin?: 'all' | BuiltinRedaction[];
  patterns?: string[];
  mask?: string;
}

const schema = z
  .strictObject({
    type: z.literal('redact'),
    builtin: z.union([z.literal('all'), z.array(z.enum(BUILTIN_REDACTIONS as [BuiltinRedaction, ...BuiltinRedaction[]]))]).optional(),
    patterns: z.array(z.string().min(1)).optional(),
    mask: z.string().optional(),
  })
  .refine((o) => (o.builtin !== undefined && o.builtin.length > 0) || (o.patterns !== undefined && o.patterns.length > 0), {
    message: 'give builtin, patterns or both',
  });

const EXPECTED = `{type: "redact", builtin?: "all" | array of ${BUILTIN_REDACTIONS.map((b) => `"${b}"`).join('|')}, patterns?: string[] (regexes), mask?: string} with builtin or patterns`;

// Detector bits.
const BEARER = 1;
const AWS_ID = 2;
const AWS_SECRET = 4;
const KEY = 8;
const CARD = 16;
const EMAIL = 32;

const BITS: Record<BuiltinRedaction, number> = {
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
function classTable(enabled: number): Uint8Array {
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

function cardRunText(s: string, start: number, end: number, digits: number, seps: number): boolean {
  if (seps > 0) return true;
  return digits <= 19 && luhnValid(s, start, end);
}

/** What the line's bytes could contain: a bitmask of detectors worth running. */
function scanBytes(buf: Buffer, start: number, end: number, table: Uint8Array): number {
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

/** scanBytes for a string (field values). */
function scanText(s: string, table: Uint8Array): number {
  let found = 0;
  let run = 0;
  let runStart = 0;
  let runEnd = 0;
  let seps = 0;
  let prevDigit = false;
  const end = s.length;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const k = c < 256 ? table[c] : 0;
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
        if (run >= CARD_MIN_DIGITS && cardRunText(s, runStart, runEnd, run, seps)) found |= CARD;
        run = 0;
      }
    }
    if (k === 0) continue;
    if (k === C_SEP) {
      if (c === 0x2d && s.startsWith('----', i + 1)) {
        const d = s.charCodeAt(i + 5);
        if (d === 0x42 || d === 0x45) found |= KEY;
      }
      continue;
    }
    if (k === C_AT) found |= EMAIL;
    else if (k === C_B) {
      if (i + 5 < end && lowerAt(s.charCodeAt(i + 1), 0x65) && lowerAt(s.charCodeAt(i + 2), 0x61) && lowerAt(s.charCodeAt(i + 3), 0x72) && lowerAt(s.charCodeAt(i + 4), 0x65) && lowerAt(s.charCodeAt(i + 5), 0x72)) found |= BEARER;
    } else if (k === C_A) {
      const d = s.charCodeAt(i + 1);
      if ((d === 0x4b || d === 0x53) && s.charCodeAt(i + 2) === 0x49 && s.charCodeAt(i + 3) === 0x41) found |= AWS_ID;
    } else if (i + 5 < end && lowerAt(s.charCodeAt(i + 1), 0x65) && lowerAt(s.charCodeAt(i + 2), 0x63) && lowerAt(s.charCodeAt(i + 3), 0x72) && lowerAt(s.charCodeAt(i + 4), 0x65) && lowerAt(s.charCodeAt(i + 5), 0x74)) {
      found |= AWS_SECRET;
    }
  }
  if (run >= CARD_MIN_DIGITS && cardRunText(s, runStart, runEnd, run, seps)) found |= CARD;
  return found;
}

// The detectors. All global; String#replace resets lastIndex, so sharing them is safe. None uses
// lookaround or backreferences, so V8's linear engine can take over if one ever backtracks too much.
const BEARER_RE = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const AWS_ID_RE = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
const AWS_SECRET_RE = /(aws_?secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{16,}/gi;
const KEY_RE = /(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)([\s\S]*?)(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const CARD_RE = /\b\d{1,7}(?:[ -]\d{1,7}){1,6}\b|\b\d{13,19}\b/g;
const EMAIL_RE = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b/g;
/** A line inside a PEM block logged line by line: base64, an RFC 1421 header, or blank. */
const PEM_BODY_RE = /^\s*(?:[A-Za-z0-9+/=]{1,200}|[A-Za-z-]{1,40}: [^\n]{0,200})?\s*$/;
const MAX_PEM_LINES = 200;

/** Luhn checksum over the decimal digits in s[start, end) (separators skipped). */
export function luhnValid(s: string, start = 0, end = s.length): boolean {
  let sum = 0;
  let double = false;
  let n = 0;
  for (let i = end - 1; i >= start; i--) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) continue;
    n++;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return n > 0 && sum % 10 === 0;
}

/**
 * A CARD_RE match: digit groups. Masks the longest (then leftmost) run of whole groups holding
 * 13–19 digits that passes Luhn, so `order 12 4111 1111 1111 1111` or a card followed by a year
 * still has the card masked; returns the match unchanged when no run qualifies.
 */
function maskCard(m: string, mask: string): string {
  // group boundaries
  const starts: number[] = [];
  const ends: number[] = [];
  let i = 0;
  while (i < m.length) {
    const s = i;
    while (i < m.length && m.charCodeAt(i) >= 0x30 && m.charCodeAt(i) <= 0x39) i++;
    starts.push(s);
    ends.push(i);
    i++; // separator
  }
  const g = starts.length;
  for (let len = g; len >= 1; len--) {
    for (let a = 0; a + len <= g; a++) {
      const b = a + len - 1;
      let digits = 0;
      for (let k = a; k <= b; k++) digits += ends[k] - starts[k];
      if (digits < CARD_MIN_DIGITS || digits > 19) continue;
      if (luhnValid(m, starts[a], ends[b])) return m.slice(0, starts[a]) + mask + m.slice(ends[b]);
    }
  }
  return m;
}

class RedactFilter implements Filter {
  private redacted = 0;
  private readonly enabled: number;
  private readonly table: Uint8Array;
  private readonly custom: RegExp[];
  private readonly mask: string;
  private readonly maskRepl: string;
  private readonly keepOneRepl: string;
  private readonly cardReplacer: (m: string) => string;
  private readonly keyReplacer: (m: string, begin: string, body: string, end: string) => string;
  /** Per stream (stdout, stderr): lines masked so far in a PEM block logged line by line, 0 = none. */
  private readonly inKey = [0, 0];

  constructor(
    readonly name: string,
    o: RedactOptions,
    where: string,
  ) {
    const builtins = o.builtin === 'all' ? BUILTIN_REDACTIONS : (o.builtin ?? []);
    let enabled = 0;
    for (const b of builtins) enabled |= BITS[b];
    this.enabled = enabled;
    this.table = classTable(enabled);
    this.custom = (o.patterns ?? []).map((p, i) => userRegex(p, 'g', where, `patterns[${i}]`));
    const mask = o.mask ?? '[REDACTED]';
    this.mask = mask;
    this.maskRepl = mask.replace(/\$/g, '$$$$');
    this.keepOneRepl = '$1' + this.maskRepl;
    this.cardReplacer = (m) => maskCard(m, mask);
    this.keyReplacer = (m, begin, body, end) => (body.trim() === '' ? m : begin + mask + end);
  }

  /** Masks what the enabled detectors find in s; `found` is the precheck's bitmask. */
  private redactText(s: string, found: number): string {
    if (found & BEARER) s = s.replace(BEARER_RE, this.keepOneRepl);
    if (found & AWS_ID) s = s.replace(AWS_ID_RE, this.maskRepl);
    if (found & AWS_SECRET) s = s.replace(AWS_SECRET_RE, this.keepOneRepl);
    if (found & KEY) s = s.replace(KEY_RE, this.keyReplacer);
    if (found & CARD) s = s.replace(CARD_RE, this.cardReplacer);
    if (found & EMAIL) s = s.replace(EMAIL_RE, this.maskRepl);
    for (const re of this.custom) s = s.replace(re, this.maskRepl);
    return s;
  }

  /** The line: PEM continuation state first, then the detectors. */
  private redactLine(text: string, found: number, si: number): string {
    const inKey = this.inKey[si];
    if (inKey > 0) {
      const endAt = text.indexOf('-----END ');
      if (endAt >= 0) {
        this.inKey[si] = 0;
        if (text.slice(0, endAt).trim() !== '') text = this.mask + text.slice(endAt);
      } else if (inKey <= MAX_PEM_LINES && PEM_BODY_RE.test(text)) {
        this.inKey[si] = inKey + 1;
        return text.trim() === '' ? text : this.mask;
      } else this.inKey[si] = 0;
    }
    const out = this.redactText(text, found);
    if (found & KEY) {
      // A BEGIN without its END: the body follows on the next lines of this stream.
      const begin = text.lastIndexOf('-----BEGIN ');
      if (begin >= 0 && text.lastIndexOf('-----END ') < begin && /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text.slice(begin, begin + 80))) {
        this.inKey[si] = 1;
      }
    }
    return out;
  }

  process(entry: LogEntry): LogEntry | null {
    const enabled = this.enabled;
    const hasCustom = this.custom.length > 0;
    let changed = false;
    const si = entry.source === 'stderr' ? 1 : 0;
    const found = enabled === 0 ? 0 : scanBytes(entry.buf, entry.lineStart, entry.lineEnd, this.table) & enabled;
    if (found !== 0 || hasCustom || this.inKey[si] > 0) {
      const text = entry.text();
      const out = this.redactLine(text, found, si);
      if (out !== text) {
        entry.setLine(Buffer.from(out, 'utf8'));
        changed = true;
      }
    }
    const fields = entry.fields;
    if (fields !== null) {
      for (const key in fields) {
        const v = fields[key];
        if (typeof v !== 'string') {
          // A card number parsed from JSON is a number field: mask it too.
          if (typeof v === 'number' && enabled & CARD && v >= 1e12 && v < 1e19 && Number.isInteger(v)) {
            const digits = String(v);
            if (digits.length >= CARD_MIN_DIGITS && luhnValid(digits)) {
              fields[key] = this.mask;
              changed = true;
            }
          }
          continue;
        }
        const f = enabled === 0 ? 0 : scanText(v, this.table) & enabled;
        if (f === 0 && !hasCustom) continue;
        const r = this.redactText(v, f);
        if (r !== v) {
          fields[key] = r;
          changed = true;
        }
      }
    }
    if (changed) this.redacted++;
    return entry;
  }

  stats(): Record<string, number> {
    return { redacted: this.redacted };
  }
}

export const redactFactory: FilterFactory<RedactOptions> = {
  type: 'redact',
  parseOptions(raw: unknown, where: string): RedactOptions {
    const o = parseWith(schema, raw, where, EXPECTED);
    o.patterns?.forEach((p, i) => userRegex(p, 'g', where, `patterns[${i}]`));
    return o;
  },
  create(options: RedactOptions, _ctx: FilterContext, name: string): Filter {
    return new RedactFilter(name, options, name);
  },
};
