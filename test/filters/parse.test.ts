import { describe, expect, it } from 'vitest';
import { levelToSeverity, parseFactory, parseLogfmt } from '../../src/filters/parse.js';
import { entry, make } from './helpers.js';

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
