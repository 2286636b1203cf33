import { z } from 'zod';
import type { FieldValue, LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { parseWith } from './options.js';

/**
 * `parse` turns a structured line into `entry.fields`.
 *
 *   {type: 'parse', format: 'json'|'logfmt'|'auto', levelKeys?: string[] (['level','lvl','severity','log.level']),
 *    messageKey?: string, prefix?: string}
 *
 * - json: only tried when the first non-blank byte is `{` (checked on the bytes, so other lines
 *   cost almost nothing). Nested objects are flattened with '.' (`{"http":{"status":200}}` →
 *   `http.status: 200`); arrays and null become their JSON text; numbers and booleans stay typed.
 *   (JSON numbers beyond 2^53 lose precision, as with any JSON.parse.)
 * - logfmt: `key=value key2="quoted \"value\"" key3=` (go-logfmt / logrus text format). Every
 *   token must be a key=value pair, otherwise the line is not logfmt (so `GET /a?b=1 200` is left
 *   alone). Only tried when the line starts with `key=`. Unquoted `true`/`false` and canonical
 *   numbers (`12`, `-3.5`, `1e3`) become booleans and numbers; quoted values stay strings.
 * - auto: json when the line starts with `{`, logfmt otherwise.
 * A line that does not parse is passed on unchanged and counted in `unparsed`.
 *
 * The first of `levelKeys` present sets `entry.severity` (syslog 0..7): names, case-insensitive —
 * emerg/emergency/panic 0, alert 1, crit/critical/fatal/dpanic 2, err/error/severe 3,
 * warn/warning 4, notice 5, info/informational 6, debug/trace/verbose 7 — or numbers: pino/bunyan
 * 10 trace and 20 debug → 7, 30 info → 6, 40 warn → 4, 50 error → 3, 60 fatal → 2, and 0..7 as
 * syslog severities. levelKeys name the flattened key (`log.level` is ECS's `{"log":{"level":…}}`).
 * With `messageKey` (e.g. `msg`), a string under that key becomes the line and leaves the fields.
 * `prefix` is put in front of every field name (levelKeys and messageKey are given without it).
 * Fields already on the entry are kept (parsed keys win).
 */
export interface ParseOptions {
  type: 'parse';
  format: 'json' | 'logfmt' | 'auto';
  levelKeys?: string[];
  messageKey?: string;
  prefix?: string;
}

const schema = z.strictObject({
  type: z.literal('parse'),
  format: z.enum(['json', 'logfmt', 'auto']),
  levelKeys: z.array(z.string().min(1)).optional(),
  messageKey: z.string().min(1).optional(),
  prefix: z.string().optional(),
});

const EXPECTED = '{type: "parse", format: "json"|"logfmt"|"auto", levelKeys?: string[], messageKey?: string, prefix?: string}';

const DEFAULT_LEVEL_KEYS = ['level', 'lvl', 'severity', 'log.level'];
const MAX_DEPTH = 16;

const LEVEL_NAMES = new Map<string, number>([
  ['emerg', 0],
  ['emergency', 0],
  ['panic', 0],
  ['alert', 1],
  ['crit', 2],
  ['critical', 2],
  ['fatal', 2],
  ['dpanic', 2],
  ['err', 3],
  ['error', 3],
  ['severe', 3],
  ['warn', 4],
  ['warning', 4],
  ['notice', 5],
  ['info', 6],
  ['informational', 6],
  ['information', 6],
  ['debug', 7],
  ['trace', 7],
  ['verbose', 7],
]);

/** A level value (name or number) as a syslog severity, or -1 when it is not one we know. */
export function levelToSeverity(v: FieldValue): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 7) return v;
    switch (v) {
      case 10:
      case 20:
        return 7;
      case 30:
        return 6;
      case 40:
        return 4;
      case 50:
        return 3;
      case 60:
        return 2;
    }
    return -1;
  }
  if (typeof v !== 'string' || v.length > 16) return -1;
  const known = LEVEL_NAMES.get(v) ?? LEVEL_NAMES.get(v.toLowerCase().trim());
  if (known !== undefined) return known;
  // "30" from a logfmt line is a number already; "5" as text from JSON is accepted too.
  if (/^\d{1,2}$/.test(v)) return levelToSeverity(Number(v));
  return -1;
}

