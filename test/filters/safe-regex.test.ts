import { describe, expect, it } from 'vitest';
import { excludeFactory } from '../../src/filters/include-exclude.js';
import { redactFactory } from '../../src/filters/redact.js';
import { foldCase } from '../../src/filters/options.js';
import { compileSafeRegex } from '../../src/filters/safe-regex.js';
import { make, run } from './helpers.js';

describe('user regexes go through compileSafeRegex', () => {
  it('(a+)+$ on "a"*5000 + "!" finishes fast in a filter', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: '(a+)+$' });
    const line = 'a'.repeat(5000) + '!';
    const t0 = performance.now();
    expect(run(f, [line, line, line])).toEqual([line, line, line]);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('the same in redact patterns', () => {
    const f = make(redactFactory, { type: 'redact', patterns: ['(x+x+)+y'] });
    const line = 'x'.repeat(5000);
    const t0 = performance.now();
    expect(run(f, [line])).toEqual([line]);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('backreferences are refused, naming where', () => {
    expect(() => compileSafeRegex('(\\w+) \\1', '', 'log opt filter-exclude')).toThrow(/^log opt filter-exclude: pattern "\(\\\\w\+\) \\\\1" uses backreferences or lookaround/);
    expect(() => excludeFactory.parseOptions({ type: 'exclude', pattern: '(\\w+) \\1' }, 'pipeline.yaml: rules[0].filters[1]')).toThrow(
      /^pipeline\.yaml: rules\[0\]\.filters\[1\]: pattern: pattern .* uses backreferences/,
    );
  });
});

describe('the i flag (V8 linear engine cannot run /i: the pattern is case-folded instead)', () => {
  const patterns = [
    'kube-probe|/healthz',
    '^GET /api/v\\d+/[a-z]+$',
    '[^a-z0-9]{2,}',
    '[a-]x',
    '[-a]x',
    '[\\x41-Z]+',
    '[]|[^]a',
    '(?<word>Error|WARN)\\s+\\w+',
    'caf[é]',
    '\\bERR(or)?\\b:?',
    '[A-c]',
    'a{2,3}b',
    '(?:abc)+',
  ];
  const subjects = ['GET /api/v1/orders', 'get /API/V2/Users', 'KUBE-PROBE/1.29', 'GET /HEALTHZ', 'ax', 'AX', '-X', 'ABC', 'abc', 'xyz', '[]', 'Aa', 'error: x', 'ERROR', 'Warn  now', 'CAFÉ', 'aAb', 'AAAB', 'abcABCabc', '__', 'B', '`'];
  it.each(patterns)('%s matches like /…/i', (pattern) => {
    const f = foldCase(pattern);
    const folded = new RegExp(f);
    const native = new RegExp(pattern, 'i');
    for (const s of subjects) expect(folded.test(s), `${pattern} → ${f} on ${s}`).toBe(native.test(s));
    expect(() => compileSafeRegex(f, '', 'x')).not.toThrow();
  });

  it('include/exclude with flags i', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: 'health', flags: 'i' });
    expect(run(f, ['GET /Health 200', 'GET /x 200'])).toEqual([null, 'GET /x 200']);
  });
});
