import { pino } from 'pino';

/**
 * The plugin's own log: JSON lines, synchronous so nothing is lost at exit, quiet by default
 * (one line per container start and stop, nothing per log line). The daemon files a managed
 * plugin's stdout at info level and its stderr at error level, so info and debug go to stdout and
 * warnings and errors to stderr.
 */
export const log = pino(
  {
    name: 'logfan',
    level: process.env.LOGFAN_LOG_LEVEL ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.multistream(
    [
      { level: 'trace', stream: pino.destination({ fd: 1, sync: true }) },
      { level: 'warn', stream: pino.destination({ fd: 2, sync: true }) },
    ],
    { dedupe: true },
  ),
);

export type Logger = typeof log;
