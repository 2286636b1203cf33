import { atoi, fromHumanSize, parseBool, ramInBytes } from './go-parse.js';
import {
  FILTER_OPTIONS,
  PARTIAL_OPTIONS,
  QUEUE_OPTIONS,
  filterSpecsFromLogOpts,
  parsePartialOptions,
  parseQueueOptions,
  perSinkOption,
  type FilterSpecFromOption,
  type PartialMergeOptions,
  type QueueOptions,
} from './filter-opts.js';

/**
 * Per-container options (`--log-opt`), validated when StartLogging arrives: the daemon checks
 * none of a plugin's options, so an Err from here is the only way `docker run` can refuse a bad
 * one. Every message names the option and the form it accepts.
 */

export class LogOptionError extends Error {
  override name = 'LogOptionError';
}

/** Options the daemon itself acts on for every driver; they still reach the plugin. */
const DAEMON_OPTIONS = new Set([
  'mode',
  'max-buffer-size',
  'cache-disabled',
  'cache-max-size',
  'cache-max-file',
  'cache-compress',
  'cache-labels',
  'cache-labels-regex',
  'cache-env',
  'cache-env-regex',
  'cache-tag',
]);

/** Docker's shared options: tag and the extra-attribute selectors. */
const ATTRIBUTE_OPTIONS = ['tag', 'labels', 'labels-regex', 'env', 'env-regex'] as const;

const JSON_FILE_OPTIONS = ['max-size', 'max-file', 'compress'] as const;

/** logfan's own: which sinks get the lines, and whether the local store (docker logs) stays on. */
const PIPELINE_OPTIONS = ['sinks', 'local-store', 'local-store-fields', ...QUEUE_OPTIONS, ...PARTIAL_OPTIONS, ...FILTER_OPTIONS] as const;

export const KNOWN_OPTIONS: readonly string[] = [...JSON_FILE_OPTIONS, ...ATTRIBUTE_OPTIONS, ...PIPELINE_OPTIONS, ...DAEMON_OPTIONS];

/** The name of the json-file store among the sinks (routes and sink names use it). */
export const STORE_SINK = 'json-file';

/** The part of a sink kind that option parsing needs. */
export interface SinkOptionOwner {
  readonly name: string;
  readonly optionNames: readonly string[];
}

/** Rotation logfan applies when the user sets none (Docker's json-file would grow without bound). */
export const DEFAULT_MAX_SIZE = 20_000_000;
export const DEFAULT_MAX_FILE = 5;

const MAX_OPTIONS = 256;
const MAX_OPTION_VALUE_BYTES = 64 * 1024;

export interface JsonFileOptions {
  /** Rotate before a write when the file holds at least this many bytes. */
  maxSize: number;
  /** Files kept, the live one included. */
  maxFile: number;
  compress: boolean;
  /**
   * Whether filter fields (parse, set, labels) are written into the store's `attrs`. Off by
   * default: the store backs `docker logs`, which shows the line; parsed JSON would be stored twice.
   */
  fields: boolean;
}

export interface LogOptions {
  jsonFile: JsonFileOptions;
  /** Sinks besides the local store, in the order given. */
  sinks: string[];
  /** The json-file store that backs docker logs; on unless local-store=false. */
  localStore: boolean;
  /**
   * Per network sink: what it does when it is behind — drop-newest (default: never slow the
   * container), drop-oldest, or block (the container waits, as with Docker's own drivers, for at
   * most a few seconds at a time and never once logging stops) — and its queue bound in bytes.
   */
  queues: Record<string, QueueOptions>;
  /** Container filter chain specs from log-opts, in chain order (validated by the filter registry). */
  filters: FilterSpecFromOption[];
  /** Per sink (json-file included), the route-<sink> condition as written. */
  routes: Record<string, string>;
  partial: PartialMergeOptions;
  /** Raw option map, for the tag template and extra attributes. */
  raw: Record<string, string>;
}

function fail(option: string, value: string, problem: string, accepted: string): never {
  throw new LogOptionError(`invalid log opt ${option}=${JSON.stringify(value)}: ${problem} (${accepted})`);
}

/**
 * The sink an option belongs to (`fluentd-address` → fluentd, `route-gelf` → gelf), or null for
 * options every container can take. Used to leave out a pipeline rule's defaults for sinks a
 * container does not use.
 */
export function optionOwner(key: string, sinkKinds: readonly SinkOptionOwner[]): string | null {
  if (KNOWN_OPTIONS.includes(key)) return null;
  for (const kind of sinkKinds) if (kind.optionNames.includes(key)) return kind.name;
  return perSinkOption(key, [STORE_SINK, ...sinkKinds.map((k) => k.name)])?.sink ?? null;
}

