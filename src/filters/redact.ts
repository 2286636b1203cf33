import { z } from 'zod';
import type { FieldValue, LogEntry } from '../docker/log-entry.js';
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
 * Cost: the line is decoded once (entry.text(), shared with the other filters) and prechecked
 * with native string search (RedactPrecheck): one regex for the markers of bearer, AWS and PEM
 * (`bearer` and `secret` in any case, `AKIA`/`ASIA`, `-----BEGIN`/`-----END`), indexOf('@'),
 * and for cards a look at every 13th character for a run of 13+ digits (contiguous runs are
 * Luhn-checked right there, so epoch-millisecond timestamps and long ids do not count).
 * Only the detectors the precheck names run, and only a line that changed is re-encoded
 * (`entry.setLine`); a line with nothing found is passed on as the same bytes. User patterns
 * have no precheck: each runs on every line.
 */
export type BuiltinRedaction = 'bearer' | 'aws-access-key' | 'private-key' | 'credit-card' | 'email';
export const BUILTIN_REDACTIONS: readonly BuiltinRedaction[] = ['bearer', 'aws-access-key', 'private-key', 'credit-card', 'email'];

export interface RedactOptions {
  type: 'redact';
  builtin?: 'all' | BuiltinRedaction[];
  patterns?: string[];
  mask?: string;
  /**
   * false: run every enabled detector on every line and field, skipping the prechecks (for tests,
   * which compare the two; not accepted from configuration).
   */
  precheck?: boolean;
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

/**
 * A run of 13+ digits (single spaces/dashes allowed between them) ended: worth running the card
 * detector? A contiguous run is decided here (13–19 digits passing Luhn), so epoch-millisecond
 * timestamps and long ids do not make every JSON line go through the regexes; a run with
 * separators goes to the detector, which tries its groups.
 */
function cardRunText(s: string, start: number, end: number, digits: number, seps: number): boolean {
  if (seps > 0) return true;
  return digits <= 19 && luhnValid(s, start, end);
}

/**
 * The exact scan: one pass over s with the class table, a bitmask of the detectors worth running
 * (bearer/AWS/PEM markers, '@', card-like digit runs). RedactPrecheck gets the same answer cheaper
 * for all but short strings; this is what it falls back to when a marker is present.
 */
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

/** Digit/separator classes for the card test (index: char code < 0x3a): 1 a digit, 2 ' ' or '-'. */
const DIGIT_SEP = new Uint8Array(0x3a);
for (let c = 0x30; c <= 0x39; c++) DIGIT_SEP[c] = 1;
DIGIT_SEP[0x20] = 2;
DIGIT_SEP[0x2d] = 2;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function digitOrSep(c: number): boolean {
  return c < 0x3a && DIGIT_SEP[c] !== 0;
}

/** 2d with its digits summed, for Luhn: DOUBLE[d] for d in 0..9. */
const DOUBLE = Uint8Array.of(0, 2, 4, 6, 8, 1, 3, 5, 7, 9);

/**
 * scanText's digit-run logic on s[a, b), which holds only digits and separators, with the Luhn
 * sum of a contiguous run kept on the way (for either parity of its length, as the doubled digits
 * are counted from its end) instead of a second pass.
 */
function cardInStretch(s: string, a: number, b: number): boolean {
  let run = 0;
  let seps = 0;
  let prevDigit = false;
  let even = 0; // Luhn sum if the run's length is even: digits 0, 2, 4… from its start doubled
  let odd = 0; // … if it is odd: digits 1, 3, 5… doubled
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x2d) {
      const d = c - 0x30;
      if (run === 0) {
        seps = 0;
        even = 0;
        odd = 0;
      } else if (!prevDigit) seps++;
      if ((run & 1) === 0) {
        even += DOUBLE[d];
        odd += d;
      } else {
        even += d;
        odd += DOUBLE[d];
      }
      run++;
      prevDigit = true;
      continue;
    }
    if (run !== 0) {
      if (prevDigit) prevDigit = false;
      else {
        if (cardRun(run, seps, even, odd)) return true;
        run = 0;
      }
    }
  }
  return cardRun(run, seps, even, odd);
}

