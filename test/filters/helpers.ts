import { vi } from 'vitest';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { LogEntry } from '../../src/docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from '../../src/filters/filter.js';
import { FilterChain, type FilterSpec, parseFilterSpec } from '../../src/filters/registry.js';
import type { Logger } from '../../src/log.js';

export const INFO: ContainerInfo = {
  Config: {},
  ContainerID: 'f'.repeat(64),
  ContainerName: '/api-7f9c',
  ContainerEntrypoint: '/app/server',
  ContainerArgs: [],
  ContainerImageID: 'sha256:' + '1'.repeat(64),
  ContainerImageName: 'registry.example.com/shop/api:1.4.2',
  ContainerCreated: '2024-03-12T14:00:00Z',
  ContainerEnv: [],
  ContainerLabels: { tier: 'prod', team: 'payments', 'com.example.version': '1.4.2' },
  LogPath: '',
  DaemonName: 'docker',
};

/** A logger that records warn/error calls. */
export function fakeLogger(): Logger & { warn: ReturnType<typeof vi.fn>; error: ReturnType<typeof vi.fn> } {
  const l = { warn: vi.fn(), error: vi.fn(), info: vi.fn(), debug: vi.fn(), trace: vi.fn(), fatal: vi.fn() };
  return l as unknown as Logger & { warn: ReturnType<typeof vi.fn>; error: ReturnType<typeof vi.fn> };
}

// Junk around each line: the decoder's entries point into a larger chunk, and filters must look
// only at buf[lineStart, lineEnd). The junk holds everything a precheck could trip on.
const BEFORE = Buffer.from('Bearer abc AKIAIOSFODNN7EXAMPLE 4111111111111111 a@b.io -----BEGIN RSA PRIVATE KEY----- {"x":1} ');
const AFTER = Buffer.from(' -----END RSA PRIVATE KEY----- Bearer xyz 5555555555554444 j@d.org aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');

/** An entry whose line sits in the middle of a larger buffer. */
export function entry(line: string, source: 'stdout' | 'stderr' = 'stdout', timeSec = 1, timeNsec = 0): LogEntry {
  const bytes = Buffer.from(line, 'utf8');
  const buf = Buffer.concat([BEFORE, bytes, AFTER]);
  const e = LogEntry.of({ source, timeSec, timeNsec, line: Buffer.from('') });
  e.buf = buf;
  e.lineStart = BEFORE.length;
  e.lineEnd = BEFORE.length + bytes.length;
  return e;
}

export function ctx(emitted: LogEntry[] = [], info: ContainerInfo = INFO, logger: Logger = fakeLogger()): FilterContext {
  return { info, logger, emit: (e) => emitted.push(new LogEntry().assign(e, true)) };
}

/** Parses `raw` with the factory and creates the filter. */
export function make<O>(factory: FilterFactory<O>, raw: unknown, c: FilterContext = ctx(), extra: Partial<O> = {}): Filter {
  const options = { ...factory.parseOptions(raw, 'test'), ...extra } as O;
  return factory.create(options, c, `${factory.type}#0`);
}

/** What a filter passes on for each line: the line text, or null when dropped. */
export function run(filter: Filter, lines: string[], source: 'stdout' | 'stderr' = 'stdout'): (string | null)[] {
  return lines.map((l) => {
    const r = filter.process(entry(l, source));
    return r === null ? null : r.text();
  });
}

export interface Collected {
  chain: FilterChain;
  out: LogEntry[];
  texts(): string[];
}

/** A chain whose sink collects copies of the entries that reach it. */
export function chainOf(specs: (FilterSpec | Record<string, unknown>)[], info: ContainerInfo = INFO, onRelease?: () => void): Collected {
  const out: LogEntry[] = [];
  // A FilterSpec has exactly type, options and maybe factory; anything else is a raw config object.
  const isSpec = (s: object) => 'options' in s && Object.keys(s).every((k) => k === 'type' || k === 'options' || k === 'factory');
  const parsed = specs.map((s, i) => (isSpec(s) ? (s as FilterSpec) : parseFilterSpec(s, `test[${i}]`)));
  const chain = new FilterChain(parsed, { info, logger: fakeLogger(), onRelease }, (e) => out.push(new LogEntry().assign(e, true)));
  return { chain, out, texts: () => out.map((e) => e.text()) };
}

/** Splits a block into lines and feeds them to the chain (one stream), then flushes. */
export function feed(c: Collected, block: string, source: 'stdout' | 'stderr' = 'stdout', flush = true): string[] {
  let t = 100;
  for (const line of block.split('\n')) c.chain.process(entry(line, source, t++));
  if (flush) c.chain.flush();
  return c.texts();
}
