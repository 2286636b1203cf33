import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { levelToSeverity, type LogfmtKeyCache, parseFactory, parseLogfmt } from '../../src/filters/parse.js';
import { entry, make } from './helpers.js';
import { flattenRef, parseLogfmtRef } from './reference.js';

function parsed(raw: Record<string, unknown>, line: string, fields: Record<string, string | number | boolean> | null = null) {
  const f = make(parseFactory, { type: 'parse', ...raw });
  const e = entry(line);
  e.fields = fields;
  const out = f.process(e)!;
  return { line: out.text(), fields: out.fields, severity: out.severity, stats: f.stats(), same: out.buf === e.buf };
}

const PINO = '{"level":50,"time":1710252137342,"pid":1,"hostname":"api-7f9c","req":{"id":"req-42","method":"POST","url":"/orders","headers":{"x-request-id":"abc"}},"err":{"type":"Error","message":"db down","stack":"Error: db down\\n    at q (/app/db.js:3:9)"},"msg":"request failed"}';
const ZAP = '{"level":"warn","ts":1710252137.342,"caller":"server/handler.go:88","msg":"slow request","latency":1.532,"path":"/search","tags":["a","b"],"user":null,"cached":false}';
const ECS = '  {"@timestamp":"2024-03-12T14:02:17.342Z","log.level":"ERROR","log":{"logger":"app"},"message":"boom","service":{"name":"api"}}';
const LOGRUS = 'time="2024-03-12T14:02:17Z" level=warning msg="disk usage high" path=/var/lib/docker used_pct=91.5 inodes=120034 ok=false err="write /x: no space left on device"';

describe('parse json', () => {
  it('pino: flattened fields, numeric level 50 → error (3), message key', () => {
    const r = parsed({ format: 'json', messageKey: 'msg' }, PINO);
    expect(r.line).toBe('request failed');
    expect(r.severity).toBe(3);
    expect(r.fields).toEqual({
      level: 50,
      time: 1710252137342,
      pid: 1,
      hostname: 'api-7f9c',
      'req.id': 'req-42',
      'req.method': 'POST',
      'req.url': '/orders',
      'req.headers.x-request-id': 'abc',
      'err.type': 'Error',
      'err.message': 'db down',
      'err.stack': 'Error: db down\n    at q (/app/db.js:3:9)',
    });
  });

  it('zap: string level, arrays and null JSON-encoded, booleans kept', () => {
    const r = parsed({ format: 'json' }, ZAP);
    expect(r.severity).toBe(4);
    expect(r.fields).toMatchObject({ level: 'warn', ts: 1710252137.342, latency: 1.532, tags: '["a","b"]', user: 'null', cached: false, msg: 'slow request' });
    expect(r.line).toBe(ZAP);
    expect(r.same).toBe(true);
  });

  it('ECS: log.level (a dotted key) and leading blanks', () => {
    const r = parsed({ format: 'auto', messageKey: 'message' }, ECS);
    expect(r.severity).toBe(3);
    expect(r.line).toBe('boom');
    expect(r.fields).toEqual({ '@timestamp': '2024-03-12T14:02:17.342Z', 'log.level': 'ERROR', 'log.logger': 'app', 'service.name': 'api' });
  });

  it('prefix, custom levelKeys, existing fields kept', () => {
    const r = parsed({ format: 'json', prefix: 'app.', levelKeys: ['sev'], messageKey: 'm' }, '{"sev":"NOTICE","m":"hi","n":1}', { container: 'x' });
    expect(r).toMatchObject({ line: 'hi', severity: 5, fields: { container: 'x', 'app.sev': 'NOTICE', 'app.n': 1 } });
  });

  it('a line that is not JSON, or not an object, passes unchanged and counts as unparsed', () => {
    for (const line of ['{"unterminated": ', '{not json}', 'plain text', '[1,2,3]', '']) {
      const r = parsed({ format: 'json' }, line);
      expect(r).toMatchObject({ line, fields: null, severity: -1, same: true });
      expect(r.stats).toEqual({ parsed: 0, unparsed: 1 });
    }
  });

  it('messageKey that is not a string leaves the line', () => {
    expect(parsed({ format: 'json', messageKey: 'msg' }, '{"msg":{"a":1}}')).toMatchObject({ line: '{"msg":{"a":1}}', fields: { 'msg.a': 1 } });
  });
});