/** cardRunText for a run whose Luhn sums cardInStretch kept. */
function cardRun(digits: number, seps: number, even: number, odd: number): boolean {
  if (digits < CARD_MIN_DIGITS) return false;
  if (seps > 0) return true;
  return digits <= 19 && ((digits & 1) === 0 ? even : odd) % 10 === 0;
}

/**
 * scanText's CARD bit without visiting every character. A run of 13+ digits spans at least 13
 * characters that are all digits or separators, so looking at every 13th character finds every
 * candidate: a digit, or a separator between two digits. Around one, the stretch of digits and
 * separators is measured and, when it is long enough, scanned exactly as scanText does (a
 * contiguous run still has to pass Luhn). Letters, punctuation, blanks between words and short
 * numbers (timestamps, IPs, ids) are mostly skipped 13 characters at a time.
 */
function cardInText(s: string): boolean {
  const n = s.length;
  let p = CARD_MIN_DIGITS - 1;
  while (p < n) {
    const c = s.charCodeAt(p);
    // Not a digit, and not a separator between two digits (the only place one is inside a run).
    if (c >= 0x3a || (DIGIT_SEP[c] !== 1 && (DIGIT_SEP[c] === 0 || !isDigit(s.charCodeAt(p - 1)) || !isDigit(s.charCodeAt(p + 1))))) {
      p += CARD_MIN_DIGITS;
      continue;
    }
    // A run through p spans 13+ characters, so it reaches p + 6 or, ending before, p - 7: when
    // neither is a digit or separator (a timestamp, an IP), there is none.
    if (!digitOrSep(s.charCodeAt(p + 6)) && (p < 7 || !digitOrSep(s.charCodeAt(p - 7)))) {
      p += CARD_MIN_DIGITS;
      continue;
    }
    let a = p;
    while (a > 0 && digitOrSep(s.charCodeAt(a - 1))) a--;
    let b = p + 1;
    while (b < n && digitOrSep(s.charCodeAt(b))) b++;
    if (b - a >= CARD_MIN_DIGITS && cardInStretch(s, a, b)) return true;
    // s[b] is neither: the next run starts at b + 1 or later and covers b + 13.
    p = b + CARD_MIN_DIGITS;
  }
  return false;
}

/** Strings shorter than this (short field values) go straight to scanText: it beats the native calls there. */
const SHORT_TEXT = 8;

/**
 * What a string could contain, as a bitmask of the enabled detectors worth running: always the
 * same answer as scanText (tests check it against the byte scan this replaced), computed with
 * native string search where that is cheaper. One regex (Boyer-Moore skipping, no '@' in it) looks
 * for the markers of bearer, AWS and PEM; a rare line that has one is scanned by scanText. '@' is
 * one indexOf, card runs cardInText.
 */
export class RedactPrecheck {
  readonly enabled: number;
  private readonly table: Uint8Array;
  private readonly markers: RegExp | null;

  constructor(builtins: readonly BuiltinRedaction[]) {
    let enabled = 0;
    for (const b of builtins) enabled |= BITS[b];
    this.enabled = enabled;
    this.table = classTable(enabled);
    const parts: string[] = [];
    if (enabled & BEARER) parts.push('[bB][eE][aA][rR][eE][rR]');
    if (enabled & AWS_ID) parts.push('A[KS]IA');
    if (enabled & AWS_SECRET) parts.push('[sS][eE][cC][rR][eE][tT]');
    if (enabled & KEY) parts.push('-----[BE]');
    this.markers = parts.length === 0 ? null : new RegExp(parts.join('|'));
  }

  scan(s: string): number {
    const enabled = this.enabled;
    if (enabled === 0) return 0;
    if (s.length < SHORT_TEXT || (this.markers !== null && this.markers.test(s))) return scanText(s, this.table) & enabled;
    let found = 0;
    if (enabled & EMAIL && s.indexOf('@') !== -1) found = EMAIL;
    if (enabled & CARD && cardInText(s)) found |= CARD;
    return found;
  }
}

