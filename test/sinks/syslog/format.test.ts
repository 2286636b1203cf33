import { afterEach, describe, expect, it } from 'vitest';
import { SyslogEncoder, formatRfc3339Local, formatRfc3339MicroLocal, formatStamp, goZoneOffset } from '../../../src/sinks/syslog/format.js';

const savedTz = process.env.TZ;
afterEach(() => {
  process.env.TZ = savedTz;
});

// 2024-05-01T14:00:03.123Z and 2024-01-05T04:05:06Z
const T1 = Date.UTC(2024, 4, 1, 14, 0, 3, 123);
const T2 = Date.UTC(2024, 0, 5, 4, 5, 6, 0);

function enc(format: '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro', line: Buffer | string, opts: { stderr?: boolean; octet?: boolean; facility?: number; now?: number; subMs?: number } = {}): string {
  const e = new SyslogEncoder({ format, facility: opts.facility ?? 3 << 3, tag: 'abc123', hostname: 'host1', pid: 4242, octetCounting: opts.octet ?? false });
  const b = typeof line === 'string' ? Buffer.from(line) : line;
  return e.encode(b, 0, b.length, opts.stderr ?? false, opts.now ?? T1, opts.subMs ?? 0).toString('latin1');
}

describe('Go time layouts in the local zone', () => {
  it('formats time.Stamp with a space-padded day', () => {
    process.env.TZ = 'UTC';
    expect(formatStamp(new Date(T1))).toBe('May  1 14:00:03');
    expect(formatStamp(new Date(Date.UTC(2024, 11, 25, 0, 0, 0)))).toBe('Dec 25 00:00:00');
  });
  it('uses Z for a zero offset and ±hh:mm otherwise, like Go Z07:00', () => {
    process.env.TZ = 'UTC';
    expect(formatRfc3339Local(new Date(T1))).toBe('2024-05-01T14:00:03Z');
    expect(formatRfc3339MicroLocal(new Date(T1), 123456)).toBe('2024-05-01T14:00:03.123456Z');
    process.env.TZ = 'Asia/Kolkata';
    expect(formatRfc3339Local(new Date(T1))).toBe('2024-05-01T19:30:03+05:30');
    expect(formatStamp(new Date(T1))).toBe('May  1 19:30:03');
    process.env.TZ = 'America/New_York';
    expect(goZoneOffset(new Date(T2))).toBe('-05:00');
    expect(formatRfc3339MicroLocal(new Date(T2), 7)).toBe('2024-01-04T23:05:06.000007-05:00');
    process.env.TZ = 'Europe/London';
    // GMT in winter has offset 0: Go prints Z, not +00:00.
    expect(formatRfc3339Local(new Date(T2))).toBe('2024-01-05T04:05:06Z');
  });
});

describe('SyslogEncoder: Docker\'s layouts, byte for byte', () => {
  it('default (Unix) format has no hostname', () => {
    process.env.TZ = 'UTC';
    expect(enc('', 'hello world')).toBe('<30>May  1 14:00:03 abc123[4242]: hello world\n');
    expect(enc('', 'oops', { stderr: true })).toBe('<27>May  1 14:00:03 abc123[4242]: oops\n');
  });
  it('rfc3164 adds the hostname', () => {
    process.env.TZ = 'UTC';
    expect(enc('rfc3164', 'hello')).toBe('<30>May  1 14:00:03 host1 abc123[4242]: hello\n');
  });
  it('rfc5424 repeats the tag as APP-NAME and MSGID, seconds precision', () => {
    process.env.TZ = 'UTC';
    expect(enc('rfc5424', 'hello')).toBe('<30>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 - hello\n');
  });
  it('rfc5424micro has six fractional digits from the wall clock', () => {
    process.env.TZ = 'UTC';
    expect(enc('rfc5424micro', 'hello', { subMs: 456 })).toBe('<30>1 2024-05-01T14:00:03.123456Z host1 abc123 4242 abc123 - hello\n');
    expect(enc('rfc5424micro', 'x', { now: T2, subMs: 9 })).toBe('<30>1 2024-01-05T04:05:06.000009Z host1 abc123 4242 abc123 - x\n');
  });
  it('octet counting prefixes the length including the newline (RFC 5425)', () => {
    process.env.TZ = 'UTC';
    const body = '<30>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 - hello\n';
    expect(enc('rfc5424', 'hello', { octet: true })).toBe(`${Buffer.byteLength(body)} ${body}`);
  });
  it('priority = facility*8 + severity', () => {
    process.env.TZ = 'UTC';
    expect(enc('', 'a', { facility: 23 << 3 })).toMatch(/^<190>/);
    expect(enc('', 'a', { facility: 23 << 3, stderr: true })).toMatch(/^<187>/);
    expect(enc('', 'a', { facility: 0 })).toMatch(/^<6>/);
    expect(enc('', 'a', { facility: 0, stderr: true })).toMatch(/^<3>/);
  });
  it('keeps the raw bytes (tabs, \\r, invalid UTF-8) and adds no second newline', () => {
    process.env.TZ = 'UTC';
    const raw = Buffer.from([0x61, 0x09, 0xff, 0xfe, 0x22, 0x3c, 0x26, 0x0d]);
    const e = new SyslogEncoder({ format: '', facility: 24, tag: 't', hostname: 'h', pid: 1, octetCounting: false });
    const out = e.encode(raw, 0, raw.length, false, T1, 0);
    expect(out).toEqual(Buffer.concat([Buffer.from('<30>May  1 14:00:03 t[1]: '), raw, Buffer.from('\n')]));
    const withNl = Buffer.from('ends\n');
    expect(e.encode(withNl, 0, withNl.length, false, T1, 0).toString()).toBe('<30>May  1 14:00:03 t[1]: ends\n');
  });
  it('encodes a slice of a larger buffer and a UTF-8 tag', () => {
    process.env.TZ = 'UTC';
    const e = new SyslogEncoder({ format: 'rfc5424', facility: 24, tag: 'tâg', hostname: 'h', pid: 1, octetCounting: true });
    const b = Buffer.from('xxhelloyy');
    const out = e.encode(b, 2, 7, true, T1, 0);
    const body = Buffer.from('<27>1 2024-05-01T14:00:03Z h tâg 1 tâg - hello\n');
    expect(out).toEqual(Buffer.concat([Buffer.from(`${body.length} `), body]));
  });
});
