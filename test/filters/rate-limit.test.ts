import { describe, expect, it } from 'vitest';
import { rateLimitFactory, sampleFactory } from '../../src/filters/rate-limit.js';
import { entry, make } from './helpers.js';

function clock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

describe('rate-limit', () => {
  it('passes a burst, then refills at rate per second', () => {
    const c = clock();
    const f = make(rateLimitFactory, { type: 'rate-limit', rate: 10, burst: 5 }, undefined, { now: c.now });
    const pass = (n: number) => Array.from({ length: n }, () => f.process(entry('x')) !== null).filter(Boolean).length;
    expect(pass(8)).toBe(5);
    c.t += 100; // 1 token
    expect(pass(3)).toBe(1);
    c.t += 250; // 2.5 tokens
    expect(pass(3)).toBe(2);
    c.t += 50; // 0.5 + 0.5 = 1
    expect(pass(2)).toBe(1);
    c.t += 60_000; // capped at burst
    expect(pass(10)).toBe(5);
    expect(f.stats()).toEqual({ dropped: 8 - 5 + 2 + 1 + 1 + 5 });
  });

  it('burst defaults to rate; a fractional rate still lets a line through now and then', () => {
    const c = clock();
    const f = make(rateLimitFactory, { type: 'rate-limit', rate: 0.5 }, undefined, { now: c.now });
    expect(f.process(entry('a'))).not.toBeNull();
    expect(f.process(entry('b'))).toBeNull();
    c.t += 1999;
    expect(f.process(entry('c'))).toBeNull();
    c.t += 2001;
    expect(f.process(entry('d'))).not.toBeNull();
  });

  it('steady state: rate lines per second over a simulated minute', () => {
    const c = clock();
    const f = make(rateLimitFactory, { type: 'rate-limit', rate: 100 }, undefined, { now: c.now });
    let passed = 0;
    for (let i = 0; i < 60_000; i++) {
      c.t += 1; // 1000 lines/s offered
      if (f.process(entry('x')) !== null) passed++;
    }
    expect(passed).toBeGreaterThanOrEqual(100 * 60);
    expect(passed).toBeLessThanOrEqual(100 * 60 + 100);
  });

  it.each([
    [{ type: 'rate-limit' }, /^test: rate: Invalid input: expected number, received undefined \(expected \{type: "rate-limit", rate: number > 0/],
    [{ type: 'rate-limit', rate: 0 }, /^test: rate: Too small/],
    [{ type: 'rate-limit', rate: 10, burst: 0.5 }, /^test: burst: Too small/],
  ])('%j is refused', (raw, message) => {
    expect(() => rateLimitFactory.parseOptions(raw, 'test')).toThrow(message);
  });
});

describe('sample', () => {
  it('keeps 1 in N', () => {
    const f = make(sampleFactory, { type: 'sample', every: 3 });
    const kept = Array.from({ length: 10 }, (_, i) => f.process(entry(`l${i}`))?.text() ?? null).filter((x) => x !== null);
    expect(kept).toEqual(['l0', 'l3', 'l6', 'l9']);
    expect(f.stats()).toEqual({ dropped: 6 });
  });

  it('every: 1 keeps everything', () => {
    const f = make(sampleFactory, { type: 'sample', every: 1 });
    for (let i = 0; i < 5; i++) expect(f.process(entry('x'))).not.toBeNull();
  });

  it.each([
    [{ type: 'sample', every: 0 }, /^test: every: Too small.*\(expected \{type: "sample", every: integer >= 1/],
    [{ type: 'sample', every: 2.5 }, /^test: every: Invalid input: expected int/],
  ])('%j is refused', (raw, message) => {
    expect(() => sampleFactory.parseOptions(raw, 'test')).toThrow(message);
  });
});
