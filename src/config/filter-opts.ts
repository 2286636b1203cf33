import { parseGoDuration } from '../sinks/fluentd/options.js';
import { fromHumanSize, parseBool } from './go-parse.js';

/**
 * The log-opt forms of the filters: short strings a user can put on `docker run`. Each becomes
 * the same spec object the pipeline file takes (src/filters/registry.ts validates both), so the
 * two configuration levels share one implementation and one set of error messages.
 *
 * The container chain built from log-opts has a fixed order, chosen so that each step sees what it
 * needs: multiline (whole stack traces) → parse (fields for the conditions) → stream / include /
 * exclude → redact (only on what is kept) → fields → rate limit → sample (only kept lines spend
 * tokens). The pipeline file can order filters freely.
 */
export const FILTER_OPTIONS = [
  'filter-multiline',
  'filter-multiline-start',
  'filter-multiline-continue',
  'filter-multiline-max-lines',
  'filter-multiline-timeout',
  'filter-parse',
  'filter-parse-message-key',
  'filter-stream',
  'filter-include',
  'filter-exclude',
  'filter-redact',
  'filter-redact-pattern',
  'filter-redact-mask',
  'filter-set',
  'filter-remove',
  'filter-rename',
  'filter-labels',
  'filter-rate-limit',
  'filter-rate-burst',
  'filter-sample',
] as const;

/** How the daemon's 16 KB pieces are joined before the filters. */
export const PARTIAL_OPTIONS = ['partial-merge', 'partial-max-size', 'partial-timeout'] as const;

/** Per-sink queue options; `<sink>-queue-full` and `<sink>-queue-size` override them for one sink. */
export const QUEUE_OPTIONS = ['queue-full', 'queue-size', 'spool', 'spool-max-size'] as const;

export type QueuePolicy = 'block' | 'drop-newest' | 'drop-oldest';
export const QUEUE_POLICIES: readonly QueuePolicy[] = ['block', 'drop-newest', 'drop-oldest'];
export const DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024;
const MAX_QUEUE_BYTES = 1024 * 1024 * 1024;

export class FilterOptionError extends Error {
  override name = 'FilterOptionError';
}

function fail(option: string, value: string, problem: string, accepted: string): never {
  throw new FilterOptionError(`invalid log opt ${option}=${JSON.stringify(value)}: ${problem} (${accepted})`);
}

function positiveInt(option: string, value: string, accepted: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) fail(option, value, 'not a whole number of at least 1', accepted);
  return n;
}

function positiveNumber(option: string, value: string, accepted: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) fail(option, value, 'not a positive number', accepted);
  return n;
}

function duration(option: string, value: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(value) / 1e6;
  } catch (err) {
    fail(option, value, (err as Error).message, 'a Go duration such as 500ms or 2s');
  }
  if (!(ms > 0)) fail(option, value, 'must be positive', 'a Go duration such as 500ms or 2s');
  return ms;
}

/** `a,b, c` → ['a','b','c'] (empty items refused). */
function list(option: string, value: string, accepted: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) fail(option, value, 'empty item in the list', accepted);
  return items;
}

