import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { LogEntry } from '../../../src/docker/log-entry.js';
import { GelfEncoder, gelfExtraFields, gelfTimestamp, writeGelfTimestamp } from '../../../src/sinks/gelf/encoder.js';
import { goJsonFloat, goJsonString, goJsonStringMap } from '../../../src/sinks/util/go-json.js';

const ID = 'a'.repeat(60) + 'b0c1';

function info(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    Config: {},
    ContainerID: ID,
    ContainerName: '/web-1',
    ContainerEntrypoint: 'sh',
    ContainerArgs: ['-c', 'echo "hi"'],
    ContainerImageID: 'sha256:' + 'c'.repeat(64),
    ContainerImageName: 'busybox:latest',
    ContainerCreated: '2024-05-01T12:00:00.123456789Z',
    ContainerEnv: ['FOO=bar', 'PATH=/bin'],
    ContainerLabels: { app: 'web', container_id: 'label-wins', _under: 'x' },
    LogPath: '',
    DaemonName: 'docker',
    ...over,
  };
}

function entry(line: Buffer | string, source = 'stdout', sec = 1714564800, nsec = 123_456_789): LogEntry {
  return LogEntry.of({ source, timeSec: sec, timeNsec: nsec, line: Buffer.isBuffer(line) ? line : Buffer.from(line) });
}

describe('Go 1.19 encoding/json strings', () => {
  it('escapes like Go 1.19 with escapeHTML (no short \\b \\f before Go 1.22)', () => {
    expect(goJsonString('a"b\\c\n\r\t\b\f\x01\x1b\x7f<>&\u2028\u2029é😀')).toBe(
      '"a\\"b\\\\c\\n\\r\\t\\u0008\\u000c\\u0001\\u001b\x7f\\u003c\\u003e\\u0026\\u2028\\u2029é😀"',
    );
  });
  it('replaces each invalid UTF-8 byte with \\ufffd', () => {
    const enc = new GelfEncoder('h', {});
    const out = enc.encodeToBuffer(entry(Buffer.from([0x61, 0xff, 0xfe, 0xe2, 0x80, 0x41, 0xc3, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x7a])));
    expect(out.toString()).toContain('"short_message":"a\\ufffd\\ufffd\\ufffd\\ufffdA\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdz"');
  });
  it('sorts map keys by bytes', () => {
    expect(goJsonStringMap({ b: '1', _a: '2', 'é': '3', Z: '4', '😀': '5', '\uffff': '6' })).toBe('{"Z":"4","_a":"2","b":"1","é":"3","\uffff":"6","😀":"5"}');
  });
  it('formats float64 as Go does', () => {
    expect(goJsonFloat(1714564800.123)).toBe('1714564800.123');
    expect(goJsonFloat(1714564800)).toBe('1714564800');
    expect(goJsonFloat(1714564800.1)).toBe('1714564800.1');
    expect(goJsonFloat(1e21)).toBe('1e+21');
    expect(goJsonFloat(1e-7)).toBe('1e-7');
    expect(goJsonFloat(0.000001)).toBe('0.000001');
  });
});

describe('GELF timestamp', () => {
  it('truncates to milliseconds and divides by 1000 in float64', () => {
    expect(gelfTimestamp(1714564800, 123_999_999)).toBe(1714564800.123);
    expect(gelfTimestamp(1714564800, 0)).toBe(1714564800);
    expect(gelfTimestamp(1714564800, 999_999)).toBe(1714564800);
    expect(gelfTimestamp(1714564800, 10_000_000)).toBe(1714564800.01);
    // before 1970: Go's integer division truncates toward zero
    expect(gelfTimestamp(-1, 500_000_500)).toBe(-0.499);
  });
});

describe('writeGelfTimestamp', () => {
  it('writes what Go prints for the float64, for random and edge times', () => {
    const out = Buffer.alloc(64);
    const cases: Array<[number, number]> = [[0, 0], [0, 1_000_000], [9, 999_999_999], [10, 0], [1714564800, 0], [1714564800, 100_000_000], [1714564800, 120_000_000], [1714564800, 123_000_000], [99_999_999_999, 999_000_000], [1e11, 5_000_000], [-5, 250_000_000]];
    for (let i = 0; i < 20000; i++) cases.push([Math.floor(Math.random() * 4e9), Math.floor(Math.random() * 1e9)]);
    for (let i = 0; i < 2000; i++) cases.push([Math.floor(Math.random() * 1e11), Math.floor(Math.random() * 1e9)]);
    for (const [sec, nsec] of cases) {
      const end = writeGelfTimestamp(out, 0, sec, nsec);
      expect(out.toString('latin1', 0, end)).toBe(goJsonFloat(gelfTimestamp(sec, nsec)));
    }
  });
});

describe('GelfEncoder', () => {
  it('writes exactly the bytes go-gelf writes for Docker', () => {
    const raw = { tag: '{{.Name}}/{{.ImageName}}', labels: 'app,container_id,_under', env: 'FOO' };
    const enc = GelfEncoder.forContainer(info(), raw, undefined, 'myhost');
    const out = enc.encodeToBuffer(entry('hello\t"world" <b>&'));
    expect(out.toString()).toBe(
      '{"version":"1.1","host":"myhost","short_message":"hello\\t\\"world\\" \\u003cb\\u003e\\u0026","timestamp":1714564800.123,"level":6,' +
        '"_FOO":"bar","_app":"web","_command":"sh -c echo \\"hi\\"","_container_id":"label-wins","_container_name":"web-1",' +
        '"_created":"2024-05-01T12:00:00.123456789Z","_image_id":"sha256:' + 'c'.repeat(64) + '","_image_name":"busybox:latest",' +
        '"_tag":"web-1/busybox:latest","_under":"x"}',
    );
  });

  it('uses level 3 for stderr, the {{.ID}} default tag and appends the TCP terminator', () => {
    const enc = GelfEncoder.forContainer(info({ ContainerLabels: {} }), {}, Buffer.from([0]), 'h');
    const out = enc.encodeToBuffer(entry('x', 'stderr', 1714564800, 0));
    expect(out[out.length - 1]).toBe(0);
    const json = JSON.parse(out.subarray(0, -1).toString()) as Record<string, unknown>;
    expect(json).toEqual({
      version: '1.1',
      host: 'h',
      short_message: 'x',
      timestamp: 1714564800,
      level: 3,
      _command: 'sh -c echo "hi"',
      _container_id: ID,
      _container_name: 'web-1',
      _created: '2024-05-01T12:00:00.123456789Z',
      _image_id: 'sha256:' + 'c'.repeat(64),
      _image_name: 'busybox:latest',
      _tag: ID.slice(0, 12),
    });
    expect(out.subarray(0, -1).toString()).toMatch(/"timestamp":1714564800,"level":3,"_command"/);
  });

  it('bounds its output for the worst case line', () => {
    const enc = GelfEncoder.forContainer(info(), {}, undefined, 'h');
    const e = entry(Buffer.alloc(16384, 0x01));
    const out = enc.encodeToBuffer(e);
    expect(out.length).toBeLessThanOrEqual(enc.maxEncodedLength(e));
    expect(out.length).toBeGreaterThan(16384 * 6);
  });

  it('overlays extra attributes on the fixed fields', () => {
    const extra = gelfExtraFields(info(), { labels: 'container_id' });
    expect(extra['_container_id']).toBe('label-wins');
  });
});
