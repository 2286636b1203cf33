import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { FieldValue, LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { FilterConfigError, monotonicMs, parseWith } from './options.js';

/**
 * User filter modules: JavaScript files in the directory the host-wide pipeline file names
 * (`modules:`). They are never loaded from per-container options: a log-opt or a spec can only
 * refer by file name to a module that the host configuration already loaded.
 *
 *   {type: 'module', module: 'add-hostname.mjs', options?: anything}
 *
 * A module's default export (or its export named `createFilter`) is
 *
 *   (options, context: {containerId, containerName, image, labels}) => (record) => record | null
 *
 * called once per container start (and again on reload) with the spec's `options`; the function it
 * returns is called once per line, synchronously, with a plain record
 *
 *   {line: string, stream: 'stdout'|'stderr', time: Date, fields: {…}, severity: number}
 *
 * (fields is a copy of the entry's fields, `{}` when there are none; severity is -1 or syslog 0..7)
 * and returns the record — the same object changed in place, or a new one — to pass the line on,
 * or null to drop it (counted in `dropped`). Returning undefined keeps the record as changed in
 * place. Changes to line, stream, time (millisecond precision), fields (string, number and boolean
 * values; others are JSON-encoded) and severity are applied to the entry. A function that throws,
 * returns a promise or something that is not a record does not stop the container's logs: the line
 * passes on unchanged, `errors` is counted, and the error is logged at most once a second.
 *
 * import() is asynchronous and filters are created synchronously at container start, so modules
 * are loaded beforehand, when the configuration is read: `loadFilterModules(dir, names)`. A module
 * changed on disk is imported afresh at the next load (reload).
 */
export interface FilterRecord {
  line: string;
  stream: 'stdout' | 'stderr';
  time: Date;
  fields: Record<string, FieldValue>;
  severity: number;
}

export interface FilterModuleContext {
  containerId: string;
  /** Without Docker's leading '/'. */
  containerName: string;
  image: string;
  labels: Readonly<Record<string, string>>;
}

export type FilterFunction = (record: FilterRecord) => FilterRecord | null | undefined;
export type CreateFilter = (options: unknown, context: FilterModuleContext) => FilterFunction;

export interface ModuleFilterOptions {
  type: 'module';
  module: string;
  options?: unknown;
}

interface LoadedModule {
  readonly name: string;
  readonly file: string;
  readonly createFilter: CreateFilter;
}

/** Modules loaded by the last successful loadFilterModules call, by name. */
let loaded = new Map<string, LoadedModule>();

const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs'];

/** Refuses anything but a plain file name (or relative path) inside the modules directory. */
export function checkModuleName(name: string, where: string): void {
  const fail = (problem: string): never => {
    throw new FilterConfigError(`${where}: module: ${JSON.stringify(name)} ${problem} (expected the file name of a module in the filter modules directory, e.g. "add-hostname.mjs")`);
  };
  if (name === '' || name.includes('\0')) fail('is not a file name');
  if (path.isAbsolute(name) || /^[a-zA-Z]:|^[\\/]/.test(name)) fail('is an absolute path');
  if (name.split(/[\\/]/).includes('..')) fail('contains ".."');
  if (!MODULE_EXTENSIONS.includes(path.extname(name))) fail(`does not end in ${MODULE_EXTENSIONS.join(', ')}`);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Imports the named modules from `dir` (the host-wide configuration's modules directory) and makes
 * them available to `module` filter specs. Rejects with a message naming the file when a name
 * escapes the directory (also through a symlink), the file is missing or does not export a
 * filter. The modules loaded replace those of the previous call (a changed configuration cannot
 * keep using modules from a directory it no longer names). Returns one factory per module name
 * (each also reachable as `{type: 'module', module}`).
 */
export async function loadFilterModules(dir: string, names: Iterable<string>): Promise<Map<string, FilterFactory<ModuleFilterOptions>>> {
  const out = new Map<string, FilterFactory<ModuleFilterOptions>>();
  const next = new Map<string, LoadedModule>();
  let realDir: string;
  try {
    realDir = await fs.promises.realpath(dir);
    if (!(await fs.promises.stat(realDir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new FilterConfigError(`${dir}: cannot use as the filter modules directory: ${describe(err)}`);
  }
  for (const name of new Set(names)) {
    checkModuleName(name, dir);
    const file = path.resolve(realDir, name);
    let real: string;
    let mtime: number;
    try {
      real = await fs.promises.realpath(file);
      const stat = await fs.promises.stat(real);
      if (!stat.isFile()) throw new Error('not a regular file');
      mtime = stat.mtimeMs;
    } catch (err) {
      throw new FilterConfigError(`${file}: cannot load filter module: ${describe(err)}`);
    }
    const rel = path.relative(realDir, real);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new FilterConfigError(`${file}: filter module resolves to ${real}, outside ${realDir}`);
    let mod: Record<string, unknown>;
    try {
      // The mtime in the URL makes a changed file a new module on reload (import() caches by URL).
      mod = (await import(`${pathToFileURL(real).href}?mtime=${Math.floor(mtime)}`)) as Record<string, unknown>;
    } catch (err) {
      throw new FilterConfigError(`${file}: cannot load filter module: ${describe(err)}`);
    }
    const def = mod.default as Record<string, unknown> | ((...args: unknown[]) => unknown) | undefined;
    const createFilter =
      typeof def === 'function' ? def : typeof mod.createFilter === 'function' ? mod.createFilter : def !== undefined && def !== null && typeof def.createFilter === 'function' ? def.createFilter : undefined;
    if (typeof createFilter !== 'function') {
      throw new FilterConfigError(`${file}: a filter module must export default (or as createFilter) a function (options, context) => (record) => record | null`);
    }
    const entry: LoadedModule = { name, file: real, createFilter: createFilter as CreateFilter };
    next.set(name, entry);
    out.set(name, boundFactory(entry));
  }
  // All or nothing: a failed load keeps the previous set (the running configuration stays).
  loaded = next;
  return out;
}

/** The modules loaded so far, by name. */
export function loadedFilterModules(): ReadonlySet<string> {
  return new Set(loaded.keys());
}

/** Forgets every loaded module (tests). */
export function unloadFilterModules(): void {
  loaded = new Map();
}

const schema = z.strictObject({
  type: z.literal('module'),
  module: z.string().min(1),
  options: z.unknown().optional(),
});
const EXPECTED = '{type: "module", module: string (file name in the filter modules directory), options?: any}';

const LOG_EVERY_MS = 1000;

function sanitizeFields(raw: unknown): Record<string, FieldValue> | null {
  if (raw === null || typeof raw !== 'object') return null;
  let out: Record<string, FieldValue> | null = null;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    let value: FieldValue;
    if (typeof v === 'string' || typeof v === 'boolean') value = v;
    else if (typeof v === 'number') value = Number.isFinite(v) ? v : String(v);
    else if (v === undefined || v === null || typeof v === 'function' || typeof v === 'symbol') continue;
    else if (typeof v === 'bigint') value = v.toString();
    else {
      try {
        value = JSON.stringify(v) ?? String(v);
      } catch {
        value = String(v);
      }
    }
    (out ??= {})[k] = value;
  }
  return out;
}

class ModuleFilter implements Filter {
  private dropped = 0;
  private errors = 0;
  private lastLog = -Infinity;

  constructor(
    readonly name: string,
    private readonly module: LoadedModule,
    private readonly fn: FilterFunction,
    private readonly ctx: FilterContext,
  ) {}

  private fail(err: unknown): void {
    this.errors++;
    const now = monotonicMs();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.ctx.logger.warn(
      { container: this.ctx.info.ContainerID.slice(0, 12), filter: this.name, module: this.module.file, err: describe(err), errors: this.errors },
      'user filter module failed; the line passed unchanged',
    );
  }

  process(entry: LogEntry): LogEntry | null {
    const line = entry.text();
    const ms = entry.timeSec * 1000 + Math.floor(entry.timeNsec / 1e6);
    const record: FilterRecord = {
      line,
      stream: entry.source === 'stderr' ? 'stderr' : 'stdout',
      time: new Date(ms),
      fields: entry.fields === null ? {} : { ...entry.fields },
      severity: entry.severity,
    };
    let result: unknown;
    try {
      result = this.fn(record);
    } catch (err) {
      this.fail(err);
      return entry;
    }
    if (result === null) {
      this.dropped++;
      return null;
    }
    if (result === undefined) result = record;
    if (typeof result !== 'object' || typeof (result as { then?: unknown }).then === 'function') {
      this.fail(new Error(typeof result === 'object' ? 'the filter function returned a promise: it must be synchronous' : `the filter function returned ${typeof result}, not a record or null`));
      return entry;
    }
    const r = result as Partial<FilterRecord>;
    if (typeof r.line === 'string' && r.line !== line) entry.setLine(Buffer.from(r.line, 'utf8'));
    if ((r.stream === 'stdout' || r.stream === 'stderr') && r.stream !== entry.source) entry.source = r.stream;
    if (r.time instanceof Date) {
      const t = r.time.getTime();
      if (Number.isFinite(t) && t !== ms) {
        entry.timeSec = Math.floor(t / 1000);
        entry.timeNsec = (t - entry.timeSec * 1000) * 1e6;
      }
    }
    if (typeof r.severity === 'number' && Number.isInteger(r.severity) && r.severity >= -1 && r.severity <= 7) entry.severity = r.severity;
    if (r.fields !== undefined) entry.fields = sanitizeFields(r.fields);
    return entry;
  }

  stats(): Record<string, number> {
    return { dropped: this.dropped, errors: this.errors };
  }
}

function createModuleFilter(module: LoadedModule, options: ModuleFilterOptions, ctx: FilterContext, name: string): Filter {
  const info = ctx.info;
  const context: FilterModuleContext = Object.freeze({
    containerId: info.ContainerID,
    containerName: info.ContainerName.startsWith('/') ? info.ContainerName.slice(1) : info.ContainerName,
    image: info.ContainerImageName,
    labels: Object.freeze({ ...(info.ContainerLabels ?? {}) }),
  });
  let fn: unknown;
  try {
    fn = module.createFilter(options.options, context);
  } catch (err) {
    throw new FilterConfigError(`${name}: filter module ${module.file} failed to create its filter: ${describe(err)}`);
  }
  if (typeof fn !== 'function') throw new FilterConfigError(`${name}: filter module ${module.file} returned ${typeof fn} instead of a function (record) => record | null`);
  return new ModuleFilter(name, module, fn as FilterFunction, ctx);
}

function parseModuleOptions(raw: unknown, where: string): ModuleFilterOptions {
  const o = parseWith(schema, raw, where, EXPECTED);
  checkModuleName(o.module, where);
  return o;
}

function boundFactory(module: LoadedModule): FilterFactory<ModuleFilterOptions> {
  return {
    type: 'module',
    parseOptions: parseModuleOptions,
    create: (options, ctx, name) => createModuleFilter(module, options, ctx, name),
  };
}

/** `{type: 'module', module}`: a module loaded beforehand by loadFilterModules. */
export const moduleFactory: FilterFactory<ModuleFilterOptions> = {
  type: 'module',
  parseOptions(raw: unknown, where: string): ModuleFilterOptions {
    const o = parseModuleOptions(raw, where);
    if (!loaded.has(o.module)) {
      throw new FilterConfigError(
        `${where}: module: ${JSON.stringify(o.module)} is not loaded (user filter modules are loaded only from the "modules" directory of the host-wide pipeline file${loaded.size > 0 ? `; loaded: ${[...loaded.keys()].join(', ')}` : ''})`,
      );
    }
    return o;
  },
  create(options: ModuleFilterOptions, ctx: FilterContext, name: string): Filter {
    const module = loaded.get(options.module);
    if (module === undefined) throw new FilterConfigError(`${name}: module ${JSON.stringify(options.module)} is not loaded`);
    return createModuleFilter(module, options, ctx, name);
  },
};
