import { describe, expect, it } from 'vitest';
import { writeLogString } from '../../../src/sinks/json-file/escape.js';
import { goJsonString, goJsonStringMap } from '../../../src/sinks/util/go-json.js';
import { JsonFileEncoder } from '../../../src/sinks/json-file/encoder.js';
import { LogEntry, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { formatRfc3339NanoUtc, parseRfc3339, TimestampWriter } from '../../../src/docker/timestamp.js';

function esc(bytes: Buffer | string): string {
  const src = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const out = Buffer.alloc(src.length * 6 + 8);
  return out.subarray(0, writeLogString(out, 0, src, 0, src.length)).toString('latin1');
}

function entry(line: string | Buffer, extra: Partial<LogEntryInput> = {}): LogEntry {
  return LogEntry.of({
    source: 'stdout',
    timeSec: 1764403200,
    timeNsec: 120000000,
    line: typeof line === 'string' ? Buffer.from(line) : line,
    ...extra,
  });
}

function encode(enc: JsonFileEncoder, e: LogEntry): string {
  const out = Buffer.alloc(JsonFileEncoder.maxEncodedLength(e, enc.attrsLength));
  return out.subarray(0, enc.encode(e, out, 0)).toString('utf8');
}

describe("Docker's json-file log string escaping", () => {
  const cases: Array<[string, Buffer | string, string]> = [
    ['plain ASCII', 'hello world', 'hello world'],
    ['quote and backslash', 'a"b\\c', 'a\\"b\\\\c'],
    ['newline and carriage return', 'a\nb\rc', 'a\\nb\\rc'],
    ['tab, backspace, form feed as \\u00xx', 'a\tb\bc\fd', 'a\\u0009b\\u0008c\\u000cd'],
    ['other controls', '\x00\x01\x1b\x1f', '\\u0000\\u0001\\u001b\\u001f'],
    ['HTML characters', '<a>&', '\\u003ca\\u003e\\u0026'],
    ['DEL is raw', '\x7f', '\x7f'],
    ['U+2028 and U+2029', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['valid multi-byte UTF-8 is raw', 'é日😀', Buffer.from('é日😀').toString('latin1')],
    ['a literal U+FFFD is raw', '\ufffd', Buffer.from('\ufffd').toString('latin1')],
    ['each invalid byte becomes \\ufffd', Buffer.from([0xff, 0xfe]), '\\ufffd\\ufffd'],
    ['truncated 3-byte sequence: one per byte', Buffer.from([0xe2, 0x80, 0x41]), '\\ufffd\\ufffdA'],
    ['overlong encoding', Buffer.from([0xc0, 0xaf]), '\\ufffd\\ufffd'],
    ['surrogate half (ED A0 80)', Buffer.from([0xed, 0xa0, 0x80]), '\\ufffd\\ufffd\\ufffd'],
    ['above U+10FFFF (F4 90 80 80)', Buffer.from([0xf4, 0x90, 0x80, 0x80]), '\\ufffd\\ufffd\\ufffd\\ufffd'],
    ['4-byte sequence at the end, cut', Buffer.from([0x61, 0xf0, 0x9f, 0x98]), 'a\\ufffd\\ufffd\\ufffd'],
    ['lone continuation byte', Buffer.from([0x80]), '\\ufffd'],
    ['F5 and above', Buffer.from([0xf5, 0x80, 0x80, 0x80]), '\\ufffd\\ufffd\\ufffd\\ufffd'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(esc(input)).toBe(expected));
  }
});

describe('Go encoding/json strings (attrs), as Docker 20.10 (Go 1.19) writes them', () => {
  it('escapes as Go does', () => {
    expect(goJsonString('a\tb\nc\rd\be\ff\x01<>&"\\\u2028\u2029')).toBe('"a\\tb\\nc\\rd\\u0008e\\u000cf\\u0001\\u003c\\u003e\\u0026\\"\\\\\\u2028\\u2029"');
    expect(goJsonString('\ud800x')).toBe('"\ufffdx"');
    expect(goJsonString('😀')).toBe('"😀"');
  });
  it('sorts keys by bytes', () => {
    expect(goJsonStringMap({ b: '1', a: '2', B: '3', é: '4', z: '5' })).toBe('{"B":"3","a":"2","b":"1","z":"5","é":"4"}');
  });
});

describe('json-file line encoding', () => {
  it('writes key order log, stream, time and a newline', () => {
    expect(encode(new JsonFileEncoder(null), entry('hi'))).toBe('{"log":"hi\\n","stream":"stdout","time":"2025-11-29T08:00:00.12Z"}\n');
  });
  it('writes attrs between stream and time', () => {
    const enc = new JsonFileEncoder('{"a":"1","tag":"web"}');
    expect(encode(enc, entry('x', { source: 'stderr' }))).toBe('{"log":"x\\n","stream":"stderr","attrs":{"a":"1","tag":"web"},"time":"2025-11-29T08:00:00.12Z"}\n');
  });
  it('writes an empty line as "\\n"', () => {
    expect(encode(new JsonFileEncoder(null), entry(''))).toContain('{"log":"\\n",');
  });
  it('adds no newline to non-last partial pieces, and one to the last', () => {
    const enc = new JsonFileEncoder(null);
    expect(encode(enc, entry('piece', { partial: true, partialLast: false }))).toMatch(/^\{"log":"piece","stream"/);
    expect(encode(enc, entry('end', { partial: true, partialLast: true }))).toMatch(/^\{"log":"end\\n","stream"/);
  });
  it('omits the log key for an empty non-last piece', () => {
    expect(encode(new JsonFileEncoder(null), entry('', { partial: true }))).toBe('{"stream":"stdout","time":"2025-11-29T08:00:00.12Z"}\n');
  });
});

describe('RFC3339Nano timestamps', () => {
  const cases: Array<[number, number, string]> = [
    [0, 0, '1970-01-01T00:00:00Z'],
    [1764403200, 1, '2025-11-29T08:00:00.000000001Z'],
    [1764403200, 100000000, '2025-11-29T08:00:00.1Z'],
    [1764403200, 123456780, '2025-11-29T08:00:00.12345678Z'],
    [1764403200, 999999999, '2025-11-29T08:00:00.999999999Z'],
    [-1, 999999999, '1969-12-31T23:59:59.999999999Z'],
    [9223372036, 854775807, '2262-04-11T23:47:16.854775807Z'],
  ];
  for (const [sec, nsec, text] of cases) {
    it(text, () => {
      expect(formatRfc3339NanoUtc(sec, nsec)).toBe(text);
      const w = new TimestampWriter();
      const out = Buffer.alloc(40);
      expect(out.subarray(0, w.write(out, 0, sec, nsec)).toString()).toBe(text);
      expect(parseRfc3339(text)).toEqual({ sec, nsec });
    });
  }
  it('parses offsets', () => {
    expect(parseRfc3339('2025-11-29T10:00:00.5+02:00')).toEqual({ sec: 1764403200, nsec: 500000000 });
  });
});
