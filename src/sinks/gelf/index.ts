import { LogOptionError } from '../../config/log-opts.js';
import { TagTemplateError } from '../../docker/tag-template.js';
import { sinkQueue, type Sink, type SinkContext, type SinkFactory } from '../sink.js';
import { GelfEncoder, gelfExtraFields } from './encoder.js';
import { GELF_OPTION_NAMES, parseGelfOptions } from './options.js';
import { TcpGelfSink } from './tcp-sink.js';
import { UdpGelfSink } from './udp-sink.js';

export { GelfEncoder } from './encoder.js';
export { TcpGelfSink } from './tcp-sink.js';
export { UdpGelfSink } from './udp-sink.js';

const NUL = Buffer.from([0]);

function checkAttributes(ctx: SinkContext): void {
  try {
    gelfExtraFields(ctx.info, ctx.options);
  } catch (err) {
    if (err instanceof TagTemplateError) throw new LogOptionError(`invalid log opt tag=${JSON.stringify(ctx.options['tag'] ?? '')}: ${err.message}`);
    throw err;
  }
}

/**
 * Docker's gelf driver (moby daemon/logger/gelf): the same options, the same JSON bytes, go-gelf's
 * UDP chunking and TCP NUL framing; plus tls://, background connects and reconnects.
 */
export const gelfSinkFactory: SinkFactory = {
  name: 'gelf',
  optionNames: GELF_OPTION_NAMES,
  validate(ctx: SinkContext): void {
    const options = parseGelfOptions(ctx.options);
    checkAttributes(ctx);
    if (ctx.options['gelf-spool'] === 'disk' && options.protocol === 'udp') {
      throw new LogOptionError('invalid log opt gelf-spool=disk: gelf-address is udp://, which has no connection to retry on (spool=disk works for tcp:// and tls://)');
    }
  },
  async create(ctx: SinkContext): Promise<Sink> {
    const options = parseGelfOptions(ctx.options);
    checkAttributes(ctx);
    const deps = {
      info: ctx.info,
      options,
      logger: ctx.logger,
      encoder: GelfEncoder.forContainer(ctx.info, ctx.options, options.protocol === 'udp' ? undefined : NUL),
      ...sinkQueue(ctx),
    };
    const sink = options.protocol === 'udp' ? new UdpGelfSink(deps) : new TcpGelfSink(deps);
    sink.start();
    return sink;
  },
};