function flatten(obj: Record<string, unknown>, keyPrefix: string, out: Record<string, FieldValue>, depth: number): void {
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
        else flatten(v as Record<string, unknown>, name + '.', out, depth + 1);
        break;
    }
  }
}

/**
 * No value is an object, an array or null (which flatten rewrites) and no key is `__proto__`
 * (which flatten's assignment would drop, and JSON.parse keeps as an own property).
 */
function isFlat(obj: Record<string, unknown>): boolean {
  for (const key in obj) {
    if (typeof obj[key] === 'object' || key === '__proto__') return false;
  }
  return true;
}

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isKeyChar(c: number): boolean {
  // anything visible except '=' and '"'
  return c > 0x20 && c !== 0x3d && c !== 0x22 && c !== 0x7f;
}

/** True when the line starts (after blanks) with `key=`: the cheap test before logfmt parsing. */
function startsWithPair(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  const keyStart = i;
  while (i < end && isKeyChar(buf[i])) i++;
  return i > keyStart && i < end && buf[i] === 0x3d;
}

/**
 * The keys (and prefixed field names) of the last line parsed, by position: lines from one
 * program repeat their keys, and a key found in place (compared, not sliced) is a string V8 has
 * already used as a property name, which makes storing it in the fields object much cheaper.
 * One cache per prefix (the names include it).
 */
export interface LogfmtKeyCache {
  keys: string[];
  names: string[];
}

const MAX_CACHED_KEYS = 64;

/** Parses logfmt into out (fields with prefix); false (out possibly half-filled) if it is not logfmt. */
export function parseLogfmt(s: string, out: Record<string, FieldValue>, prefix: string, cache: LogfmtKeyCache | null = null): boolean {
  const n = s.length;
  let i = 0;
  let pairs = 0;
  // Where the next backslash is at or after i (-1: none left; -2: not looked yet): a quoted value
  // without one before its closing quote is a plain slice. Kept across values, so the line is
  // searched once however many values it has.
  let backslash = -2;
  while (i < n) {
    let c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      i++;
      continue;
    }
    const keyStart = i;
    while (i < n && isKeyChar(s.charCodeAt(i))) i++;
    if (i === keyStart || i >= n || s.charCodeAt(i) !== 0x3d) return false;
    let name: string;
    const cached = cache === null || pairs >= cache.keys.length ? undefined : cache.keys[pairs];
    if (cached !== undefined && cached.length === i - keyStart && s.startsWith(cached, keyStart)) name = cache!.names[pairs];
    else {
      const key = s.slice(keyStart, i);
      name = prefix === '' ? key : prefix + key;
      if (cache !== null && pairs <= cache.keys.length && pairs < MAX_CACHED_KEYS) {
        cache.keys[pairs] = key;
        cache.names[pairs] = name;
      }
    }
    i++; // '='
    let value: FieldValue;
    if (i < n && s.charCodeAt(i) === 0x22) {
      i++;
      const close = s.indexOf('"', i);
      if (close === -1) return false; // no quote left: never closed, escapes or not
      if (backslash === -2 || (backslash !== -1 && backslash < i)) backslash = s.indexOf('\\', i);
      if (backslash === -1 || backslash > close) {
        value = s.slice(i, close);
        i = close + 1;
      } else {
        // escapes: \" \\ \n \t \r \uXXXX as in Go's strconv.Quote
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
      }
      if (i < n && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) return false;
    } else {
      const valueStart = i;
      while (i < n) {
        c = s.charCodeAt(i);
        if (c === 0x20 || c === 0x09) break;
        if (c === 0x22 || c === 0x3d) return false;
        i++;
      }
      const len = i - valueStart;
      const first = len === 0 ? 0 : s.charCodeAt(valueStart);
      if (first === 0x74 /* t */ && len === 4 && s.startsWith('true', valueStart)) value = true;
      else if (first === 0x66 /* f */ && len === 5 && s.startsWith('false', valueStart)) value = false;
      else {
        const raw = s.slice(valueStart, i);
        // NUMBER_RE only where it can match: a digit or '-' first
        value = len > 0 && len < 24 && ((first >= 0x30 && first <= 0x39) || first === 0x2d) && NUMBER_RE.test(raw) ? Number(raw) : raw;
      }
    }
    out[name] = value;
    pairs++;
  }
  return pairs > 0;
}

