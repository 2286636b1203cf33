import { describe, expect, it } from 'vitest';
import { LogEntry, type FieldValue, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { parseRfc3339 } from '../../../src/docker/timestamp.js';
import { JsonFileEncoder, compareGoKeys } from '../../../src/sinks/json-file/encoder.js';
import { parseRecordFast } from '../../../src/sinks/json-file/line-parser.js';
import { parseJsonLogLine } from '../../../src/sinks/json-file/reader.js';
import { goJsonStringMap } from '../../../src/sinks/util/go-json.js';

function entry(line: string | Buffer, fields: Record<string, FieldValue> | null, over: Partial<LogEntryInput> = {}, severity = -1): LogEntry {
  const e = LogEntry.of({ source: 'stdout', timeSec: 1764403200, timeNsec: 120000000, line: typeof line === 'string' ? Buffer.from(line) : line, ...over });
  e.fields = fields;
  e.severity = severity;
  return e;
}

function encode(enc: JsonFileEncoder, e: LogEntry): string {
  const out = Buffer.alloc(JsonFileEncoder.maxEncodedLength(e, enc.attrsLength));
  const end = enc.encode(e, out, 0);
  expect(end).toBeLessThanOrEqual(out.length);
  return out.toString('utf8', 0, end);
}

const TIME = '"time":"2025-11-29T08:00:00.12Z"}\n';

describe('json-file: filter fields in attrs', () => {
  it('is byte-identical with fields null, whatever the severity', () => {
    for (const attrs of [null, '{"a":"1","tag":"web"}']) {
      const enc = new JsonFileEncoder(attrs);
      for (const over of [{}, { source: 'stderr' }, { source: '' }, { partial: true }, { partial: true, partialLast: true }]) {
        for (const line of ['x', '']) {
          const plain = encode(enc, entry(line, null, over));
          expect(encode(enc, entry(line, null, over, 2))).toBe(plain);
          // An empty fields object adds nothing either (the generic path writes the same bytes).
          expect(encode(enc, entry(line, {}, over))).toBe(plain);
        }
      }
    }
    expect(encode(new JsonFileEncoder('{"a":"1"}'), entry('x', null))).toBe('{"log":"x\\n","stream":"stdout","attrs":{"a":"1"},' + TIME);
  });

  it('writes each field type as a string, sorted with the static attrs', () => {
    const enc = new JsonFileEncoder('{"app":"web","tag":"t"}');
    const out = encode(enc, entry('x', { user: 'bob', count: 42, ratio: 0.5, ok: true, no: false, Z: 'upper', 'é': 1 }, {}, 3));
    expect(out).toBe(
      '{"log":"x\\n","stream":"stdout","attrs":{"Z":"upper","app":"web","count":"42","no":"false","ok":"true","ratio":"0.5","tag":"t","user":"bob","é":"1"},' + TIME,
    );
  });

  it('a field replaces a static attr of the same name', () => {
    const enc = new JsonFileEncoder('{"app":"web","tag":"t"}');
    expect(encode(enc, entry('x', { tag: 'mine' }, { source: 'stderr' }))).toBe('{"log":"x\\n","stream":"stderr","attrs":{"app":"web","tag":"mine"},' + TIME);
  });

  it('adds attrs when there were none, skips empty keys, omits attrs when nothing is left', () => {
    const enc = new JsonFileEncoder(null);
    expect(encode(enc, entry('x', { k: 'v', '': 'skip' }))).toBe('{"log":"x\\n","stream":"stdout","attrs":{"k":"v"},' + TIME);
    expect(encode(enc, entry('x', { '': 'skip' }))).toBe('{"log":"x\\n","stream":"stdout",' + TIME);
    // no log key for an empty non-last piece, attrs still right
    expect(encode(enc, entry('', { k: 'v' }, { partial: true }))).toBe('{"stream":"stdout","attrs":{"k":"v"},' + TIME);
  });

  it('escapes keys and values as Go and sorts by UTF-8 bytes like goJsonStringMap', () => {
    const fields = { 'a"b': 'x<y>&\t\n\u2028', '\ud800': 'lone', '😀': 'astral', '\uffff': 'bmp', 'é': '\x7f' };
    const enc = new JsonFileEncoder('{"m":"n"}');
    const strFields = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]));
    expect(encode(enc, entry('x', fields))).toBe('{"log":"x\\n","stream":"stdout","attrs":' + goJsonStringMap({ m: 'n', ...strFields }) + ',' + TIME);
    const keys = ['b', 'a', 'B', 'é', 'z', '😀', '\uffff', '\ue000', 'ab', ''];
    expect([...keys].sort(compareGoKeys)).toEqual([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  });

  it('bounds its output for the worst case', () => {
    const enc = new JsonFileEncoder('{"a":"1"}');
    encode(enc, entry(Buffer.alloc(100, 1), { ['\x01'.repeat(100)]: '\x01'.repeat(1000), n: -1.2345678901234567e-300, b: true }, { source: 'weird"source' }));
  });
});

describe('json-file readers handle attrs of any content', () => {
  const tricky: Array<Record<string, FieldValue>> = [
    { time: '2001-01-01T00:00:00Z' },
    { v: '","time":"2001-01-01T00:00:00Z"}' },
    { v: '\\' },
    { 'k"}': '\\"', '\\': '}' },
    { log: 'not the log', stream: 'stderr' },
    { nested: '{"attrs":{"x":"y"}}', nl: 'a\nb', u: '\u2028é😀\ud800' },
    { n: 5, b: true },
  ];
  for (const fields of tricky) {
    it(JSON.stringify(fields), () => {
      const enc = new JsonFileEncoder('{"tag":"t"}');
      for (const source of ['stdout', 'stderr']) {
        const e = entry('the "line"\t\\', fields, { source, timeNsec: 5 });
        const text = encode(enc, e);
        const line = Buffer.from(text.slice(0, -1));
        const rec = JSON.parse(line.toString()) as { log: string; stream: string; attrs: Record<string, string>; time: string };
        expect(rec.log).toBe('the "line"\t\\\n');
        expect(rec.stream).toBe(source);
        expect(parseRfc3339(rec.time)).toEqual({ sec: 1764403200, nsec: 5 });
        for (const [k, v] of Object.entries(fields)) if (k !== '') expect(rec.attrs[k]).toBe(Buffer.from(String(v)).toString());
        const fast = parseRecordFast(line, 0, line.length);
        expect(fast).toBeDefined();
        expect({ ...fast!, log: fast!.log.toString() }).toEqual({ source, sec: 1764403200, nsec: 5, log: 'the "line"\t\\\n' });
        const viaReader = parseJsonLogLine(line, 0, line.length)!;
        expect({ ...viaReader, log: viaReader.log.toString() }).toEqual({ source, sec: 1764403200, nsec: 5, log: 'the "line"\t\\\n' });
      }
    });
  }
});