describe('parse logfmt', () => {
  it('logrus text format', () => {
    const r = parsed({ format: 'logfmt', messageKey: 'msg' }, LOGRUS);
    expect(r.line).toBe('disk usage high');
    expect(r.severity).toBe(4);
    expect(r.fields).toEqual({ time: '2024-03-12T14:02:17Z', level: 'warning', path: '/var/lib/docker', used_pct: 91.5, inodes: 120034, ok: false, err: 'write /x: no space left on device' });
  });

  it('go-kit style with escapes and empty values', () => {
    const out: Record<string, string | number | boolean> = {};
    expect(parseLogfmt('ts=2024-03-12T14:02:17.342Z caller=main.go:42 lvl=info msg="said \\"hi\\"\\n" empty= id=007 n=-1.5e3', out, '')).toBe(true);
    expect(out).toEqual({ ts: '2024-03-12T14:02:17.342Z', caller: 'main.go:42', lvl: 'info', msg: 'said "hi"\n', empty: '', id: '007', n: -1500 });
  });

  it('text that merely contains = is not logfmt', () => {
    for (const line of ['GET /api?x=1 200', 'msg=hello world', 'a=b=c', 'key="unterminated', 'x="a"b', '=value']) {
      expect(parsed({ format: 'logfmt' }, line), line).toMatchObject({ fields: null, same: true });
    }
  });

  it('auto picks json or logfmt', () => {
    expect(parsed({ format: 'auto' }, '{"lvl":"debug"}')).toMatchObject({ fields: { lvl: 'debug' }, severity: 7 });
    expect(parsed({ format: 'auto' }, 'level=30 msg=ok')).toMatchObject({ fields: { level: 30, msg: 'ok' }, severity: 6 });
    expect(parsed({ format: 'auto' }, '2024-03-12 INFO plain')).toMatchObject({ fields: null, stats: { parsed: 0, unparsed: 1 } });
  });
});

describe('levels', () => {
  it.each([
    ['emerg', 0], ['EMERGENCY', 0], ['panic', 0], ['alert', 1], ['crit', 2], ['Critical', 2], ['FATAL', 2], ['err', 3], ['error', 3], ['WARN', 4],
    ['warning', 4], ['notice', 5], ['info', 6], ['informational', 6], ['debug', 7], ['trace', 7],
    [10, 7], [20, 7], [30, 6], [40, 4], [50, 3], [60, 2], [0, 0], [7, 7], ['3', 3], [35, -1], ['loud', -1], [true, -1],
  ] as const)('%j → %i', (level, severity) => {
    expect(levelToSeverity(level)).toBe(severity);
  });
});