class ParseFilter implements Filter {
  private parsed = 0;
  private unparsed = 0;
  private readonly json: boolean;
  private readonly logfmt: boolean;
  private readonly levelKeys: string[];
  private readonly messageKey: string | null;
  private readonly prefix: string;
  private readonly keyCache: LogfmtKeyCache = { keys: [], names: [] };

  constructor(
    readonly name: string,
    o: ParseOptions,
  ) {
    this.json = o.format !== 'logfmt';
    this.logfmt = o.format !== 'json';
    this.prefix = o.prefix ?? '';
    this.levelKeys = (o.levelKeys ?? DEFAULT_LEVEL_KEYS).map((k) => this.prefix + k);
    this.messageKey = o.messageKey === undefined ? null : this.prefix + o.messageKey;
  }

  process(entry: LogEntry): LogEntry | null {
    const buf = entry.buf;
    const end = entry.lineEnd;
    let i = entry.lineStart;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    let fields: Record<string, FieldValue> | null = null;
    if (i < end && buf[i] === 0x7b /* { */) {
      if (this.json) fields = this.parseJson(entry);
    } else if (this.logfmt && startsWithPair(buf, i, end)) {
      const out: Record<string, FieldValue> = {};
      if (parseLogfmt(entry.text(), out, this.prefix, this.keyCache)) fields = out;
    }
    if (fields === null) {
      this.unparsed++;
      return entry;
    }
    this.parsed++;
    const levelKeys = this.levelKeys;
    for (let k = 0; k < levelKeys.length; k++) {
      const v = fields[levelKeys[k]];
      if (v === undefined) continue;
      const severity = levelToSeverity(v);
      if (severity >= 0) entry.severity = severity;
      break;
    }
    if (this.messageKey !== null) {
      const message = fields[this.messageKey];
      if (typeof message === 'string') {
        entry.setLine(Buffer.from(message, 'utf8'));
        delete fields[this.messageKey];
      }
    }
    if (entry.fields === null) entry.fields = fields;
    else Object.assign(entry.fields, fields);
    return entry;
  }

  private parseJson(entry: LogEntry): Record<string, FieldValue> | null {
    let value: unknown;
    try {
      value = JSON.parse(entry.text());
    } catch {
      return null;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const obj = value as Record<string, unknown>;
    // A flat object (most pino/zap/bunyan lines) without a prefix: flatten would copy it key for
    // key, in the same order; the parsed object is fresh and ours, so it is the fields object.
    if (this.prefix === '' && isFlat(obj)) return obj as Record<string, FieldValue>;
    const out: Record<string, FieldValue> = {};
    flatten(obj, this.prefix, out, 0);
    return out;
  }

  stats(): Record<string, number> {
    return { parsed: this.parsed, unparsed: this.unparsed };
  }
}

export const parseFactory: FilterFactory<ParseOptions> = {
  type: 'parse',
  parseOptions(raw: unknown, where: string): ParseOptions {
    return parseWith(schema, raw, where, EXPECTED);
  },
  create(options: ParseOptions, _ctx: FilterContext, name: string): Filter {
    return new ParseFilter(name, options);
  },
};
