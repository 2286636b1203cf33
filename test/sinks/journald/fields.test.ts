import { describe, expect, it } from 'vitest';
import { LogEntry, type FieldValue, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { JournaldEncoder, containerVars, journaldFieldName } from '../../../src/sinks/journald/encoder.js';
import { parseNative } from './native-protocol.js';
import { ID, info } from './fixtures.js';

function entry(line: string, fields: Record<string, FieldValue> | null, over: Partial<LogEntryInput> = {}, severity = -1): LogEntry {
  const e = LogEntry.of({ source: 'stdout', timeSec: 1764403200, timeNsec: 5, line: Buffer.from(line), ...over });
  e.fields = fields;
  e.severity = severity;
  return e;
}

function encode(enc: JournaldEncoder, e: LogEntry): Buffer {
  const out = Buffer.alloc(enc.maxEncodedLength(e));
  const end = enc.encode(e, out, 0);
  expect(end).toBeLessThanOrEqual(out.length);
  return out.subarray(0, end);
}

const fieldList = (b: Buffer): Array<[string, string]> => parseNative(b).map(([k, v]) => [k, v.toString()]);

const BASE: Array<[string, string]> = [
  ['CONTAINER_ID', '0123456789ab'],
  ['CONTAINER_ID_FULL', ID],
  ['CONTAINER_NAME', 'web-1'],
  ['CONTAINER_TAG', 'tag'],
  ['IMAGE_NAME', 'logfan-test/busybox:latest'],
  ['SYSLOG_IDENTIFIER', 'tag'],
];

const PID = 'ab'.repeat(32);

describe('journald: severity and filter fields', () => {
  const enc = new JournaldEncoder(containerVars(info(), 'tag', { 'com.example.team': 'core', APP_MODE: 'prod' }));

  it('is byte-identical with fields null and severity -1, and with an empty fields object', () => {
    const cases: Array<Partial<LogEntryInput>> = [{}, { source: 'stderr' }, { partial: true, partialId: PID, partialOrdinal: 2, partialLast: false }, { partial: true, partialId: PID, partialOrdinal: 3, partialLast: true }];
    for (const over of cases) {
      const plain = encode(enc, entry('m', null, over));
      expect(plain.toString('latin1').startsWith(over.source === 'stderr' ? 'PRIORITY=3\nMESSAGE=m\nCONTAINER_ID=' : 'PRIORITY=6\nMESSAGE=m\nCONTAINER_ID=')).toBe(true);
      expect(encode(enc, entry('m', {}, over))).toEqual(plain);
      expect(encode(enc, entry('m', null, over, over.source === 'stderr' ? 3 : 6))).toEqual(plain);
    }
  });

  it('PRIORITY is the severity when set (0..7), else the stream decides', () => {
    for (let sev = 0; sev < 8; sev++) {
      expect(encode(enc, entry('m', null, { source: 'stderr' }, sev)).toString('latin1').startsWith(`PRIORITY=${sev}\nMESSAGE=m\n`)).toBe(true);
    }
    expect(encode(enc, entry('m', null, { source: 'stderr' }, 12)).toString('latin1').startsWith('PRIORITY=3\n')).toBe(true);
  });

  it('writes each field type after the container fields, names sanitised as Docker sanitises labels', () => {
    const out = encode(enc, entry('m', { user: 'bob', 'http.status': 200, ratio: 0.25, ok: true, no: false, 'req-id': 'é' }, {}, 4));
    expect(fieldList(out)).toEqual([
      ['PRIORITY', '4'],
      ['MESSAGE', 'm'],
      ...BASE,
      ['COM_EXAMPLE_TEAM', 'core'],
      ['APP_MODE', 'prod'],
      ['USER', 'bob'],
      ['HTTP_STATUS', '200'],
      ['RATIO', '0.25'],
      ['OK', 'true'],
      ['NO', 'false'],
      ['REQ_ID', 'é'],
    ]);
  });

  it('a value holding a newline goes in the binary length form', () => {
    const out = encode(enc, entry('m', { stack: 'at a\nat b', x: 'é\n' }));
    const tail = out.subarray(out.length - ('STACK\n'.length + 8 + 9 + 1 + 'X\n'.length + 8 + 3 + 1));
    expect(tail).toEqual(
      Buffer.concat([
        Buffer.from('STACK\n'), Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('at a\nat b\n'),
        Buffer.from('X\n'), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('é\n\n'),
      ]),
    );
    expect(fieldList(out).slice(-2)).toEqual([['STACK', 'at a\nat b'], ['X', 'é\n']]);
  });

  it('a field replaces an extra of the same sanitised name; clashing keys keep the later value', () => {
    const out = encode(enc, entry('m', { app_mode: 'dev', 'a.b': 1, a_b: 2 }));
    expect(fieldList(out)).toEqual([['PRIORITY', '6'], ['MESSAGE', 'm'], ...BASE, ['COM_EXAMPLE_TEAM', 'core'], ['APP_MODE', 'dev'], ['A_B', '2']]);
  });

  it('never lets a field set MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, IMAGE_NAME or CONTAINER_*', () => {
    for (const k of ['message', 'MESSAGE', 'priority', 'syslog_identifier', 'image_name', 'container_name', 'container_id', 'container_partial_message', '_container_tag', '', '__', 'é']) {
      expect(journaldFieldName(k)).toBe('');
    }
    expect(journaldFieldName('_SOURCE_REALTIME_TIMESTAMP')).toBe('SOURCE_REALTIME_TIMESTAMP');
    expect(journaldFieldName('message_id')).toBe('MESSAGE_ID');
    const out = encode(enc, entry('m', { message: 'forged', priority: 0, container_name: 'evil', image_name: 'x', syslog_identifier: 'y', level: 'info' }));
    expect(fieldList(out)).toEqual([['PRIORITY', '6'], ['MESSAGE', 'm'], ...BASE, ['COM_EXAMPLE_TEAM', 'core'], ['APP_MODE', 'prod'], ['LEVEL', 'info']]);
  });

  it('partial pieces keep their fields, filter fields come last', () => {
    const out = encode(enc, entry('piece', { k: 'v' }, { partial: true, partialId: PID, partialOrdinal: 2, partialLast: false }, 5));
    expect(fieldList(out)).toEqual([
      ['PRIORITY', '5'],
      ['MESSAGE', 'piece'],
      ...BASE,
      ['COM_EXAMPLE_TEAM', 'core'],
      ['APP_MODE', 'prod'],
      ['CONTAINER_PARTIAL_ID', PID],
      ['CONTAINER_PARTIAL_ORDINAL', '2'],
      ['CONTAINER_PARTIAL_LAST', 'false'],
      ['CONTAINER_PARTIAL_MESSAGE', 'true'],
      ['K', 'v'],
    ]);
  });

  it('an extra named like a partial field is still replaced by the partial field with filter fields', () => {
    const e2 = new JournaldEncoder(containerVars(info(), 'tag', { container_partial_last: 'x' }));
    const p = { partial: true, partialId: PID, partialOrdinal: 1, partialLast: true };
    const plain = fieldList(encode(e2, entry('m', null, p)));
    const withFields = fieldList(encode(e2, entry('m', { k: 1 }, p)));
    expect(withFields).toEqual([...plain, ['K', '1']]);
  });

  it('maxEncodedLength bounds long UTF-8 names and values', () => {
    const e = entry('x', { ['日'.repeat(100)]: '😀\n'.repeat(1000), ['é'.repeat(50)]: -1.5e-300, b: true }, { partial: true, partialId: PID, partialOrdinal: 1, partialLast: false });
    expect(parseNative(encode(enc, e)).length).toBeGreaterThan(10);
  });
});

describe('journald: many fields', () => {
  it('keeps the later value of clashing names in the first place past the short scan', () => {
    const enc = new JournaldEncoder(containerVars(info(), 'tag', {}));
    const fields: Record<string, FieldValue> = { 'a.b': 'first' };
    for (let i = 0; i < 40; i++) fields[`k${i}`] = i;
    fields['a-b'] = 'second';
    fields['k.3'] = 'k3-second';
    fields['K_3'] = 'k3-third';
    const got = fieldList(encode(enc, entry('m', fields))).slice(2 + BASE.length);
    expect(got[0]).toEqual(['A_B', 'second']);
    expect(got).toHaveLength(1 + 40 + 1);
    expect(got.find(([k]) => k === 'K3')).toEqual(['K3', '3']);
    expect(got.find(([k]) => k === 'K_3')).toEqual(['K_3', 'k3-third']);
    expect(new Set(got.map(([k]) => k)).size).toBe(got.length);
  });
});
