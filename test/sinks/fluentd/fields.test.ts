import { describe, expect, it } from 'vitest';
import { LogEntry, type FieldValue, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { FluentdEncoder } from '../../../src/sinks/fluentd/encoder.js';
import { decodeValue, type MsgValue } from './forward-receiver.js';

const ID = 'a'.repeat(64);

function enc(cfg: Partial<ConstructorParameters<typeof FluentdEncoder>[0]> = {}): FluentdEncoder {
  return new FluentdEncoder({ tag: 'abc', containerId: ID, containerName: '/web', extra: {}, subSecondPrecision: false, requestAck: false, ...cfg });
}

function entry(line: string, fields: Record<string, FieldValue> | null, over: Partial<LogEntryInput> = {}, severity = -1): LogEntry {
  const e = LogEntry.of({ source: 'stdout', timeSec: 1700000000, timeNsec: 0, line: Buffer.from(line), ...over });
  e.fields = fields;
  e.severity = severity;
  return e;
}

function encode(e: FluentdEncoder, en: LogEntry): Buffer {
  const out = Buffer.alloc(e.maxLength(en));
  const end = e.encode(en, out, 0);
  expect(end).toBeLessThanOrEqual(out.length);
  return out.subarray(0, end);
}

/** The record map: keys in order with each value's raw msgpack bytes (hex); checks the whole event parses. */
function record(b: Buffer): { header: string; entries: Array<[string, string]> } {
  const { value, end } = decodeValue(b, 0);
  expect(end).toBe(b.length);
  if (value.t !== 'array') throw new Error('not an array');
  const rec = value.items[2] as Extract<MsgValue, { t: 'map' }>;
  const entries = rec.entries.map(([k, v]): [string, string] => [(k as { v: Buffer }).v.toString(), v.raw.toString('hex')]);
  return { header: rec.header.toString('hex'), entries };
}

const str = (t: string): string => {
  const b = Buffer.from(t);
  return (b.length <= 31 ? (0xa0 | b.length).toString(16) : 'd9' + b.length.toString(16).padStart(2, '0')) + b.toString('hex');
};

describe('fluentd: filter fields', () => {
  it('is byte-identical with fields null, whatever the severity', () => {
    const e = enc({ extra: { app: 'web' } });
    for (const over of [{}, { source: 'stderr' }, { partial: true, partialId: 'p', partialOrdinal: 1, partialLast: true }]) {
      const plain = encode(e, entry('hello', null, over));
      expect(encode(e, entry('hello', null, over, 2))).toEqual(plain);
    }
    const plain = encode(e, entry('hello', null));
    expect(record(plain).entries.map(([k]) => k)).toEqual(['container_id', 'container_name', 'app', 'source', 'log']);
  });

  it('an empty fields object gives the same bytes as no fields', () => {
    const e = enc({ extra: { app: 'web' } });
    expect(encode(e, entry('hello', {}))).toEqual(encode(e, entry('hello', null)));
    const p = { partial: true, partialId: 'p', partialOrdinal: 3, partialLast: false };
    expect(encode(e, entry('hello', {}, p))).toEqual(encode(e, entry('hello', null, p)));
  });

  it('adds fields after Docker keys with msgpack types', () => {
    const b = encode(enc(), entry('hi', { user: 'bob', n: 42, neg: -200, big: 2 ** 40, f: 0.5, nan: NaN, t: true, no: false, u: 'é' }));
    const r = record(b);
    expect(r.header).toBe('8d');
    const f64 = (v: number): string => {
      const x = Buffer.alloc(9);
      x[0] = 0xcb;
      x.writeDoubleBE(v, 1);
      return x.toString('hex');
    };
    expect(r.entries).toEqual([
      ['container_id', 'd940' + Buffer.from(ID).toString('hex')],
      ['container_name', str('/web')],
      ['source', str('stdout')],
      ['log', str('hi')],
      ['user', str('bob')],
      ['n', '2a'],
      ['neg', 'd1ff38'],
      ['big', 'd30000010000000000'],
      ['f', f64(0.5)],
      ['nan', f64(NaN)],
      ['t', 'c3'],
      ['no', 'c2'],
      ['u', str('é')],
    ]);
  });

  it('a field named like a Docker key replaces it, and the map size counts what is written', () => {
    const e = enc({ extra: { app: 'web' } });
    const r = record(encode(e, entry('raw line', { log: 'parsed message', container_name: 'x', app: 'api', source: 'parsed', level: 'info' })));
    expect(r.header).toBe('86');
    expect(r.entries).toEqual([
      ['container_id', 'd940' + Buffer.from(ID).toString('hex')],
      ['log', str('parsed message')],
      ['container_name', str('x')],
      ['app', str('api')],
      ['source', str('parsed')],
      ['level', str('info')],
    ]);
  });

  it('replaces partial keys and extras that made source/log static, skips empty keys', () => {
    const e = enc({ extra: { log: 'from-label' } });
    const p = { partial: true, partialId: 'pid', partialOrdinal: 2, partialLast: false };
    const r = record(encode(e, entry('piece', { partial_ordinal: 9, partial_message: false, log: 'f', '': 'skip', k: 'v' }, p)));
    expect(r.entries.map(([k]) => k)).toEqual(['container_id', 'container_name', 'source', 'partial_id', 'partial_last', 'partial_ordinal', 'partial_message', 'log', 'k']);
    expect(r.header).toBe('89');
    expect(Object.fromEntries(r.entries)['log']).toBe(str('f'));
    expect(Object.fromEntries(r.entries)['partial_ordinal']).toBe('09');
  });

  it('switches to map16 when fields push the record past 15 keys', () => {
    const fields: Record<string, FieldValue> = {};
    for (let i = 0; i < 14; i++) fields[`k${i}`] = i;
    const r = record(encode(enc(), entry('x', fields)));
    expect(r.header).toBe('de0012');
    expect(r.entries).toHaveLength(18);
  });

  it('bounds its output with long UTF-8 keys and values', () => {
    const e = enc({ requestAck: true, subSecondPrecision: true });
    const en = entry('x'.repeat(1000), { ['日'.repeat(100)]: '😀'.repeat(30000), ['é'.repeat(20)]: -1.25 });
    const b = encode(e, en);
    const r = record(b);
    expect(r.entries).toHaveLength(6);
  });
});