describe('parse options', () => {
  it.each([
    [{ type: 'parse' }, /^test: format: Invalid option: expected one of "json"\|"logfmt"\|"auto" \(expected \{type: "parse", format:/],
    [{ type: 'parse', format: 'xml' }, /^test: format: Invalid option/],
    [{ type: 'parse', format: 'json', levelKeys: 'level' }, /^test: levelKeys: Invalid input: expected array/],
  ])('%j is refused', (raw, message) => {
    expect(() => parseFactory.parseOptions(raw, 'test')).toThrow(message);
  });
});

describe('parse fast paths (same fields as before)', () => {
  const SEED = 20261129;
  /** Fields with their key order and prototype, which toEqual alone does not compare. */
  const shape = (o: Record<string, unknown> | null) =>
    o === null ? null : { keys: Object.keys(o), values: Object.values(o), proto: Object.getPrototypeOf(o) === Object.prototype, ownProto: Object.hasOwn(o, '__proto__') };

  it('json: a flat object is used as it is, nested ones flattened, with the same keys in the same order (property)', () => {
    const key = fc.oneof(fc.constantFrom('level', 'msg', 'a', 'a.b', '', '0', '7', '10', '-1', '1.5', '__proto__', 'constructor', 'toString', 'é', 'log.level'), fc.string({ maxLength: 4 }));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 6 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 2 }), tie('o')),
      o: fc.dictionary(key, tie('v'), { maxKeys: 4 }),
    }));
    fc.assert(
      fc.property(fc.dictionary(key, value.v, { maxKeys: 6 }), fc.constantFrom('', 'app.'), (obj, prefix) => {
        const line = JSON.stringify(obj);
        const f = make(parseFactory, { type: 'parse', format: 'json', prefix });
        const e = entry(line);
        f.process(e);
        const expected: Record<string, string | number | boolean> = {};
        flattenRef(JSON.parse(line) as Record<string, unknown>, prefix, expected, 0);
        expect(shape(e.fields)).toEqual(shape(expected));
      }),
      { numRuns: 3000, seed: SEED },
    );
    // the cases by hand: __proto__ is dropped as before, numeric keys first as before
    expect(parsed({ format: 'json' }, '{"__proto__":"x","a":1}').fields).toEqual({ a: 1 });
    expect(Object.hasOwn(parsed({ format: 'json' }, '{"__proto__":"x","a":1}').fields!, '__proto__')).toBe(false);
    expect(Object.keys(parsed({ format: 'json' }, '{"b":1,"10":2,"a":3,"2":4}').fields!)).toEqual(['2', '10', 'b', 'a']);
  });

  it('logfmt: quoted values, escapes and the key cache give the fields parsing did before (property)', () => {
    const piece = fc.constantFrom('a', 'b', 'ab', 'level', 'msg', 'k', '=', '"', '\\', '\\"', '\\n', '\\t', '\\r', '\\u0041', '\\u00e9', '\\uZZZZ', '\\x', ' ', '  ', '\t', 'true', 'false', '12', '-3.5', '1e3', '007', '-', '.', 'é', '☕', 'x=1', 'y="a b"', 'z=', 'msg="said \\"hi\\""');
    const line = fc.array(piece, { maxLength: 14 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), fc.constantFrom('', 'p.'), (lines, prefix) => {
        const cache: LogfmtKeyCache = { keys: [], names: [] };
        for (const s of lines) {
          const got: Record<string, string | number | boolean> = {};
          const want: Record<string, string | number | boolean> = {};
          const ok = parseLogfmtRef(s, want, prefix);
          expect(parseLogfmt(s, got, prefix, cache), s).toBe(ok);
          if (ok) expect(shape(got), s).toEqual(shape(want));
          const plain: Record<string, string | number | boolean> = {};
          expect(parseLogfmt(s, plain, prefix), s).toBe(ok);
          if (ok) expect(shape(plain), s).toEqual(shape(want));
        }
      }),
      { numRuns: 4000, seed: SEED },
    );
  });

  it('logfmt: the key cache follows lines whose keys change, grow and shrink', () => {
    const f = make(parseFactory, { type: 'parse', format: 'logfmt', prefix: 'x.' });
    const fields = (line: string) => {
      const e = entry(line);
      f.process(e);
      return e.fields;
    };
    expect(fields('a=1 b=2')).toEqual({ 'x.a': 1, 'x.b': 2 });
    expect(fields('a=1 bb=2 c=3')).toEqual({ 'x.a': 1, 'x.bb': 2, 'x.c': 3 });
    expect(fields('ab=1 b=2')).toEqual({ 'x.ab': 1, 'x.b': 2 });
    expect(fields('a=1')).toEqual({ 'x.a': 1 });
    expect(fields('b=1 a=2 c=3')).toEqual({ 'x.b': 1, 'x.a': 2, 'x.c': 3 });
  });
});
