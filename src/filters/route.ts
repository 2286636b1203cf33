import { z } from 'zod';
import type { ContainerInfo } from '../docker/container-info.js';
import type { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { FilterConfigError, parseWith, userRegex } from './options.js';

/**
 * Conditions: which containers a pipeline-file rule applies to, and which entries a sink gets.
 *
 *   {stream?: 'stdout'|'stderr', name?: regex, image?: regex, labels?: {label: regex},
 *    fields?: {field: regex}, line?: regex}
 *
 * Every part given must hold (AND). `name` is tested against the container name without Docker's
 * leading '/', `image` against ContainerImageName, `labels.X` against label X's value (a container
 * without label X does not match), `fields.X` against String(entry.fields[X]) (an entry without
 * field X does not match), `line` against the line text. Regexes are unanchored (use ^…$) and go
 * through compileSafeRegex.
 *
 * name, image and labels are constant for a container: a compiled condition evaluates them once
 * per container (`matchesContainer`), and only stream, fields and line per entry.
 *
 * The `route` filter, `{type: 'route', when: Condition}`, passes the entries that match and drops
 * the others, counting them in `routedAway` (routing, not loss). Its log-opt form is
 * `route-<sink>=stream=stderr&&field.level=^error$&&label.tier=prod&&name=^api`:
 * parts joined by `&&`, each `key=value` split at its first '=', keys stream, name, image, line,
 * label.NAME and field.NAME; blanks around parts are trimmed (a regex cannot contain `&&`).
 */
export interface Condition {
  stream?: 'stdout' | 'stderr';
  name?: string;
  image?: string;
  labels?: Record<string, string>;
  fields?: Record<string, string>;
  line?: string;
}

export const conditionSchema = z.strictObject({
  stream: z.enum(['stdout', 'stderr']).optional(),
  name: z.string().optional(),
  image: z.string().optional(),
  labels: z.record(z.string().min(1), z.string()).optional(),
  fields: z.record(z.string().min(1), z.string()).optional(),
  line: z.string().optional(),
});

const CONDITION_FORM = '{stream?: "stdout"|"stderr", name?: regex, image?: regex, labels?: {label: regex}, fields?: {field: regex}, line?: regex}';
const STRING_FORM = 'parts joined by &&, each stream=stdout|stderr, name=REGEX, image=REGEX, line=REGEX, label.NAME=REGEX or field.NAME=REGEX';

interface Pair {
  key: string;
  re: RegExp;
}

/** A condition with its regexes compiled. */
export class CompiledCondition {
  readonly stream: string | null;
  private readonly name: RegExp | null;
  private readonly image: RegExp | null;
  private readonly labels: Pair[];
  private readonly fields: Pair[];
  private readonly line: RegExp | null;

  constructor(cond: Condition, where: string) {
    const re = (p: string | undefined, key: string) => (p === undefined ? null : userRegex(p, '', where, key));
    this.stream = cond.stream ?? null;
    this.name = re(cond.name, 'name');
    this.image = re(cond.image, 'image');
    this.labels = Object.entries(cond.labels ?? {}).map(([key, p]) => ({ key, re: userRegex(p, '', where, `labels.${key}`) }));
    this.fields = Object.entries(cond.fields ?? {}).map(([key, p]) => ({ key, re: userRegex(p, '', where, `fields.${key}`) }));
    this.line = re(cond.line, 'line');
  }

  /** Whether the per-entry parts (stream, fields, line) are all absent. */
  get containerOnly(): boolean {
    return this.stream === null && this.fields.length === 0 && this.line === null;
  }

  /** name, image and labels against the container. */
  matchesContainer(info: ContainerInfo): boolean {
    if (this.name !== null) {
      const name = info.ContainerName.startsWith('/') ? info.ContainerName.slice(1) : info.ContainerName;
      if (!this.name.test(name)) return false;
    }
    if (this.image !== null && !this.image.test(info.ContainerImageName ?? '')) return false;
    if (this.labels.length > 0) {
      const labels = info.ContainerLabels ?? {};
      for (const { key, re } of this.labels) {
        const v = Object.hasOwn(labels, key) ? labels[key] : undefined;
        if (typeof v !== 'string' || !re.test(v)) return false;
      }
    }
    return true;
  }

  /** stream, fields and line against an entry (cheap parts first; the line is decoded last). */
  matchesEntry(entry: LogEntry): boolean {
    if (this.stream !== null && entry.source !== this.stream) return false;
    const pairs = this.fields;
    if (pairs.length > 0) {
      const fields = entry.fields;
      if (fields === null) return false;
      for (let i = 0; i < pairs.length; i++) {
        const v = fields[pairs[i].key];
        if (v === undefined || !pairs[i].re.test(typeof v === 'string' ? v : String(v))) return false;
      }
    }
    return this.line === null || this.line.test(entry.text());
  }
}

const compiled = new WeakMap<Condition, CompiledCondition>();

/** Compiles a condition (cached per condition object). Throws naming `where` on a bad regex. */
export function compileCondition(cond: Condition, where = 'condition'): CompiledCondition {
  let c = compiled.get(cond);
  if (c === undefined) {
    c = new CompiledCondition(cond, where);
    compiled.set(cond, c);
  }
  return c;
}

/** Whether the container-level parts of `cond` (name, image, labels) hold for this container. */
export function matchesContainer(cond: Condition, info: ContainerInfo, where = 'condition'): boolean {
  return compileCondition(cond, where).matchesContainer(info);
}

/** Validates a condition object (structure and regexes). */
export function parseCondition(raw: unknown, where: string): Condition {
  const cond = parseWith(conditionSchema, raw, where, CONDITION_FORM);
  compileCondition(cond, where);
  return cond;
}

/** The log-opt form `stream=stderr&&field.level=^error$&&label.tier=prod&&name=^api`. */
export function parseConditionString(text: string, where: string): Condition {
  const cond: Condition = {};
  const fail = (problem: string): never => {
    throw new FilterConfigError(`${where}: ${problem} (expected ${STRING_FORM})`);
  };
  if (text.trim() === '') fail('empty condition');
  const seen = new Set<string>();
  for (const rawPart of text.split('&&')) {
    const part = rawPart.trim();
    if (part === '') fail(`empty part in ${JSON.stringify(text)}`);
    const eq = part.indexOf('=');
    if (eq <= 0) fail(`${JSON.stringify(part)} is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (value === '') fail(`${key}: empty value`);
    if (seen.has(key)) fail(`${key} given twice`);
    seen.add(key);
    if (key === 'stream') {
      if (value !== 'stdout' && value !== 'stderr') fail(`stream must be stdout or stderr, not ${JSON.stringify(value)}`);
      cond.stream = value as 'stdout' | 'stderr';
    } else if (key === 'name' || key === 'image' || key === 'line') {
      cond[key] = value;
    } else if (key.startsWith('label.') && key.length > 'label.'.length) {
      (cond.labels ??= {})[key.slice('label.'.length)] = value;
    } else if (key.startsWith('field.') && key.length > 'field.'.length) {
      (cond.fields ??= {})[key.slice('field.'.length)] = value;
    } else {
      fail(`unknown key ${JSON.stringify(key)}`);
    }
  }
  compileCondition(cond, where);
  return cond;
}

export interface RouteOptions {
  type: 'route';
  when: Condition;
}

const routeSchema = z.strictObject({ type: z.literal('route'), when: conditionSchema });

class RouteFilter implements Filter {
  private routedAway = 0;
  private readonly cond: CompiledCondition | null;
  private readonly container: boolean;

  constructor(
    readonly name: string,
    cond: CompiledCondition,
    info: ContainerInfo,
  ) {
    this.container = cond.matchesContainer(info);
    this.cond = cond.containerOnly ? null : cond;
  }

  process(entry: LogEntry): LogEntry | null {
    if (this.container && (this.cond === null || this.cond.matchesEntry(entry))) return entry;
    this.routedAway++;
    return null;
  }

  stats(): Record<string, number> {
    return { routedAway: this.routedAway };
  }
}

export const routeFactory: FilterFactory<RouteOptions> = {
  type: 'route',
  parseOptions(raw: unknown, where: string): RouteOptions {
    const o = parseWith(routeSchema, raw, where, `{type: "route", when: ${CONDITION_FORM}}`);
    compileCondition(o.when, `${where}: when`);
    return o;
  },
  create(options: RouteOptions, ctx: FilterContext, name: string): Filter {
    return new RouteFilter(name, compileCondition(options.when, name), ctx.info);
  },
};
