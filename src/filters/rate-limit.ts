import { z } from 'zod';
import type { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { type Clock, monotonicMs, parseWith } from './options.js';

/**
 * `rate-limit`: a token bucket per filter instance (so per container, or per container and sink).
 *
 *   {type: 'rate-limit', rate: number (lines per second, > 0), burst?: number (default = rate)}
 *
 * The bucket holds `burst` tokens and refills at `rate` per second, computed from a monotonic
 * clock read on each call (no timer). A line that finds less than one token is dropped
 * (`dropped`). A bucket smaller than one token would drop everything, so burst is at least 1.
 *
 * `sample`: keeps the first of every `every` lines and drops the others (`dropped`).
 *
 *   {type: 'sample', every: integer >= 1}
 */
export interface RateLimitOptions {
  type: 'rate-limit';
  rate: number;
  burst?: number;
  /** Monotonic milliseconds; for tests (not accepted from configuration). */
  now?: Clock;
}

export interface SampleOptions {
  type: 'sample';
  every: number;
}

const rateSchema = z.strictObject({
  type: z.literal('rate-limit'),
  rate: z.number().positive().finite(),
  burst: z.number().min(1).finite().optional(),
});

const sampleSchema = z.strictObject({
  type: z.literal('sample'),
  every: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

class RateLimitFilter implements Filter {
  private dropped = 0;
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: Clock;

  constructor(
    readonly name: string,
    o: RateLimitOptions,
  ) {
    this.perMs = o.rate / 1000;
    this.burst = Math.max(1, o.burst ?? o.rate);
    this.tokens = this.burst;
    this.now = o.now ?? monotonicMs;
    this.last = this.now();
  }

  process(entry: LogEntry): LogEntry | null {
    const now = this.now();
    let tokens = this.tokens + (now - this.last) * this.perMs;
    this.last = now;
    if (tokens > this.burst) tokens = this.burst;
    if (tokens >= 1) {
      this.tokens = tokens - 1;
      return entry;
    }
    this.tokens = tokens;
    this.dropped++;
    return null;
  }

  stats(): Record<string, number> {
    return { dropped: this.dropped };
  }
}

class SampleFilter implements Filter {
  private dropped = 0;
  private seen = 0;

  constructor(
    readonly name: string,
    private readonly every: number,
  ) {}

  process(entry: LogEntry): LogEntry | null {
    const n = this.seen;
    this.seen = n + 1 === this.every ? 0 : n + 1;
    if (n === 0) return entry;
    this.dropped++;
    return null;
  }

  stats(): Record<string, number> {
    return { dropped: this.dropped };
  }
}

export const rateLimitFactory: FilterFactory<RateLimitOptions> = {
  type: 'rate-limit',
  parseOptions(raw: unknown, where: string): RateLimitOptions {
    return parseWith(rateSchema, raw, where, '{type: "rate-limit", rate: number > 0 (lines per second), burst?: number >= 1 (lines; default = rate)}');
  },
  create(options: RateLimitOptions, _ctx: FilterContext, name: string): Filter {
    return new RateLimitFilter(name, options);
  },
};

export const sampleFactory: FilterFactory<SampleOptions> = {
  type: 'sample',
  parseOptions(raw: unknown, where: string): SampleOptions {
    return parseWith(sampleSchema, raw, where, '{type: "sample", every: integer >= 1 (keep 1 line in every)}');
  },
  create(options: SampleOptions, _ctx: FilterContext, name: string): Filter {
    return new SampleFilter(name, options.every);
  },
};