/** The detector bits RedactPrecheck.scan returns (for tests). */
export const DETECTOR_BITS = { bearer: BEARER, awsId: AWS_ID, awsSecret: AWS_SECRET, privateKey: KEY, creditCard: CARD, email: EMAIL } as const;

/**
 * A number field holding a Luhn-valid 13–19 digit integer (a card number parsed from JSON)? Safe
 * integers are checked arithmetically; larger ones through String(v), as JSON would print them.
 */
function cardNumber(v: number): boolean {
  if (!(v >= 1e12 && v < 1e19) || !Number.isInteger(v)) return false;
  if (v > Number.MAX_SAFE_INTEGER) {
    const digits = String(v);
    return digits.length >= CARD_MIN_DIGITS && luhnValid(digits);
  }
  // In two int32 halves (exact below 2^53): the low 8 digits, zeros included, then the rest.
  const high = Math.floor(v / 1e8);
  let low = v - high * 1e8;
  let sum = 0;
  for (let k = 0; k < 8; k++) {
    const d = low % 10;
    low = (low - d) / 10;
    sum += (k & 1) === 0 ? d : DOUBLE[d];
  }
  let x = high;
  for (let k = 0; x > 0; k++) {
    const d = x % 10;
    x = (x - d) / 10;
    sum += (k & 1) === 0 ? d : DOUBLE[d];
  }
  return sum % 10 === 0;
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
  /** null: every enabled detector runs on every line (the `precheck: false` test option). */
  private readonly precheck: RedactPrecheck | null;
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
    const precheck = new RedactPrecheck(o.builtin === 'all' ? BUILTIN_REDACTIONS : (o.builtin ?? []));
    this.enabled = precheck.enabled;
    this.precheck = o.precheck === false ? null : precheck;
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
    const precheck = this.precheck;
    let changed = false;
    const si = entry.source === 'stderr' ? 1 : 0;
    // The text is decoded once per entry and shared with the other filters (parse, include…).
    const text = entry.text();
    const found = precheck === null ? enabled : precheck.scan(text);
    if (found !== 0 || hasCustom || this.inKey[si] > 0) {
      const out = this.redactLine(text, found, si);
      if (out !== text) {
        entry.setLine(Buffer.from(out, 'utf8'));
        changed = true;
      }
    }
    const fields = entry.fields;
    if (fields !== null && this.redactFields(fields)) changed = true;
    if (changed) this.redacted++;
    return entry;
  }

  /** The string values of `fields` (and card numbers in number fields); true when one changed. */
  private redactFields(fields: Record<string, FieldValue>): boolean {
    const enabled = this.enabled;
    const precheck = this.precheck;
    const card = (enabled & CARD) !== 0;
    let full = precheck === null || this.custom.length > 0;
    let cardNumbers = false;
    if (!full) {
      // One precheck for all string values, joined with '\n': no marker holds one and it ends
      // any digit run, so the joined text has exactly what the values have between them. Most
      // entries have nothing, and then only number fields can change.
      let joined = '';
      let strings = 0;
      for (const key in fields) {
        const v = fields[key];
        if (typeof v === 'string') {
          joined = strings === 0 ? v : joined + '\n' + v;
          strings++;
        } else if (card && typeof v === 'number' && v >= 1e12) cardNumbers = true;
      }
      full = strings > 0 && precheck!.scan(joined) !== 0;
      if (!full && !cardNumbers) return false;
    }
    let changed = false;
    for (const key in fields) {
      const v = fields[key];
      if (typeof v !== 'string') {
        // A card number parsed from JSON is a number field: mask it too.
        if (typeof v === 'number' && card && cardNumber(v)) {
          fields[key] = this.mask;
          changed = true;
        }
        continue;
      }
      if (!full) continue;
      const f = precheck === null ? enabled : precheck.scan(v);
      if (f === 0 && this.custom.length === 0) continue;
      const r = this.redactText(v, f);
      if (r !== v) {
        fields[key] = r;
        changed = true;
      }
    }
    return changed;
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
