import { describe, expect, it } from 'vitest';
import { excludeFactory, includeFactory } from '../../src/filters/include-exclude.js';
import { entry, make, run } from './helpers.js';

const ACCESS = [
  '10.0.3.7 - - [12/Mar/2024:14:02:17 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
  '10.0.3.9 - - [12/Mar/2024:14:02:17 +0000] "POST /api/v1/orders HTTP/1.1" 201 87 "-" "Mozilla/5.0"',
  '10.0.3.7 - - [12/Mar/2024:14:02:18 +0000] "GET /HEALTHZ HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
];

describe('include / exclude', () => {
  it('exclude drops matching lines and counts them', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: 'GET /healthz' });
    expect(run(f, ACCESS)).toEqual([null, ACCESS[1], ACCESS[2]]);
    expect(f.stats()).toEqual({ dropped: 1 });
  });

  it('flags: i', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: 'kube-probe|/healthz', flags: 'i' });
    expect(run(f, ACCESS)).toEqual([null, ACCESS[1], null]);
  });

  it('include keeps only matching lines', () => {
    const f = make(includeFactory, { type: 'include', pattern: '" (4|5)\\d\\d |POST' });
    expect(run(f, ACCESS)).toEqual([null, ACCESS[1], null]);
    expect(f.stats()).toEqual({ dropped: 2 });
  });

  it('stream only, and stream + pattern', () => {
    const f = make(includeFactory, { type: 'include', stream: 'stderr' });
    expect(run(f, ['a'], 'stdout')).toEqual([null]);
    expect(run(f, ['a'], 'stderr')).toEqual(['a']);
    const g = make(excludeFactory, { type: 'exclude', stream: 'stderr', pattern: '^DEBUG' });
    expect(run(g, ['DEBUG x'], 'stdout')).toEqual(['DEBUG x']);
    expect(run(g, ['DEBUG x', 'ERROR y'], 'stderr')).toEqual([null, 'ERROR y']);
  });

  it('field: tests String(fields[field]); a missing field does not match', () => {
    const inc = make(includeFactory, { type: 'include', field: 'status', pattern: '^5' });
    const exc = make(excludeFactory, { type: 'exclude', field: 'status', pattern: '^5' });
    const withStatus = (status: number | null) => {
      const e = entry('request');
      if (status !== null) e.fields = { status, path: '/x' };
      return e;
    };
    expect(inc.process(withStatus(503))).not.toBeNull();
    expect(inc.process(withStatus(200))).toBeNull();
    expect(inc.process(withStatus(null))).toBeNull();
    expect(exc.process(withStatus(503))).toBeNull();
    expect(exc.process(withStatus(null))).not.toBeNull();
  });

  it('sees only the line, not the bytes around it in the read buffer', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: 'Bearer|AKIA' });
    expect(run(f, ['clean line'])).toEqual(['clean line']);
  });

  it.each([
    [{ type: 'exclude' }, /^test: give pattern, stream or both \(expected \{type: "exclude", pattern\?: string/],
    [{ type: 'exclude', pattern: 3 }, /^test: pattern: Invalid input: expected string, received number/],
    [{ type: 'exclude', pattern: 'a', flags: 'g' }, /^test: flags: flags may only be i, m and s/],
    [{ type: 'exclude', pattern: 'a', flags: 'u' }, /^test: flags: flags may only be i, m and s/],
    [{ type: 'exclude', stream: 'both' }, /^test: stream: Invalid option: expected one of "stdout"\|"stderr"/],
    [{ type: 'exclude', stream: 'stdout', field: 'x' }, /^test: field and flags only apply together with pattern/],
    [{ type: 'exclude', pattern: '(' }, /^test: pattern: invalid regular expression/],
    [{ type: 'exclude', pattern: '(?<=x)y' }, /^test: pattern: .*cannot run in linear time/],
    [{ type: 'exclude', patern: 'x' }, /^test: Unrecognized key: "patern"/],
  ])('%j is refused', (raw, message) => {
    expect(() => excludeFactory.parseOptions(raw, 'test')).toThrow(message);
  });

  it('the type must match the factory', () => {
    expect(() => includeFactory.parseOptions({ type: 'exclude', pattern: 'x' }, 'w')).toThrow(/^w: type: expected "include"/);
  });
});
