import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { LogEntry, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { JournaldEncoder, containerVars, encodeField, sanitizeKeyMod } from '../../../src/sinks/journald/encoder.js';
import { journaldSinkFactory } from '../../../src/sinks/journald/index.js';
import { LogOptionError } from '../../../src/config/log-opts.js';
import type { Logger } from '../../../src/log.js';
import { parseNative } from './native-protocol.js';
import { info } from './fixtures.js';

import { ID } from './fixtures.js';


function entry(line: string | Buffer, extra: Partial<LogEntryInput> = {}): LogEntry {
  return LogEntry.of({ source: 'stdout', timeSec: 1764403200, timeNsec: 5, line: typeof line === 'string' ? Buffer.from(line) : line, ...extra });
}

function encode(enc: JournaldEncoder, e: LogEntry): Buffer {
  const out = Buffer.alloc(enc.maxEncodedLength(e));
  return out.subarray(0, enc.encode(e, out, 0));
}

const BASE =
  'CONTAINER_ID=0123456789ab\n' +
  `CONTAINER_ID_FULL=${ID}\n` +
  'CONTAINER_NAME=web-1\n' +
  'CONTAINER_TAG=0123456789ab\n' +
  'IMAGE_NAME=logfan-test/busybox:latest\n' +
  'SYSLOG_IDENTIFIER=0123456789ab\n';

describe('sanitizeKeyMod (journald.go)', () => {
  const cases: Array<[string, string]> = [
    ['com.example.team', 'COM_EXAMPLE_TEAM'],
    ['APP_MODE', 'APP_MODE'],
    ['_leading', 'LEADING'],
    ['__a__b', 'A__B'],
    ['.x', 'X'],
    ['1st.label', '1ST_LABEL'],
    ['é', ''],
    ['aé日😀', 'A___'],
    ['Mixed-Case9', 'MIXED_CASE9'],
    ['', ''],
  ];
  for (const [input, want] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => expect(sanitizeKeyMod(input)).toBe(want));
});

describe('go-systemd appendVariable', () => {
  it('writes NAME=value\\n when the value has no newline', () => {
    expect(encodeField('A', 'x=y\tz\r').toString('latin1')).toBe('A=x=y\tz\r\n');
  });
  it('writes NAME\\n + 64-bit little-endian length + value + \\n when it has one', () => {
    const b = encodeField('MULTI', 'a\nb');
    expect(b).toEqual(Buffer.concat([Buffer.from('MULTI\n'), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('a\nb\n')]));
  });
  it('counts bytes, not characters', () => {
    const b = encodeField('U', 'é\n');
    expect(b.readBigUInt64LE(2)).toBe(3n);
  });
  it('an empty value is NAME=\\n', () => expect(encodeField('E', '').toString()).toBe('E=\n'));
});

describe('JournaldEncoder: exact datagrams', () => {
  const plain = new JournaldEncoder(containerVars(info(), '0123456789ab', {}));

  it('stdout line: PRIORITY=6, MESSAGE, then the container fields', () => {
    expect(encode(plain, entry('hello world')).toString('latin1')).toBe('PRIORITY=6\nMESSAGE=hello world\n' + BASE);
  });

  it('stderr line: PRIORITY=3', () => {
    expect(encode(plain, entry('oops', { source: 'stderr' })).toString('latin1')).toBe('PRIORITY=3\nMESSAGE=oops\n' + BASE);
  });

  it('an empty line is MESSAGE=', () => {
    expect(encode(plain, entry('')).toString('latin1')).toBe('PRIORITY=6\nMESSAGE=\n' + BASE);
  });

  it('keeps tabs, quotes, controls and invalid UTF-8 as raw bytes', () => {
    const line = Buffer.from([0x09, 0x22, 0x3c, 0x26, 0xff, 0xfe, 0x41, 0x0d, 0x01, 0x3d]);
    const out = encode(plain, entry(line));
    expect(out).toEqual(Buffer.concat([Buffer.from('PRIORITY=6\nMESSAGE='), line, Buffer.from('\n' + BASE)]));
  });

  it('a line holding a newline goes in the binary form (never from Docker, kept correct)', () => {
    const out = encode(plain, entry('a\nb'));
    expect(out).toEqual(Buffer.concat([Buffer.from('PRIORITY=6\nMESSAGE\n'), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('a\nb\n' + BASE)]));
  });

  it('reads only the line out of a larger buffer', () => {
    const big = Buffer.from('xxline\nyy');
    const e = entry('');
    e.buf = big;
    e.lineStart = 2;
    e.lineEnd = 6;
    expect(encode(plain, e).toString('latin1')).toBe('PRIORITY=6\nMESSAGE=line\n' + BASE);
  });

  const PID = 'ab'.repeat(32);
  it('a non-closing fragment: PARTIAL_ID, ORDINAL, LAST=false and PARTIAL_MESSAGE=true', () => {
    const out = encode(plain, entry('x'.repeat(16384), { partial: true, partialId: PID, partialOrdinal: 1, partialLast: false }));
    expect(out.toString('latin1')).toBe(
      'PRIORITY=6\nMESSAGE=' + 'x'.repeat(16384) + '\n' + BASE +
        `CONTAINER_PARTIAL_ID=${PID}\nCONTAINER_PARTIAL_ORDINAL=1\nCONTAINER_PARTIAL_LAST=false\nCONTAINER_PARTIAL_MESSAGE=true\n`,
    );
  });

  it('the closing fragment: LAST=true and no PARTIAL_MESSAGE', () => {
    const out = encode(plain, entry('end', { partial: true, partialId: PID, partialOrdinal: 3, partialLast: true }));
    expect(out.toString('latin1')).toBe(
      'PRIORITY=6\nMESSAGE=end\n' + BASE + `CONTAINER_PARTIAL_ID=${PID}\nCONTAINER_PARTIAL_ORDINAL=3\nCONTAINER_PARTIAL_LAST=true\n`,
    );
  });

  it('maxEncodedLength bounds every case', () => {
    const enc = new JournaldEncoder(containerVars(info(), 't', { multi: 'a\nb' }));
    for (const e of [entry(''), entry('a\nb'), entry('x'.repeat(5000), { partial: true, partialId: PID, partialOrdinal: 123456, partialLast: false })]) {
      const out = Buffer.alloc(enc.maxEncodedLength(e));
      expect(enc.encode(e, out, 0)).toBeLessThanOrEqual(out.length);
    }
  });
});

describe('container fields: Go map semantics of journald.go', () => {
  it('extras come after the built-ins with sanitised names; a newline value in the binary form', () => {
    const enc = new JournaldEncoder(containerVars(info(), 'tag', { 'com.example.team': 'core', multi: 'a\nb', APP_MODE: 'prod' }));
    const fields = parseNative(encode(enc, entry('m')));
    expect(fields.map(([k, v]) => [k, v.toString()])).toEqual([
      ['PRIORITY', '6'],
      ['MESSAGE', 'm'],
      ['CONTAINER_ID', '0123456789ab'],
      ['CONTAINER_ID_FULL', ID],
      ['CONTAINER_NAME', 'web-1'],
      ['CONTAINER_TAG', 'tag'],
      ['IMAGE_NAME', 'logfan-test/busybox:latest'],
      ['SYSLOG_IDENTIFIER', 'tag'],
      ['COM_EXAMPLE_TEAM', 'core'],
      ['MULTI', 'a\nb'],
      ['APP_MODE', 'prod'],
    ]);
  });

  it('an extra named like a built-in replaces its value (one field); PRIORITY and MESSAGE are sent twice', () => {
    const enc = new JournaldEncoder(containerVars(info(), 'tag', { container_name: 'override', priority: '1', message: 'dup' }));
    const fields = parseNative(encode(enc, entry('m'))).map(([k, v]) => `${k}=${v.toString()}`);
    expect(fields.filter((f) => f.startsWith('CONTAINER_NAME='))).toEqual(['CONTAINER_NAME=override']);
    expect(fields.filter((f) => f.startsWith('PRIORITY='))).toEqual(['PRIORITY=6', 'PRIORITY=1']);
    expect(fields.filter((f) => f.startsWith('MESSAGE='))).toEqual(['MESSAGE=m', 'MESSAGE=dup']);
  });

  it('partial fields replace extras of the same name; a closing fragment keeps an extra CONTAINER_PARTIAL_MESSAGE', () => {
    const enc = new JournaldEncoder(containerVars(info(), 'tag', { container_partial_id: 'x', container_partial_message: 'label' }));
    const whole = parseNative(encode(enc, entry('m'))).map(([k, v]) => `${k}=${v.toString()}`);
    expect(whole).toContain('CONTAINER_PARTIAL_ID=x');
    expect(whole).toContain('CONTAINER_PARTIAL_MESSAGE=label');
    const first = parseNative(encode(enc, entry('m', { partial: true, partialId: 'id', partialOrdinal: 1 }))).map(([k, v]) => `${k}=${v.toString()}`);
    expect(first.filter((f) => f.startsWith('CONTAINER_PARTIAL_'))).toEqual([
      'CONTAINER_PARTIAL_ID=id',
      'CONTAINER_PARTIAL_ORDINAL=1',
      'CONTAINER_PARTIAL_LAST=false',
      'CONTAINER_PARTIAL_MESSAGE=true',
    ]);
    const last = parseNative(encode(enc, entry('m', { partial: true, partialId: 'id', partialOrdinal: 2, partialLast: true }))).map(([k, v]) => `${k}=${v.toString()}`);
    expect(last.filter((f) => f.startsWith('CONTAINER_PARTIAL_'))).toEqual([
      'CONTAINER_PARTIAL_MESSAGE=label',
      'CONTAINER_PARTIAL_ID=id',
      'CONTAINER_PARTIAL_ORDINAL=2',
      'CONTAINER_PARTIAL_LAST=true',
    ]);
  });
});

describe('journald sink factory: options as Docker takes them', () => {
  const logger = { warn() {}, info() {}, error() {}, debug() {} } as unknown as Logger;
  const ctx = (options: Record<string, string>, i: ContainerInfo = info()) => ({ info: i, options, logger });

  it("takes Docker's journald option names", () => {
    expect([...journaldSinkFactory.optionNames].sort()).toEqual(['env', 'env-regex', 'labels', 'labels-regex', 'tag']);
  });

  it('refuses a bad tag template naming the option', () => {
    expect(() => journaldSinkFactory.validate(ctx({ tag: '{{.Nope}}' }))).toThrow(LogOptionError);
    expect(() => journaldSinkFactory.validate(ctx({ tag: '{{.Nope}}' }))).toThrow(/log opt tag=.*can't evaluate field Nope/);
    expect(() => journaldSinkFactory.validate(ctx({ tag: '{{.ID' }))).toThrow(/log opt tag=.*unclosed action/);
  });

  it('refuses a bad regex naming the option', () => {
    expect(() => journaldSinkFactory.validate(ctx({ 'labels-regex': '(' }))).toThrow(/labels-regex/);
    expect(() => journaldSinkFactory.validate(ctx({ 'env-regex': '[' }))).toThrow(/env-regex/);
  });

  it('accepts good options', () => {
    expect(() => journaldSinkFactory.validate(ctx({ tag: '{{.Name}}/{{.ID}}', labels: 'multi', 'labels-regex': '^com\\.', env: 'APP_MODE', 'env-regex': '^P' }))).not.toThrow();
  });
});