/** `k=v,k2=v2` (or `k:v`) → object. */
function pairs(option: string, value: string, separator: '=' | ':' | '=|:', accepted: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(option, value, accepted)) {
    const at = separator === '=|:' ? item.search(/[=:]/) : item.indexOf(separator);
    if (at <= 0) fail(option, value, `'${item}' is not a key${separator === '=' ? '=' : ':'}value pair`, accepted);
    out[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return out;
}

/** Raw filter specs, in chain order, from a container's log-opts (validated by the filter registry). */
export interface FilterSpecFromOption {
  /** The log opt it came from, for error messages. */
  option: string;
  spec: Record<string, unknown>;
}

export function filterSpecsFromLogOpts(raw: Record<string, string>): FilterSpecFromOption[] {
  const specs: FilterSpecFromOption[] = [];
  const has = (o: string) => raw[o] !== undefined && raw[o] !== '';

  const multiline = ['filter-multiline', 'filter-multiline-start', 'filter-multiline-continue'].filter(has);
  if (multiline.length > 1) fail(multiline[1], raw[multiline[1]], `cannot be combined with ${multiline[0]}`, 'choose one of a preset, a start pattern or a continuation pattern');
  if (multiline.length === 0) {
    for (const o of ['filter-multiline-max-lines', 'filter-multiline-timeout']) if (has(o)) fail(o, raw[o], 'no multiline filter is set', 'set filter-multiline, filter-multiline-start or filter-multiline-continue');
  } else {
    const option = multiline[0];
    const spec: Record<string, unknown> = { type: 'multiline' };
    if (option === 'filter-multiline') spec.preset = raw[option];
    else if (option === 'filter-multiline-start') spec.start = raw[option];
    else spec.continue = raw[option];
    if (has('filter-multiline-max-lines')) spec.maxLines = positiveInt('filter-multiline-max-lines', raw['filter-multiline-max-lines'], 'a number of lines, e.g. 500');
    if (has('filter-multiline-timeout')) spec.timeoutMs = duration('filter-multiline-timeout', raw['filter-multiline-timeout']);
    specs.push({ option, spec });
  }

  if (has('filter-parse')) {
    const spec: Record<string, unknown> = { type: 'parse', format: raw['filter-parse'] };
    if (has('filter-parse-message-key')) spec.messageKey = raw['filter-parse-message-key'];
    specs.push({ option: 'filter-parse', spec });
  } else if (has('filter-parse-message-key')) {
    fail('filter-parse-message-key', raw['filter-parse-message-key'], 'no parse filter is set', 'set filter-parse=json, logfmt or auto');
  }

  if (has('filter-stream')) specs.push({ option: 'filter-stream', spec: { type: 'include', stream: raw['filter-stream'] } });
  if (has('filter-include')) specs.push({ option: 'filter-include', spec: { type: 'include', pattern: raw['filter-include'] } });
  if (has('filter-exclude')) specs.push({ option: 'filter-exclude', spec: { type: 'exclude', pattern: raw['filter-exclude'] } });

  if (has('filter-redact') || has('filter-redact-pattern')) {
    const spec: Record<string, unknown> = { type: 'redact' };
    const option = has('filter-redact') ? 'filter-redact' : 'filter-redact-pattern';
    if (has('filter-redact')) {
      const value = raw['filter-redact'].trim();
      spec.builtin = value === 'all' ? 'all' : list('filter-redact', value, 'all, or a list of bearer, aws-access-key, private-key, credit-card, email');
    }
    if (has('filter-redact-pattern')) spec.patterns = [raw['filter-redact-pattern']];
    if (raw['filter-redact-mask'] !== undefined) spec.mask = raw['filter-redact-mask'];
    specs.push({ option, spec });
  } else if (raw['filter-redact-mask'] !== undefined) {
    fail('filter-redact-mask', raw['filter-redact-mask'], 'no redact filter is set', 'set filter-redact or filter-redact-pattern');
  }

  if (has('filter-labels')) specs.push({ option: 'filter-labels', spec: { type: 'labels', labels: list('filter-labels', raw['filter-labels'], 'a list of label names, e.g. team,tier') } });
  if (has('filter-set')) specs.push({ option: 'filter-set', spec: { type: 'set', fields: pairs('filter-set', raw['filter-set'], '=', 'key=value pairs, e.g. env=prod,team=web') } });
  if (has('filter-rename')) specs.push({ option: 'filter-rename', spec: { type: 'rename', fields: pairs('filter-rename', raw['filter-rename'], '=|:', 'old=new pairs, e.g. msg=message') } });
  if (has('filter-remove')) specs.push({ option: 'filter-remove', spec: { type: 'remove', fields: list('filter-remove', raw['filter-remove'], 'a list of field names') } });

  if (has('filter-rate-limit')) {
    const rate = positiveNumber('filter-rate-limit', raw['filter-rate-limit'], 'lines per second, e.g. 1000');
    const spec: Record<string, unknown> = { type: 'rate-limit', rate };
    if (has('filter-rate-burst')) spec.burst = positiveInt('filter-rate-burst', raw['filter-rate-burst'], 'a number of lines, e.g. 2000');
    specs.push({ option: 'filter-rate-limit', spec });
  } else if (has('filter-rate-burst')) {
    fail('filter-rate-burst', raw['filter-rate-burst'], 'no rate limit is set', 'set filter-rate-limit');
  }
  if (has('filter-sample')) specs.push({ option: 'filter-sample', spec: { type: 'sample', every: positiveInt('filter-sample', raw['filter-sample'], 'keep 1 line in N, e.g. 10') } });
  return specs;
}

export interface PartialMergeOptions {
  /** auto: join when any filter runs (filters need whole lines), keep Docker's pieces otherwise. */
  mode: 'auto' | 'on' | 'off';
  maxBytes: number;
  timeoutMs: number;
}

export function parsePartialOptions(raw: Record<string, string>): PartialMergeOptions {
  const out: PartialMergeOptions = { mode: 'auto', maxBytes: 1024 * 1024, timeoutMs: 1000 };
  const merge = raw['partial-merge'];
  if (merge !== undefined && merge !== '' && merge !== 'auto') {
    try {
      out.mode = parseBool(merge) ? 'on' : 'off';
    } catch {
      fail('partial-merge', merge, 'not a boolean', 'auto, true or false');
    }
  }
  const size = raw['partial-max-size'];
  if (size !== undefined) {
    try {
      out.maxBytes = fromHumanSize(size);
    } catch (err) {
      fail('partial-max-size', size, (err as Error).message, 'a size such as 1m');
    }
    if (out.maxBytes < 16 * 1024 || out.maxBytes > 64 * 1024 * 1024) fail('partial-max-size', size, 'out of range', 'between 16k and 64m');
  }
  if (raw['partial-timeout'] !== undefined) out.timeoutMs = duration('partial-timeout', raw['partial-timeout']);
  return out;
}

export interface QueueOptions {
  policy: QueuePolicy;
  /** The in-memory bound (with spool=disk: what stays in memory before records go to disk). */
  maxBytes: number;
  /** spool=disk: the queue overflows to files under the data root and survives restarts. */
  spool: boolean;
  spoolMaxBytes: number;
}

/** With spool=disk, how much of a sink's queue stays in memory unless queue-size says otherwise. */
export const SPOOL_MEMORY_BYTES = 1024 * 1024;
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;
/**
 * The sinks that can spool to disk: fluentd (with fluentd-request-ack at least once end to end),
 * syslog over tcp, tcp+tls or unix and GELF over tcp (a batch whose write failed is sent again).
 */
export const SPOOLING_SINKS = ['fluentd', 'syslog', 'gelf'];

/** The queue of one network sink: `<sink>-queue-*` over `queue-*` over the defaults. */
export function parseQueueOptions(raw: Record<string, string>, sink: string): QueueOptions {
  const out: QueueOptions = { policy: 'drop-newest', maxBytes: DEFAULT_QUEUE_BYTES, spool: false, spoolMaxBytes: DEFAULT_SPOOL_MAX_BYTES };
  let sizeSet = false;
  for (const prefix of ['', `${sink}-`]) {
    const spoolOption = `${prefix}spool`;
    const spool = raw[spoolOption];
    if (spool !== undefined) {
      if (spool !== 'disk' && spool !== 'memory') fail(spoolOption, spool, 'unknown spool', 'disk or memory');
      out.spool = spool === 'disk';
    }
    const spoolSizeOption = `${prefix}spool-max-size`;
    const spoolSize = raw[spoolSizeOption];
    if (spoolSize !== undefined) {
      try {
        out.spoolMaxBytes = fromHumanSize(spoolSize);
      } catch (err) {
        fail(spoolSizeOption, spoolSize, (err as Error).message, 'a size such as 1g');
      }
      if (out.spoolMaxBytes < 1_000_000 || out.spoolMaxBytes > 1024 ** 4) fail(spoolSizeOption, spoolSize, 'out of range', 'between 1m and 1t');
    }
    const policyOption = `${prefix}queue-full`;
    const policy = raw[policyOption];
    if (policy !== undefined) {
      if (!QUEUE_POLICIES.includes(policy as QueuePolicy)) fail(policyOption, policy, 'unknown policy', QUEUE_POLICIES.join(', '));
      out.policy = policy as QueuePolicy;
    }
    const sizeOption = `${prefix}queue-size`;
    const size = raw[sizeOption];
    if (size !== undefined) {
      sizeSet = true;
      try {
        out.maxBytes = fromHumanSize(size);
      } catch (err) {
        fail(sizeOption, size, (err as Error).message, 'a size such as 16m');
      }
      if (out.maxBytes < 16_000 || out.maxBytes > MAX_QUEUE_BYTES) fail(sizeOption, size, 'out of range', 'between 16k and 1g');
    }
  }
  if (out.spool && sink !== '' && !SPOOLING_SINKS.includes(sink)) {
    // A per-sink request is refused; the host-wide spool=disk applies to the sinks that can.
    if (raw[`${sink}-spool`] !== undefined) fail(`${sink}-spool`, 'disk', `the ${sink} sink cannot spool to disk yet`, `spool=disk works for ${SPOOLING_SINKS.join(', ')}`);
    out.spool = false;
  }
  if (out.spool) {
    if (!sizeSet) out.maxBytes = SPOOL_MEMORY_BYTES;
    // Spooled lines are kept, not dropped: block would only hold the container back for nothing.
    if (out.policy === 'block') out.policy = 'drop-newest';
  }
  return out;
}

/** Option names that take a sink name: `route-<sink>`, `<sink>-queue-full`, `<sink>-queue-size`. */
export function perSinkOption(key: string, sinkNames: readonly string[]): { sink: string; kind: 'route' | 'queue' } | null {
  if (key.startsWith('route-')) {
    const sink = key.slice('route-'.length);
    return sinkNames.includes(sink) ? { sink, kind: 'route' } : null;
  }
  for (const suffix of ['-queue-full', '-queue-size', '-spool', '-spool-max-size']) {
    if (key.endsWith(suffix)) {
      const sink = key.slice(0, -suffix.length);
      if (sinkNames.includes(sink)) return { sink, kind: 'queue' };
    }
  }
  return null;
}
