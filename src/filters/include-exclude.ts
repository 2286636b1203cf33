import { z } from 'zod';
import type { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { ByteLiteral } from './byte-search.js';
import { FLAGS, parseWith, userRegex } from './options.js';

/**
 * `include` keeps only the entries that match, `exclude` drops the entries that match.
 *
 *   {type: 'include'|'exclude', pattern?: string, flags?: string, field?: string, stream?: 'stdout'|'stderr'}
 *
 * An entry matches when its stream is `stream` (if given) and `pattern` (if given) finds a match in
 * the line, or in `String(entry.fields[field])` when `field` is given (an entry without that field
 * does not match). At least one of pattern and stream is required.
 *
 * A pattern that is a plain string (no regex syntax, or only `\`-escaped punctuation such as
 * `\.`), the common `GET /healthz` case, is searched for in the line's bytes without decoding
 * them (see literalPattern); with the `i` flag only when it is ASCII.
 */
export interface IncludeExcludeOptions {
  type: 'include' | 'exclude';
  pattern?: string;
  flags?: string;
  field?: string;
  stream?: 'stdout' | 'stderr';
}

const schema = z
  .strictObject({
    type: z.enum(['include', 'exclude']),
    pattern: z.string().optional(),
    flags: FLAGS.optional(),
    field: z.string().min(1).optional(),
    stream: z.enum(['stdout', 'stderr']).optional(),
  })
  .refine((o) => o.pattern !== undefined || o.stream !== undefined, { message: 'give pattern, stream or both' })
  .refine((o) => o.pattern !== undefined || (o.field === undefined && o.flags === undefined), {
    message: 'field and flags only apply together with pattern',
  });

const SYNTAX = '^$\\.*+?()[]{}|';
/** Characters a `\` may escape in a literal: outside a class each stands for itself. */
const ESCAPABLE = '^$\\.*+?()[]{}|/-';

/**
 * The string a pattern matches when it is one (no regex syntax; `\` only before punctuation), or
 * null. Then the regex matches a decoded line exactly when the line's UTF-8 bytes contain the
 * string's: UTF-8 is self-synchronising and the decoder turns only invalid bytes (never ASCII, never
 * a valid character) into U+FFFD, so patterns holding U+FFFD or a lone surrogate, which could match
 * differently, are not literals (a surrogate pair, one character beyond U+FFFF, is). Flags m and s change nothing here (no ^ $ .).
 */
export function literalPattern(pattern: string): string | null {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || !ESCAPABLE.includes(next)) return null;
      out += next;
      i++;
      continue;
    }
    if (SYNTAX.includes(ch)) return null;
    const c = ch.charCodeAt(0);
    if (c === 0xfffd) return null;
    if (c >= 0xd800 && c <= 0xdfff) {
      // a character beyond U+FFFF is a surrogate pair: fine; a lone surrogate is not
      const d = pattern.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return null;
      out += pattern.slice(i, i + 2);
      i++;
      continue;
    }
    out += ch;
  }
  return out;
}

/** The byte search that decides the same as `userRegex(pattern, flags)` on the line, or null. */
export function literalSearch(pattern: string, flags: string): ByteLiteral | null {
  const lit = literalPattern(pattern);
  if (lit === null) return null;
  if (!flags.includes('i')) return new ByteLiteral(Buffer.from(lit, 'utf8'));
  // Case-folded (options.ts foldCase) an ASCII letter matches only its two ASCII cases.
  if (!/^[\x00-\x7f]*$/.test(lit)) return null;
  return new ByteLiteral(Buffer.from(lit, 'latin1'), true);
}

function expected(type: string): string {
  return `{type: "${type}", pattern?: string (regex), flags?: string ("i", "m", "s", "u"), field?: string, stream?: "stdout"|"stderr"} with pattern or stream`;
}

class IncludeExcludeFilter implements Filter {
  private dropped = 0;
  private readonly keepWhenMatched: boolean;
  private readonly stream: string | null;
  private readonly regex: RegExp | null;
  /** The pattern as a byte search on the line (see literalSearch), when it is a plain string. */
  private readonly literal: ByteLiteral | null;
  private readonly field: string | null;

  constructor(
    readonly name: string,
    o: IncludeExcludeOptions,
    where: string,
  ) {
    this.keepWhenMatched = o.type === 'include';
    this.stream = o.stream ?? null;
    this.regex = o.pattern === undefined ? null : userRegex(o.pattern, o.flags ?? '', where, 'pattern');
    this.field = o.field ?? null;
    this.literal = o.pattern === undefined || this.field !== null ? null : literalSearch(o.pattern, o.flags ?? '');
  }

  private matches(entry: LogEntry): boolean {
    if (this.stream !== null && entry.source !== this.stream) return false;
    const re = this.regex;
    if (re === null) return true;
    if (this.field === null) {
      const lit = this.literal;
      return lit !== null ? lit.test(entry.buf, entry.lineStart, entry.lineEnd) : re.test(entry.text());
    }
    const fields = entry.fields;
    if (fields === null) return false;
    const v = fields[this.field];
    if (v === undefined) return false;
    return re.test(typeof v === 'string' ? v : String(v));
  }

  process(entry: LogEntry): LogEntry | null {
    if (this.matches(entry) === this.keepWhenMatched) return entry;
    this.dropped++;
    return null;
  }

  stats(): Record<string, number> {
    return { dropped: this.dropped };
  }
}

function factory(type: 'include' | 'exclude'): FilterFactory<IncludeExcludeOptions> {
  return {
    type,
    parseOptions(raw: unknown, where: string): IncludeExcludeOptions {
      const o = parseWith(schema, raw, where, expected(type));
      if (o.type !== type) throw new Error(`${where}: type: expected "${type}", got "${o.type}"`);
      // Compile now so a bad or unsafe pattern is reported at config time.
      if (o.pattern !== undefined) userRegex(o.pattern, o.flags ?? '', where, 'pattern');
      return o;
    },
    create(options: IncludeExcludeOptions, _ctx: FilterContext, name: string): Filter {
      return new IncludeExcludeFilter(name, options, name);
    },
  };
}

export const includeFactory = factory('include');
export const excludeFactory = factory('exclude');
