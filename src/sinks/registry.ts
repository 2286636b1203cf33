import type { SinkFactory } from './sink.js';
import { gelfSinkFactory } from './gelf/index.js';
import { fluentdSinkFactory } from './fluentd/index.js';
import { syslogSinkFactory } from './syslog/index.js';
import { journaldSinkFactory } from './journald/index.js';

/**
 * The sinks `--log-opt sinks=...` can select, besides the json-file store every container has
 * unless `local-store=false`. Each takes the option names of its Docker built-in twin.
 */
export const SINK_FACTORIES: readonly SinkFactory[] = [fluentdSinkFactory, syslogSinkFactory, gelfSinkFactory, journaldSinkFactory];

export function sinkFactory(name: string): SinkFactory | undefined {
  return SINK_FACTORIES.find((f) => f.name === name);
}
