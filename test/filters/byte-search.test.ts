import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteLiteral, ByteMarkers } from '../../src/filters/byte-search.js';

const SEED = 20261129;
const RUNS = 3000;

/** ASCII A-Z → a-z, every other byte as it is. */
function foldAscii(b: Uint8Array): Buffer {
  return Buffer.from(b.map((c) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)));
}

/** Bytes from a small alphabet (so needles do occur), with the range to search somewhere inside. */
const haystack = fc
  .tuple(fc.array(fc.constantFrom(0x61, 0x62, 0x41, 0x42, 0x2d, 0x20, 0xc3, 0xa9, 0x00, 0xff), { maxLength: 80 }), fc.nat(), fc.nat())
  .map(([bytes, x, y]) => {
    const buf = Buffer.from(bytes);
    const a = buf.length === 0 ? 0 : x % (buf.length + 1);
    const b = a + (buf.length === 0 ? 0 : y % (buf.length - a + 1));
    return { buf, start: a, end: b };
  });
const needle = fc.array(fc.constantFrom(0x61, 0x62, 0x41, 0x42, 0x2d, 0x20, 0xc3, 0xa9, 0x00, 0xff), { maxLength: 6 }).map((b) => Buffer.from(b));

describe('ByteLiteral', () => {
  it('finds the needle only inside [start, end)', () => {
    const buf = Buffer.from('GET /healthz|GET /api GET /healthz');
    const lit = new ByteLiteral(Buffer.from('GET /healthz'));
    expect(lit.test(buf, 0, 12)).toBe(true);
    expect(lit.test(buf, 0, 11)).toBe(false); // the match would end past `end`
    expect(lit.test(buf, 1, 22)).toBe(false); // starts before `start`
    expect(lit.test(buf, 13, buf.length)).toBe(true);
    expect(lit.test(buf, 5, 5)).toBe(false);
    expect(new ByteLiteral(Buffer.alloc(0)).test(buf, 3, 3)).toBe(true); // '' matches everywhere, as /(?:)/ does
    expect(new ByteLiteral(Buffer.from('aab')).test(Buffer.from('aaab'), 0, 4)).toBe(true);
    expect(new ByteLiteral(Buffer.from('abcabd')).test(Buffer.from('abcabcabd'), 0, 9)).toBe(true);
  });

  it('caseless folds ASCII letters only', () => {
    const lit = new ByteLiteral(Buffer.from('Get /HealthZ'), true);
    expect(lit.test(Buffer.from('x gET /healthz y'), 0, 16)).toBe(true);
    expect(lit.test(Buffer.from('x gET /healthy y'), 0, 16)).toBe(false);
    expect(new ByteLiteral(Buffer.from('é'), true).test(Buffer.from('É'), 0, 2)).toBe(false);
  });

  it('agrees with Buffer#includes on the range (property)', () => {
    fc.assert(
      fc.property(haystack, needle, fc.boolean(), ({ buf, start, end }, n, caseless) => {
        const range = buf.subarray(start, end);
        const expected = caseless ? foldAscii(range).includes(foldAscii(n)) : range.includes(n);
        expect(new ByteLiteral(n, caseless).test(buf, start, end)).toBe(expected);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('ByteMarkers', () => {
  it('finds any needle in any ASCII case, only inside [start, end)', () => {
    const m = new ByteMarkers(['error', 'exception', 'fatal']);
    const t = (s: string, a = 0, b = Buffer.byteLength(s)) => m.test(Buffer.from(s), a, b);
    expect(t('java.lang.IllegalStateException: x')).toBe(true);
    expect(t('level=ERROR')).toBe(true);
    expect(t('FaTaL')).toBe(true);
    expect(t('all good, no errr')).toBe(false);
    expect(t('erro')).toBe(false);
    expect(t('xx error', 0, 7)).toBe(false);
    expect(t('error xx', 1)).toBe(false);
  });

  it('agrees with a plain search for each folded needle (property)', () => {
    const words = ['ab', 'aba', 'b-a', 'bb ab'];
    const m = new ByteMarkers(words);
    fc.assert(
      fc.property(haystack, ({ buf, start, end }) => {
        const range = foldAscii(buf.subarray(start, end));
        expect(m.test(buf, start, end)).toBe(words.some((w) => range.includes(Buffer.from(w))));
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
