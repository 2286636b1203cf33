import { z } from 'zod';
import type { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { FLAGS, parseWith, userRegex } from './options.js';

/**
 * `include` keeps only the entries that match, `exclude` drops the entries that match.
 *
 *   {type: 'include'|'exclude', pattern?: string, flags?: string, field?: string, stream?: 'stdout'|'stderr'}
 *
 * An entry matches when its stream is `stream` (if given) and `pattern` (if given) finds a match in
 * the line, or in `String(entry.fields[field])` when `field` is given (an entry without that field
 * does not match). At least one of pattern and stream is required.
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

function expected(type: string): string {
  return `{type: "${type}", pattern?: string (regex), flags?: string ("i", "m", "s", "u"), field?: string, stream?: "stdout"|"stderr"} with pattern or stream`;
}

class IncludeExcludeFilter implements Filter {
  private dropped = 0;
  private readonly keepWhenMatched: boolean;
  private readonly stream: string | null;
  private readonly regex: RegExp | null;
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
  }

  private matches(entry: LogEntry): boolean {
    if (this.stream !== null && entry.source !== this.stream) return false;
    const re = this.regex;
    if (re === null) return true;
    if (this.field === null) return re.test(entry.text());
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
