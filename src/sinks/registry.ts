import type { SinkFactory } from './sink.js';

/**
 * The sinks `--log-opt sinks=...` can select, besides the json-file store every container has
 * unless `local-store=false`. Each takes the option names of its Docker built-in twin.
 */
export const SINK_FACTORIES: readonly SinkFactory[] = [];

export function sinkFactory(name: string): SinkFactory | undefined {
  return SINK_FACTORIES.find((f) => f.name === name);
}
