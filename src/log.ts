import { pino } from 'pino';

/**
 * The plugin's own log: JSON lines on stderr (the daemon files a managed plugin's stderr in its
 * own log), synchronous so nothing is lost at exit, and quiet by default. Never log per line.
 */
export const log = pino(
  {
    name: 'logfan',
    level: process.env.LOGFAN_LOG_LEVEL ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ fd: 2, sync: true }),
);

export type Logger = typeof log;
