import type { Request, Response } from 'express';
import { parseRfc3339 } from './timestamp.js';
import { readFrameMaxSize, writeReadFrame } from './log-entry.js';
import type { ReadLine, ReadOptions } from '../sinks/json-file/reader.js';

/**
 * ReadLogs' Config (moby daemon/logger/proxy.go): RFC 3339 Since/Until where the zero time means
 * unset, Tail < 0 for all, Follow. Unknown or malformed values fall back to "unset".
 */
export function parseReadConfig(config: unknown): ReadOptions {
  const c = (config ?? {}) as { Since?: unknown; Until?: unknown; Tail?: unknown; Follow?: unknown };
  return {
    since: parseTimeOption(c.Since, 'Since'),
    until: parseTimeOption(c.Until, 'Until'),
    tail: typeof c.Tail === 'number' && Number.isInteger(c.Tail) ? c.Tail : -1,
    follow: c.Follow === true,
  };
}

function parseTimeOption(value: unknown, name: string): { sec: number; nsec: number } | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new Error(`ReadLogs: Config.${name} must be an RFC 3339 time`);
  if (value.startsWith('0001-01-01T00:00:00')) return null;
  return parseRfc3339(value);
}

const OUT_BYTES = 256 * 1024;

/**
 * Writes lines to the daemon as the FIFO's framing, each line with its trailing "\n" (the daemon
 * writes line bytes as they are), in large writes, honouring back-pressure.
 */
export class FrameResponseWriter {
  private out = Buffer.allocUnsafe(OUT_BYTES);
  private pos = 0;
  onDrain: (() => void) | null = null;
  linesSent = 0;

  constructor(private readonly res: Response) {
    res.on('drain', () => this.onDrain?.());
  }

  /** Returns false when the response is full and the caller should wait for onDrain. */
  lines(batch: ReadLine[]): boolean {
    let ok = true;
    for (const line of batch) {
      if (line.source !== 'stdout' && line.source !== 'stderr') continue;
      const need = readFrameMaxSize(line.source, line.log);
      if (this.pos + need > this.out.length) {
        ok = this.flush() && ok;
        if (need > this.out.length) this.out = Buffer.allocUnsafe(need);
      }
      this.pos = writeReadFrame(this.out, this.pos, line.source, line.sec, line.nsec, line.log);
      this.linesSent++;
    }
    return this.flush() && ok;
  }

  flush(): boolean {
    if (this.pos === 0) return true;
    const chunk = this.out.subarray(0, this.pos);
    this.out = Buffer.allocUnsafe(OUT_BYTES);
    this.pos = 0;
    if (this.res.destroyed) return true;
    return this.res.write(chunk);
  }
}

export function startFrameStream(_req: Request, res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'application/x-json-stream');
  res.flushHeaders();
}
