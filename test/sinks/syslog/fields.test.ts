import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { LogEntry, type FieldValue } from '../../../src/docker/log-entry.js';
import type { Logger } from '../../../src/log.js';
import { SyslogEncoder, sdParamName, structuredData } from '../../../src/sinks/syslog/format.js';
import { SyslogSink } from '../../../src/sinks/syslog/index.js';
import { parseSyslogOptions } from '../../../src/sinks/syslog/options.js';

const savedTz = process.env.TZ;
afterEach(() => {
  process.env.TZ = savedTz;
});

// 2024-05-01T14:00:03.123Z
const T1 = Date.UTC(2024, 4, 1, 14, 0, 3, 123);

type Format = '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro';

function enc(format: Format, octet = false): SyslogEncoder {
  return new SyslogEncoder({ format, facility: 3 << 3, tag: 'abc123', hostname: 'host1', pid: 4242, octetCounting: octet });
}

function encode(e: SyslogEncoder, line: string, opts: { stderr?: boolean; severity?: number; fields?: Record<string, FieldValue> | null; subMs?: number } = {}): string {
  const b = Buffer.from(line);
  const fields = opts.fields ?? null;
  const out = Buffer.alloc(e.maxLength(b.length, T1, fields));
  const end = e.encodeInto(out, 0, b, 0, b.length, opts.stderr ?? false, T1, opts.subMs ?? 0, opts.severity ?? -1, fields);
  expect(end).toBeLessThanOrEqual(out.length);
  return out.toString('utf8', 0, end);
}

describe('syslog: severity and filter fields', () => {
  it('is byte-identical to the plain encoding with severity -1 and fields null', () => {
    process.env.TZ = 'UTC';
    for (const format of ['', 'rfc3164', 'rfc5424', 'rfc5424micro'] as const) {
      for (const octet of [false, true]) {
        const e = enc(format, octet);
        for (const stderr of [false, true]) {
          const b = Buffer.from('hello');
          const plain = e.encode(b, 0, b.length, stderr, T1, 7).toString('latin1');
          expect(Buffer.from(encode(e, 'hello', { stderr, subMs: 7 })).toString('latin1')).toBe(plain);
          expect(Buffer.from(encode(e, 'hello', { stderr, subMs: 7, severity: stderr ? 3 : 6, fields: {} })).toString('latin1')).toBe(plain);
        }
      }
    }
    expect(encode(enc('rfc5424'), 'hello')).toBe('<30>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 - hello\n');
  });

  it('priority = facility*8 + severity when a filter set the severity', () => {
    process.env.TZ = 'UTC';
    for (let sev = 0; sev < 8; sev++) {
      expect(encode(enc(''), 'a', { severity: sev, stderr: true })).toMatch(new RegExp(`^<${24 + sev}>May`));
      expect(encode(enc('rfc5424'), 'a', { severity: sev })).toMatch(new RegExp(`^<${24 + sev}>1 `));
    }
    const local7 = new SyslogEncoder({ format: 'rfc3164', facility: 23 << 3, tag: 't', hostname: 'h', pid: 1, octetCounting: false });
    expect(encode(local7, 'a', { severity: 0 })).toMatch(/^<184>/);
    expect(encode(local7, 'a', { severity: 7 })).toMatch(/^<191>/);
    // out of range: the stream decides
    expect(encode(local7, 'a', { severity: 8, stderr: true })).toMatch(/^<187>/);
  });

  it('rfc5424 carries the fields as STRUCTURED-DATA, each type as text', () => {
    process.env.TZ = 'UTC';
    const fields = { user: 'bob', status: 200, ratio: 0.5, ok: true, no: false, u: 'é' };
    expect(encode(enc('rfc5424'), 'hello', { fields, severity: 4 })).toBe(
      '<28>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 [logfan@32473 user="bob" status="200" ratio="0.5" ok="true" no="false" u="é"] hello\n',
    );
    expect(encode(enc('rfc5424micro'), 'hello', { fields: { a: 1 }, subMs: 456 })).toBe(
      '<30>1 2024-05-01T14:00:03.123456Z host1 abc123 4242 abc123 [logfan@32473 a="1"] hello\n',
    );
  });

  it('counts the structured data in the octet count', () => {
    process.env.TZ = 'UTC';
    const out = encode(enc('rfc5424', true), 'hello', { fields: { k: 'vé' } });
    const body = '<30>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 [logfan@32473 k="vé"] hello\n';
    expect(out).toBe(`${Buffer.byteLength(body)} ${body}`);
  });

  it('escapes ", \\ and ] in values and sanitises names (printable ASCII, no = space ] ", 32 at most)', () => {
    expect(structuredData({ q: 'a"b\\c]d[e=f' })!.toString()).toBe('[logfan@32473 q="a\\"b\\\\c\\]d[e=f"]');
    expect(sdParamName('a=b c]d"e')).toBe('a_b_c_d_e');
    expect(sdParamName('x'.repeat(40))).toBe('x'.repeat(32));
    expect(sdParamName('é😀\t\x7f')).toBe('____');
    expect(sdParamName('http.status-code[0]')).toBe('http.status-code[0_');
    expect(sdParamName('')).toBe('');
    // empty names are skipped; names that come out equal keep the later value in the first place
    expect(structuredData({ 'a b': 1, z: 2, a_b: 3, '': 4 })!.toString()).toBe('[logfan@32473 a_b="3" z="2"]');
    expect(structuredData({ '': 1 })).toBeNull();
  });

  it('writes "-" when no field is left', () => {
    process.env.TZ = 'UTC';
    expect(encode(enc('rfc5424'), 'x', { fields: { '': 'skip' } })).toBe('<30>1 2024-05-01T14:00:03Z host1 abc123 4242 abc123 - x\n');
  });

  it('leaves fields out of rfc3164 and the default format', () => {
    process.env.TZ = 'UTC';
    expect(encode(enc('rfc3164'), 'hello', { fields: { a: 1 }, severity: 2 })).toBe('<26>May  1 14:00:03 host1 abc123[4242]: hello\n');
    expect(encode(enc(''), 'hello', { fields: { a: 1 } })).toBe('<30>May  1 14:00:03 abc123[4242]: hello\n');
  });

  it('maxLength bounds long values that need escaping', () => {
    process.env.TZ = 'UTC';
    const fields = { ['日'.repeat(50)]: ']"\\'.repeat(1000) + '😀'.repeat(100), n: -1.2345678901234567e-300, b: false };
    const out = encode(enc('rfc5424micro', true), 'x', { fields, severity: 0 });
    expect(out).toContain('[logfan@32473 ________________________________="' + '\\]\\"\\\\'.repeat(1000));
  });
});

