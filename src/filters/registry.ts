import type { ContainerInfo } from '../docker/container-info.js';
import type { LogEntry } from '../docker/log-entry.js';
import type { Logger } from '../log.js';
import { redactFactory } from './redact.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { labelsFactory, removeFactory, renameFactory, setFactory } from './fields.js';
import { excludeFactory, includeFactory } from './include-exclude.js';
import { moduleFactory } from './module-filter.js';
import { multilineFactory } from './multiline.js';
import { FilterConfigError, monotonicMs } from './options.js';
import { parseFactory } from './parse.js';
import { rateLimitFactory, sampleFactory } from './rate-limit.js';
import { routeFactory } from './route.js';

// Each factory has its own options type; the registry only passes them from parseOptions to create.
type AnyFactory = FilterFactory<any>;

/** Every filter type, by `type`. */
export const FILTER_FACTORIES: ReadonlyMap<string, AnyFactory> = new Map<string, AnyFactory>(
  [includeFactory, excludeFactory, redactFactory, multilineFactory, parseFactory, rateLimitFactory, sampleFactory, setFactory, removeFactory, renameFactory, labelsFactory, routeFactory, moduleFactory].map(
    (f) => [f.type, f],
  ),
);

/**
 * A validated filter spec: the type and the options its factory's parseOptions returned.
 * `factory` is set only for filters that are not in FILTER_FACTORIES (tests, embedders).
 */
export interface FilterSpec {
  readonly type: string;
  readonly options: unknown;
  readonly factory?: AnyFactory;
}

/**
 * Validates one raw filter config object (`{type: 'exclude', pattern: '…'}`) from the pipeline file
 * or built from log-opts. Errors start with `where`; an unknown type lists the known ones.
 */
export function parseFilterSpec(raw: unknown, where: string): FilterSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FilterConfigError(`${where}: expected a filter object {type: …, …}, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  const type = (raw as { type?: unknown }).type;
  const known = [...FILTER_FACTORIES.keys()].join(', ');
  if (typeof type !== 'string') throw new FilterConfigError(`${where}: type: expected a string, one of ${known}`);
  const factory = FILTER_FACTORIES.get(type);
  if (factory === undefined) throw new FilterConfigError(`${where}: type: unknown filter type ${JSON.stringify(type)} (known: ${known})`);
  return { type, options: factory.parseOptions(raw, where) };
}

function factoryOf(spec: FilterSpec): AnyFactory {
  const factory = spec.factory ?? FILTER_FACTORIES.get(spec.type);
  if (factory === undefined) throw new FilterConfigError(`unknown filter type ${JSON.stringify(spec.type)}`);
  return factory;
}

/**
 * Creates the filters of a chain, named `${type}#${index}`. `ctx` is one context for all, or a
 * function giving filter k its own (FilterChain gives each an `emit` that continues at k + 1).
 */
export function buildChain(specs: readonly FilterSpec[], ctx: FilterContext | ((index: number) => FilterContext)): Filter[] {
  const filters: Filter[] = [];
  try {
    specs.forEach((spec, index) => {
      filters.push(factoryOf(spec).create(spec.options, typeof ctx === 'function' ? ctx(index) : ctx, `${spec.type}#${index}`));
    });
  } catch (err) {
    for (const f of filters) f.close?.();
    throw err;
  }
  return filters;
}

export interface ChainContext {
  info: ContainerInfo;
  logger: Logger;
  /**
   * Called after a filter released entries outside `process` and `flush` (a multiline timeout)
   * and they reached the sink, so the caller can flush its sinks.
   */
  onRelease?: () => void;
}

const LOG_EVERY_MS = 1000;

/**
 * Runs entries through filters[0..n] and hands each survivor to `sink`. An entry a filter k
 * releases by itself (ctx.emit: a multiline record on timeout, flush, or one released together
 * with the current line) continues at filter k + 1, so every entry sees every later filter once
 * and in order. The loop allocates nothing; the emit functions are made once, at construction.
 *
 * A filter that throws (a bug) does not stop the container's logs: the entry goes on as it was,
 * the exception is counted (`<name>.exceptions`) and logged at most once a second.
 */
export class FilterChain {
  readonly filters: readonly Filter[];
  private readonly exceptions: number[];
  private depth = 0;
  private lastLog = -Infinity;

  constructor(
    specs: readonly FilterSpec[],
    private readonly ctx: ChainContext,
    private readonly sink: (entry: LogEntry) => void,
  ) {
    this.filters = buildChain(specs, (index) => ({
      info: ctx.info,
      logger: ctx.logger,
      emit: (entry: LogEntry) => this.emitFrom(index + 1, entry),
    }));
    this.exceptions = this.filters.map(() => 0);
  }

  get length(): number {
    return this.filters.length;
  }

  /** Runs one entry through the whole chain; survivors go to the sink. */
  process(entry: LogEntry): void {
    this.depth++;
    try {
      this.run(0, entry);
    } finally {
      this.depth--;
    }
  }

  private run(from: number, entry: LogEntry): void {
    const filters = this.filters;
    let e: LogEntry | null = entry;
    for (let k = from; k < filters.length; k++) {
      try {
        e = filters[k].process(e);
      } catch (err) {
        this.failed(k, err);
      }
      if (e === null) return;
    }
    this.sink(e);
  }

  private emitFrom(index: number, entry: LogEntry): void {
    if (this.depth > 0) {
      this.run(index, entry);
      return;
    }
    // From a timer: the caller is not in a read, tell it to flush its sinks.
    this.depth++;
    try {
      this.run(index, entry);
    } finally {
      this.depth--;
    }
    this.ctx.onRelease?.();
  }

  private failed(k: number, err: unknown): void {
    this.exceptions[k]++;
    const now = monotonicMs();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.ctx.logger.error(
      { container: this.ctx.info.ContainerID.slice(0, 12), filter: this.filters[k].name, err: err instanceof Error ? err.stack : String(err) },
      'filter failed; the entry passed on unchanged',
    );
  }

  /** Releases what the filters hold, in chain order: what filter k releases goes through k + 1..n. */
  flush(): void {
    this.depth++;
    try {
      for (let k = 0; k < this.filters.length; k++) {
        try {
          this.filters[k].flush?.();
        } catch (err) {
          this.failed(k, err);
        }
      }
    } finally {
      this.depth--;
    }
  }

  /** Frees the filters' timers. Call after flush. */
  close(): void {
    for (let k = 0; k < this.filters.length; k++) {
      try {
        this.filters[k].close?.();
      } catch (err) {
        this.failed(k, err);
      }
    }
  }

  /** Every filter's counters as `<name>.<counter>`, e.g. `{'exclude#2.dropped': 3}`. */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    this.filters.forEach((f, k) => {
      for (const [key, value] of Object.entries(f.stats())) out[`${f.name}.${key}`] = (out[`${f.name}.${key}`] ?? 0) + value;
      if (this.exceptions[k] > 0) out[`${f.name}.exceptions`] = this.exceptions[k];
    });
    return out;
  }
}
