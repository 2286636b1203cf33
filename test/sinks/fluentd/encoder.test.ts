import { describe, expect, it } from 'vitest';
import { LogEntry } from '../../../src/docker/log-entry.js';
import { FluentdEncoder, writeInt64 } from '../../../src/sinks/fluentd/encoder.js';
import { decodeValue, parseEvent } from './forward-receiver.js';

const ID = 'a'.repeat(64);

function enc(cfg: Partial<ConstructorParameters<typeof FluentdEncoder>[0]> = {}): FluentdEncoder {
  return new FluentdEncoder({ tag: 'abc', containerId: ID, containerName: '/web', extra: {}, subSecondPrecision: false, requestAck: false, ...cfg });
}

function encode(e: FluentdEncoder, entry: LogEntry): Buffer {
  const out = Buffer.alloc(e.maxLength(entry));
  return out.subarray(0, e.encode(entry, out, 0));
}

const s = (t: string): string => {
  const b = Buffer.from(t);
  if (b.length > 31) throw new Error('test helper: short strings only');
  return (0xa0 | b.length).toString(16) + b.toString('hex');
};

describe('fluentd encoder: exact bytes', () => {
  it('encodes a plain line as Docker does (int32 seconds, fixed map, empty option)', () => {
    const entry = LogEntry.of({ source: 'stdout', timeSec: 1700000000, timeNsec: 123456789, line: Buffer.from('hi') });
    const hex = encode(enc(), entry).toString('hex');
    const expected =
      '94' + s('abc') + 'd26553f100' + '84' +
      s('container_id') + 'd940' + Buffer.from(ID).toString('hex') +
      s('container_name') + s('/web') + s('source') + s('stdout') + s('log') + s('hi') + '80';
    expect(hex).toBe(expected);
  });

  it('writes EventTime (d7 00 + BE seconds + BE nanoseconds) with sub-second precision', () => {
    const entry = LogEntry.of({ source: 'stderr', timeSec: 1700000000, timeNsec: 123456789, line: Buffer.from('') });
    const b = encode(enc({ subSecondPrecision: true }), entry);
    const at = 1 + 4;
    expect(b.subarray(at, at + 10).toString('hex')).toBe('d700' + '6553f100' + '075bcd15');
    const ev = parseEvent(decodeValue(b, 0).value, b);
    expect(ev.sec).toBe(1700000000);
    expect(ev.nsec).toBe(123456789);
    expect(ev.record.get('log')!.length).toBe(0);
    expect(ev.record.get('source')!.toString()).toBe('stderr');
  });

  it('uses msgp AppendInt64 forms for odd times', () => {
    const w = (v: number): string => {
      const b = Buffer.alloc(9);
      return b.subarray(0, writeInt64(b, 0, v)).toString('hex');
    };
    expect(w(5)).toBe('05');
    expect(w(200)).toBe('d100c8');
    expect(w(70000)).toBe('d200011170');
    expect(w(2 ** 31)).toBe('d30000000080000000');
    expect(w(-1)).toBe('ff');
    expect(w(-100)).toBe('d09c');
  });

  it('keeps the line bytes raw in a str (invalid UTF-8 untouched) with str8/str16/str32 headers', () => {
    const e = enc();
    for (const len of [0, 31, 32, 255, 256, 65535, 65536]) {
      const line = Buffer.alloc(len, 0xff);
      const b = encode(e, LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line }));
      const ev = parseEvent(decodeValue(b, 0).value, b);
      expect(ev.record.get('log')!.equals(line)).toBe(true);
      const logEntry = ev.recordValue.entries.find(([k]) => (k as { v: Buffer }).v.toString() === 'log')![1];
      const head = logEntry.raw[0];
      expect(head).toBe(len <= 31 ? 0xa0 | len : len <= 255 ? 0xd9 : len <= 65535 ? 0xda : 0xdb);
    }
  });

  it('writes partial metadata keys for every piece, and extras override base keys', () => {
    const e = enc({ extra: { app: 'web', log: 'from-label', partial_last: 'x', container_name: 'override' } });
    const entry = LogEntry.of({
      source: 'stdout', timeSec: 10, timeNsec: 0, line: Buffer.from('piece'),
      partial: true, partialId: 'f'.repeat(64), partialOrdinal: 2, partialLast: false,
    });
    const b = encode(e, entry);
    const ev = parseEvent(decodeValue(b, 0).value, b);
    const rec = Object.fromEntries([...ev.record].map(([k, v]) => [k, v.toString()]));
    expect(rec).toEqual({
      container_id: ID,
      container_name: 'override',
      source: 'stdout',
      log: 'from-label',
      app: 'web',
      partial_message: 'true',
      partial_id: 'f'.repeat(64),
      partial_ordinal: '2',
      partial_last: 'false',
    });
    const whole = encode(e, LogEntry.of({ source: 'stdout', timeSec: 10, timeNsec: 0, line: Buffer.from('x') }));
    const ev2 = parseEvent(decodeValue(whole, 0).value, whole);
    expect(ev2.record.get('partial_last')!.toString()).toBe('x');
    expect(ev2.record.has('partial_message')).toBe(false);
  });

  it('uses map16 past 15 keys', () => {
    const extra: Record<string, string> = {};
    for (let i = 0; i < 20; i++) extra[`k${i}`] = `v${i}`;
    const b = encode(enc({ extra }), LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('x') }));
    const ev = parseEvent(decodeValue(b, 0).value, b);
    expect(ev.recordValue.header.toString('hex')).toBe('de0018');
    expect(ev.record.size).toBe(24);
  });

  it('adds {chunk: base64(LE seconds + 8 random bytes)} with request-ack', () => {
    const e = enc({ requestAck: true });
    e.random = (into, off) => Buffer.from('0102030405060708', 'hex').copy(into, off);
    const b = encode(e, LogEntry.of({ source: 'stdout', timeSec: 1700000000, timeNsec: 0, line: Buffer.from('x') }));
    const ev = parseEvent(decodeValue(b, 0).value, b);
    const expectedId = Buffer.concat([Buffer.from('00f1536500000000', 'hex'), Buffer.from('0102030405060708', 'hex')]).toString('base64');
    expect(ev.chunk).toBe(expectedId);
    expect(ev.option!.raw.toString('hex')).toBe('81a56368756e6bb8' + Buffer.from(expectedId).toString('hex'));
    expect(b.subarray(b.length - 24).toString()).toBe(expectedId);
    // the real random source gives distinct ids
    const r = enc({ requestAck: true });
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const x = encode(r, LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('x') }));
      ids.add(x.subarray(x.length - 24).toString());
    }
    expect(ids.size).toBe(2000);
  });

  it('encodes a long tag and UTF-8 extras as str with byte lengths', () => {
    const tag = 'é'.repeat(40);
    const b = encode(enc({ tag, extra: { 'lbl.é': 'v"<>&' } }), LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('x') }));
    expect(b.subarray(0, 3).toString('hex')).toBe('94d950');
    const ev = parseEvent(decodeValue(b, 0).value, b);
    expect(ev.tag.toString()).toBe(tag);
    expect(Buffer.from('lbl.é').toString('latin1')).toBe([...ev.record.keys()].find((k) => k.startsWith('lbl')));
  });
});