export function parseLogOptions(config: Record<string, string> | null | undefined, sinkKinds: readonly SinkOptionOwner[] = []): LogOptions {
  const ownerOf = new Map<string, string>();
  // Shared options (tag, labels, env, …) belong to no single sink even when a sink lists them.
  for (const kind of sinkKinds) for (const option of kind.optionNames) if (!KNOWN_OPTIONS.includes(option)) ownerOf.set(option, kind.name);
  const allSinkNames = [STORE_SINK, ...sinkKinds.map((k) => k.name)];
  const raw: Record<string, string> = {};
  const entries = Object.entries(config ?? {});
  if (entries.length > MAX_OPTIONS) {
    throw new LogOptionError(`too many log opts: ${entries.length} (at most ${MAX_OPTIONS})`);
  }
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw new LogOptionError(`log opt ${key}: value must be a string`);
    }
    if (Buffer.byteLength(value) > MAX_OPTION_VALUE_BYTES) {
      throw new LogOptionError(`log opt ${key}: value longer than ${MAX_OPTION_VALUE_BYTES} bytes`);
    }
    if (!KNOWN_OPTIONS.includes(key) && !ownerOf.has(key) && perSinkOption(key, allSinkNames) === null) {
      throw new LogOptionError(
        `unknown log opt '${key}' for logfan log driver (accepted: ${[...JSON_FILE_OPTIONS, ...ATTRIBUTE_OPTIONS, ...PIPELINE_OPTIONS].join(', ')}, route-<sink>, <sink>-queue-full, <sink>-queue-size, the options of each sink in sinks=, and Docker's ${[...DAEMON_OPTIONS].join(', ')})`,
      );
    }
    raw[key] = value;
  }

  if (raw['mode'] !== undefined && !['', 'blocking', 'non-blocking'].includes(raw['mode'])) {
    fail('mode', raw['mode'], 'logging mode not supported', 'blocking or non-blocking');
  }
  if (raw['max-buffer-size'] !== undefined) {
    try {
      ramInBytes(raw['max-buffer-size']);
    } catch (err) {
      fail('max-buffer-size', raw['max-buffer-size'], (err as Error).message, 'a size such as 4m, binary units');
    }
  }

  const sizeForm = 'a positive size in bytes with an optional k, m or g suffix (decimal units), e.g. 10m';
  let maxSize = -1;
  if (raw['max-size'] !== undefined) {
    try {
      maxSize = fromHumanSize(raw['max-size']);
    } catch (err) {
      fail('max-size', raw['max-size'], (err as Error).message, sizeForm);
    }
    if (maxSize <= 0) fail('max-size', raw['max-size'], 'max-size must be a positive number', sizeForm);
  }
  let maxFile = -1;
  if (raw['max-file'] !== undefined) {
    try {
      maxFile = atoi(raw['max-file']);
    } catch (err) {
      fail('max-file', raw['max-file'], (err as Error).message, 'a whole number of files, at least 1');
    }
    if (maxFile < 1) fail('max-file', raw['max-file'], 'max-file cannot be less than 1', 'a whole number of files, at least 1');
  }
  // Defaults: rotate at 20m over 5 files unless the user chose; a user's max-size alone keeps
  // Docker's max-file default of 1.
  if (maxFile === -1) maxFile = maxSize === -1 ? DEFAULT_MAX_FILE : 1;
  if (maxSize === -1) maxSize = DEFAULT_MAX_SIZE;

  let compress = false;
  if (raw['compress'] !== undefined) {
    try {
      compress = parseBool(raw['compress']);
    } catch (err) {
      fail('compress', raw['compress'], (err as Error).message, 'true or false');
    }
    if (compress && maxFile < 2) {
      fail('compress', raw['compress'], 'compress cannot be true when max-file is less than 2', 'set max-file to 2 or more');
    }
  }

  const known = ['json-file', ...sinkKinds.map((k) => k.name)];
  const sinks: string[] = [];
  if (raw['sinks'] !== undefined && raw['sinks'] !== '') {
    for (const name of raw['sinks'].split(',').map((n) => n.trim())) {
      if (!known.includes(name)) fail('sinks', raw['sinks'], `unknown sink '${name}'`, `a comma-separated list of ${known.join(', ')}`);
      if (name !== 'json-file' && !sinks.includes(name)) sinks.push(name);
    }
  }
  let localStore = true;
  if (raw['local-store'] !== undefined) {
    try {
      localStore = parseBool(raw['local-store']);
    } catch (err) {
      fail('local-store', raw['local-store'], (err as Error).message, 'true or false');
    }
    if (!localStore && sinks.length === 0) fail('local-store', raw['local-store'], 'nothing would receive the logs', 'name a sink in sinks= first');
  }
  let storeFields = false;
  if (raw['local-store-fields'] !== undefined) {
    try {
      storeFields = parseBool(raw['local-store-fields']);
    } catch (err) {
      fail('local-store-fields', raw['local-store-fields'], (err as Error).message, 'true or false');
    }
  }
  const selected = localStore ? [STORE_SINK, ...sinks] : sinks;
  const routes: Record<string, string> = {};
  for (const key of Object.keys(raw)) {
    const perSink = perSinkOption(key, allSinkNames);
    const owner = ownerOf.get(key) ?? perSink?.sink;
    if (owner !== undefined && !selected.includes(owner)) {
      throw new LogOptionError(`log opt ${key} belongs to the ${owner} sink, which is not selected (add it: --log-opt sinks=${[...sinks, owner].join(',')})`);
    }
    if (perSink?.kind === 'queue' && perSink.sink === STORE_SINK) {
      throw new LogOptionError(`log opt ${key}: the json-file store has no queue (it holds the container back, as Docker's json-file does)`);
    }
    if (perSink?.kind === 'route') routes[perSink.sink] = raw[key];
  }
  const queues: Record<string, QueueOptions> = {};
  let filters: FilterSpecFromOption[];
  let partial: PartialMergeOptions;
  try {
    parseQueueOptions(raw, '');
    for (const sink of sinks) queues[sink] = parseQueueOptions(raw, sink);
    filters = filterSpecsFromLogOpts(raw);
    partial = parsePartialOptions(raw);
  } catch (err) {
    throw new LogOptionError((err as Error).message);
  }

  return { jsonFile: { maxSize, maxFile, compress, fields: storeFields }, sinks, localStore, queues, filters, routes, partial, raw };
}
