import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogEntry } from '../../src/docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from '../../src/filters/filter.js';
import { buildChain, FILTER_FACTORIES, type FilterSpec, parseFilterSpec } from '../../src/filters/registry.js';
import { chainOf, ctx, entry, feed } from './helpers.js';

/** A test filter: appends `>tag` to lines; holds lines starting with `hold-<tag>` and releases them (emit) on a line starting with "release", or on flush. */
function tagger(tag: string): FilterSpec {
  const factory: FilterFactory<null> = {
    type: 'tag',
    parseOptions: () => null,
    create(_o: null, c: FilterContext, name: string): Filter {
      const held: LogEntry[] = [];
      return {
        name,
        process(e) {
          const text = e.text();
          if (text === 'throw') throw new Error('bug');
          if (text.startsWith(`hold-${tag}`)) {
            held.push(new LogEntry().assign(e, true));
            return null;
          }
          if (text.startsWith('release')) for (const h of held.splice(0)) c.emit(h);
          e.setLine(Buffer.from(`${text}>${tag}`));
          return e;
        },
        flush() {
          for (const h of held.splice(0)) c.emit(h);
        },
        stats: () => ({ held: held.length }),
      };
    },
  };
  return { type: 'tag', options: null, factory };
}

describe('registry', () => {
  it('knows every filter type', () => {
    expect([...FILTER_FACTORIES.keys()].sort()).toEqual(['exclude', 'include', 'labels', 'module', 'multiline', 'parse', 'rate-limit', 'redact', 'remove', 'rename', 'route', 'sample', 'set']);
  });

  it('parseFilterSpec dispatches on type and names where', () => {
    expect(parseFilterSpec({ type: 'sample', every: 2 }, 'w')).toEqual({ type: 'sample', options: { type: 'sample', every: 2 } });
    expect(() => parseFilterSpec({ type: 'grep', pattern: 'x' }, 'pipeline.yaml: rules[0].filters[1]')).toThrow(
      'pipeline.yaml: rules[0].filters[1]: type: unknown filter type "grep" (known: include, exclude, redact, multiline, parse, rate-limit, sample, set, remove, rename, labels, route, module)',
    );
    expect(() => parseFilterSpec({ pattern: 'x' }, 'w')).toThrow(/^w: type: expected a string, one of include, exclude/);
    expect(() => parseFilterSpec('exclude', 'w')).toThrow(/^w: expected a filter object \{type: …, …\}, got string/);
    expect(() => parseFilterSpec({ type: 'exclude', pattern: 1 }, 'log opt filter-exclude')).toThrow(/^log opt filter-exclude: pattern: Invalid input: expected string/);
  });

  it('buildChain names filters type#index', () => {
    const specs = [{ type: 'parse', format: 'json' }, { type: 'exclude', pattern: 'x' }, { type: 'sample', every: 2 }].map((r) => parseFilterSpec(r, 'w'));
    expect(buildChain(specs, ctx()).map((f) => f.name)).toEqual(['parse#0', 'exclude#1', 'sample#2']);
  });
});

describe('FilterChain', () => {
  it('runs filters in order and hands survivors to the sink', () => {
    const c = chainOf([{ type: 'exclude', pattern: 'noise' }, tagger('a'), tagger('b')]);
    for (const l of ['one', 'noise', 'two']) c.chain.process(entry(l));
    expect(c.texts()).toEqual(['one>a>b', 'two>a>b']);
  });

  it('an entry emitted by filter k continues at k + 1, before the entry that caused it', () => {
    const c = chainOf([tagger('a'), tagger('b'), tagger('c')]);
    for (const l of ['hold-a-1', 'x']) c.chain.process(entry(l));
    expect(c.texts()).toEqual(['x>a>b>c']);
    c.chain.process(entry('release'));
    expect(c.texts()).toEqual(['x>a>b>c', 'hold-a-1>b>c', 'release>a>b>c']);
  });

  it('flush goes in chain order: what filter k releases passes k + 1..n, which flush after', () => {
    const c = chainOf([tagger('a'), tagger('b'), tagger('c')]);
    c.chain.process(entry('hold-b-1'));
    c.chain.process(entry('hold-a-1'));
    expect(c.texts()).toEqual([]);
    c.chain.flush();
    expect(c.texts()).toEqual(['hold-a-1>b>c', 'hold-b-1>a>c']);
    expect(c.chain.stats()).toEqual({ 'tag#0.held': 0, 'tag#1.held': 0, 'tag#2.held': 0 });
  });

  it('multiline → exclude → redact: released records see the filters after multiline', () => {
    const c = chainOf([
      { type: 'multiline', preset: 'java' },
      { type: 'exclude', pattern: 'HealthCheck' },
      { type: 'redact', builtin: ['email'] },
    ]);
    const texts = feed(
      c,
      [
        'java.lang.IllegalStateException: user jane@example.com not found',
        '\tat com.example.Users.get(Users.java:10)',
        'java.lang.RuntimeException: HealthCheck failed',
        '\tat com.example.HealthCheck.run(HealthCheck.java:5)',
        'GET /orders 200 by bob@example.com',
      ].join('\n'),
    );
    expect(texts).toEqual(['java.lang.IllegalStateException: user [REDACTED] not found\n\tat com.example.Users.get(Users.java:10)', 'GET /orders 200 by [REDACTED]']);
    expect(c.chain.stats()).toMatchObject({ 'multiline#0.joined': 2, 'exclude#1.dropped': 1, 'redact#2.redacted': 2 });
  });

  it('a filter that throws: the entry goes on, counted as exceptions, logged once', () => {
    const c = chainOf([tagger('a')]);
    for (let i = 0; i < 3; i++) c.chain.process(entry('throw'));
    expect(c.texts()).toEqual(['throw', 'throw', 'throw']);
    expect(c.chain.stats()).toMatchObject({ 'tag#0.exceptions': 3 });
  });

  it('onRelease only for timer releases, not for entries emitted during process or flush', async () => {
    const onRelease = vi.fn();
    const c = chainOf([{ type: 'multiline', preset: 'go', timeoutMs: 10 }], undefined, onRelease);
    c.chain.process(entry('panic: boom'));
    c.chain.process(entry('ordinary')); // releases the panic through emit, inside process
    expect(c.texts()).toEqual(['panic: boom', 'ordinary']);
    c.chain.process(entry('panic: again'));
    c.chain.flush();
    expect(onRelease).not.toHaveBeenCalled();
    c.chain.process(entry('panic: third'));
    await new Promise((r) => setTimeout(r, 50));
    expect(c.texts().at(-1)).toBe('panic: third');
    expect(onRelease).toHaveBeenCalledTimes(1);
    c.chain.close();
  });
});

afterEach(() => vi.useRealTimers());
