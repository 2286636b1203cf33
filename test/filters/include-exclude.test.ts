import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogEntry } from '../../src/docker/log-entry.js';
import { excludeFactory, includeFactory, literalPattern, literalSearch } from '../../src/filters/include-exclude.js';
import { userRegex } from '../../src/filters/options.js';
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

describe('include / exclude: plain-string patterns searched in the bytes', () => {
  it('literalPattern: plain strings and escaped punctuation are literals; anything else is not', () => {
    expect(literalPattern('GET /healthz')).toBe('GET /healthz');
    expect(literalPattern('kube-probe/1\\.29')).toBe('kube-probe/1.29');
    expect(literalPattern('a\\\\b \\( \\[x\\] \\{ \\* \\+ \\? \\| \\^ \\$ \\/ \\-')).toBe('a\\b ( [x] { * + ? | ^ $ / -');
    expect(literalPattern('café ☕ 😀')).toBe('café ☕ 😀');
    expect(literalPattern('')).toBe('');
    for (const p of ['^GET', 'GET$', 'a.b', 'a|b', 'a*', 'a+', 'a?', '(a)', '[a]', 'a{2}', 'a}', 'a]', '\\d', '\\w', '\\bx', '\\n', '\\x41', '\\u0041', 'a\\', '\uFFFD', 'x\uD800', '\uDC00', '\uDC00\uD800', '\uD800x']) {
      expect(literalPattern(p), p).toBeNull();
    }
    // with i: only ASCII
    expect(literalSearch('GET /Healthz', 'i')).not.toBeNull();
    expect(literalSearch('café', 'i')).toBeNull();
    expect(literalSearch('café', 'ms')).not.toBeNull();
    expect(literalSearch('a.b', '')).toBeNull();
  });

  it('decides as the regex does on the decoded line, whatever the bytes (property)', () => {
    // Pieces of patterns and lines: ASCII in both cases, punctuation, multi-byte characters, and
    // (lines only) invalid UTF-8: truncated sequences, stray continuation bytes, overlongs.
    const textPieces = ['a', 'A', 'b', 'B', 'z', 'Z', ' ', '/', '.', '-', '(', 'é', 'É', 'ß', 'ſ', 'K', '☕', '😀', '\uFFFD', '\u212A', '\uFEFF'];
    const badBytes = [[0xc3], [0xa9], [0xe2, 0x98], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0xef, 0xbf, 0xbd]];
    const line = fc
      .array(fc.oneof(fc.constantFrom(...textPieces).map((t) => Buffer.from(t)), fc.constantFrom(...badBytes).map((b) => Buffer.from(b))), { maxLength: 24 })
      .map((parts) => Buffer.concat(parts));
    const escapes: Record<string, string> = { '.': '\\.', '(': '\\(', '-': '\\-', '/': '\\/' };
    // U+FFFD and a lone surrogate make a pattern a regex again (checked here too)
    const pattern = fc.array(fc.constantFrom(...textPieces, '\uD83D'), { maxLength: 4 }).chain((parts) =>
      fc.boolean().map((escape) => parts.map((p) => (p in escapes && (escape || p === '.' || p === '(') ? escapes[p] : p)).join('')),
    );
    const flags = fc.constantFrom('', 'i', 'm', 's', 'is', 'ims');
    fc.assert(
      fc.property(line, pattern, flags, fc.nat(4), (bytes, p, f, pad) => {
        const search = literalSearch(p, f);
        if (search === null) return; // not a literal (non-ASCII with i): the filter uses the regex
        // the line inside a larger buffer whose other bytes would match
        const around = Buffer.from(p.replace(/\\(.)/g, '$1').repeat(pad + 1), 'utf8');
        const buf = Buffer.concat([around, bytes, around]);
        const expected = userRegex(p, f, 'test', 'pattern').test(bytes.toString('utf8'));
        expect(search.test(buf, around.length, around.length + bytes.length)).toBe(expected);
      }),
      { numRuns: 5000, seed: 20261129 },
    );
  });

  it('the filters use it: same decisions, the line is not decoded, bytes around it are ignored', () => {
    const f = make(excludeFactory, { type: 'exclude', pattern: 'GET /healthz' });
    const buf = Buffer.from('GET /healthz|10.0.3.7 "GET /health" 200|GET /healthz');
    const e = LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: buf });
    e.lineStart = 13;
    e.lineEnd = buf.length - 13;
    expect(f.process(e)).toBe(e);
    e.lineEnd = buf.length;
    expect(f.process(e)).toBeNull();
    const g = make(includeFactory, { type: 'include', pattern: 'kube-PROBE', flags: 'i' });
    expect(run(g, ACCESS)).toEqual([ACCESS[0], null, ACCESS[2]]);
    const h = make(excludeFactory, { type: 'exclude', pattern: 'café' });
    expect(run(h, ['un café', 'un cafe', 'un CAFÉ'])).toEqual([null, 'un cafe', 'un CAFÉ']);
  });
});
