import type { ContainerInfo } from '../docker/container-info.js';
import type { LogEntry } from '../docker/log-entry.js';
import type { Logger } from '../log.js';

/**
 * A filter sits between the FIFO and the sinks (container chain) or in front of one sink (sink
 * chain). The chain calls `process` once per entry, synchronously, on the hot path: no promise,
 * no timer, no closure per line.
 *
 * Rules every filter keeps:
 * - never write into `entry.buf` (it is the chunk read from the FIFO, shared by all sinks):
 *   to change the line, build new bytes and call `entry.setLine`;
 * - to change fields, assign `entry.fields` (create the object when it is null);
 * - an entry is valid only during the call; a filter that holds one (multiline) copies it with
 *   `new LogEntry().assign(entry, true)`.
 */
export interface Filter {
  /** The filter's type and position, e.g. `exclude#1`; used in metrics and errors. */
  readonly name: string;
  /**
   * Returns the entry to pass on — this one (changed or not) or another the filter owns and
   * releases now — or null to drop it (count it in `stats`).
   */
  process(entry: LogEntry): LogEntry | null;
  /** End of stream (the container stopped, or a reload replaces the chain): release held entries through `FilterContext.emit`. */
  flush?(): void;
  /** Frees timers. Called after flush. */
  close?(): void;
  /** Counters, e.g. `{ dropped: 3 }`. Every line a filter drops must be counted here. */
  stats(): Record<string, number>;
}

export interface FilterContext {
  info: ContainerInfo;
  logger: Logger;
  /**
   * Sends an entry the filter releases outside `process` (a multiline flush timeout, end of
   * stream) down the rest of the chain and on to the sinks.
   */
  emit(entry: LogEntry): void;
}

/**
 * A kind of filter. `parseOptions` validates a config object (from the pipeline file or built
 * from log-opts) and throws an Error whose message names `where` and what was expected.
 */
export interface FilterFactory<Options = unknown> {
  readonly type: string;
  parseOptions(raw: unknown, where: string): Options;
  create(options: Options, ctx: FilterContext, name: string): Filter;
}