describe('syslog sink passes the entry severity and fields', () => {
  it('sends PRI and STRUCTURED-DATA from the entry', async () => {
    const srv = dgram.createSocket('udp4');
    const got: string[] = [];
    srv.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
    const logger = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
    const info = {
      Config: {}, ContainerID: 'c'.repeat(64), ContainerName: '/n', ContainerEntrypoint: 'sh', ContainerArgs: [], ContainerImageID: '',
      ContainerImageName: '', ContainerCreated: '', ContainerEnv: [], ContainerLabels: {}, LogPath: '', DaemonName: 'docker',
    };
    const sink = new SyslogSink(parseSyslogOptions({ 'syslog-address': `udp://127.0.0.1:${(srv.address()).port}`, 'syslog-format': 'rfc5424', 'syslog-facility': 'local0' }), 'TAG', info, logger);
    try {
      sink.start();
      const plain = LogEntry.of({ source: 'stderr', timeSec: 1, timeNsec: 0, line: Buffer.from('plain') });
      const filtered = LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('filtered') });
      filtered.fields = { level: 'warn', n: 1 };
      filtered.severity = 4;
      sink.write(plain);
      sink.write(filtered);
      sink.flush();
      const end = Date.now() + 10_000;
      while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(got).toHaveLength(2);
      expect(got[0]).toMatch(/^<131>1 \S+ \S+ TAG \d+ TAG - plain\n$/);
      expect(got[1]).toMatch(/^<132>1 \S+ \S+ TAG \d+ TAG \[logfan@32473 level="warn" n="1"\] filtered\n$/);
    } finally {
      await sink.close();
      srv.close();
    }
  });
});

describe('syslog: many fields', () => {
  it('keeps the later value of clashing names in the first place past the short scan', () => {
    const fields: Record<string, FieldValue> = { 'a b': 'first' };
    for (let i = 0; i < 40; i++) fields[`k${i}`] = i;
    fields['a=b'] = 'second';
    const sd = structuredData(fields)!.toString();
    expect(sd.startsWith('[logfan@32473 a_b="second" k0="0" k1="1"')).toBe(true);
    expect(sd.match(/a_b=/g)).toHaveLength(1);
    expect(sd.endsWith(' k39="39"]')).toBe(true);
  });
  it('escapes non-ASCII values byte for byte', () => {
    expect(structuredData({ v: 'é]"\\😀' })!.toString()).toBe('[logfan@32473 v="é\\]\\"\\\\😀"]');
    const long = 'x]'.repeat(100);
    expect(structuredData({ v: long })!.toString()).toBe(`[logfan@32473 v="${'x\\]'.repeat(100)}"]`);
  });
});
