import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { LogEntry, type FieldValue } from '../../../src/docker/log-entry.js';
import { GelfEncoder, gelfFieldName } from '../../../src/sinks/gelf/encoder.js';

const ID = 'a'.repeat(60) + 'b0c1';

function info(): ContainerInfo {
  return {
    Config: {},
    ContainerID: ID,
    ContainerName: '/web-1',
    ContainerEntrypoint: 'sh',
    ContainerArgs: ['-c', 'true'],
    ContainerImageID: 'sha256:' + 'c'.repeat(64),
    ContainerImageName: 'busybox:latest',
    ContainerCreated: '2024-05-01T12:00:00Z',
    ContainerEnv: ['FOO=bar'],
    ContainerLabels: { app: 'web' },
    LogPath: '',
    DaemonName: 'docker',
  };
}

function entry(line: string, source = 'stdout', fields: Record<string, FieldValue> | null = null, severity = -1): LogEntry {
  const e = LogEntry.of({ source, timeSec: 1714564800, timeNsec: 123_456_789, line: Buffer.from(line) });
  e.fields = fields;
  e.severity = severity;
  return e;
}

const enc = (): GelfEncoder => GelfEncoder.forContainer(info(), { labels: 'app', env: 'FOO' }, undefined, 'h');

/** The JSON text after `"level":`. */
function afterTimestamp(out: Buffer): string {
  const s = out.toString();
  return s.slice(s.indexOf(',"level":'));
}

describe('gelf: filter fields and severity', () => {
  it('is byte-identical to the plain encoding with fields null and severity -1', () => {
    const e = enc();
    for (const src of ['stdout', 'stderr']) {
      const plain = e.encodeToBuffer(entry('x', src));
      expect(afterTimestamp(plain)).toMatch(src === 'stdout' ? /^,"level":6,"_FOO":"bar"/ : /^,"level":3,/);
      const viaSlowPath = e.encodeToBuffer(entry('x', src, null, src === 'stdout' ? 6 : 3));
      expect(viaSlowPath).toEqual(plain);
      expect(e.encodeToBuffer(entry('x', src, {}, -1))).toEqual(plain);
    }
  });

  it('uses the severity as level', () => {
    const e = enc();
    for (let sev = 0; sev < 8; sev++) {
      const json = JSON.parse(e.encodeToBuffer(entry('x', 'stdout', null, sev)).toString()) as Record<string, unknown>;
      expect(json['level']).toBe(sev);
    }
    // out of range: the stream decides
    expect(JSON.parse(e.encodeToBuffer(entry('x', 'stderr', null, 9)).toString())['level']).toBe(3);
  });

  it('writes each field type after the sorted extras, sorted, with Go escaping', () => {
    const e = enc();
    const out = e.encodeToBuffer(entry('x', 'stdout', { user: 'bob <b>\t"', count: 42, ratio: 0.5, ok: true, no: false, big: 1e21, nan: NaN }, 4));
    expect(afterTimestamp(out)).toBe(
      ',"level":4,"_FOO":"bar","_app":"web","_command":"sh -c true","_container_id":"' + ID + '","_container_name":"web-1",' +
        '"_created":"2024-05-01T12:00:00Z","_image_id":"sha256:' + 'c'.repeat(64) + '","_image_name":"busybox:latest",' +
        '"_tag":"' + ID.slice(0, 12) + '",' +
        '"_big":1e+21,"_count":42,"_nan":"NaN","_no":"false","_ok":"true","_ratio":0.5,"_user":"bob \\u003cb\\u003e\\t\\""}',
    );
    const json = JSON.parse(out.toString()) as Record<string, unknown>;
    expect(json['_count']).toBe(42);
    expect(json['_ok']).toBe('true');
  });

  it('escapes non-ASCII and invalid strings as the extras are', () => {
    const out = enc().encodeToBuffer(entry('x', 'stdout', { s: 'é\u2028\ud800\x7f' }));
    expect(afterTimestamp(out)).toContain('"_s":"é\\u2028\ufffd\x7f"}');
  });

  it('a field named like an extra replaces it (no duplicate key)', () => {
    const out = enc().encodeToBuffer(entry('x', 'stdout', { app: 'api', _tag: 'mine', container_id: 7 }));
    const s = out.toString();
    expect(s.match(/"_app"/g)).toHaveLength(1);
    expect(s.match(/"_tag"/g)).toHaveLength(1);
    expect(s.match(/"_container_id"/g)).toHaveLength(1);
    expect(afterTimestamp(out)).toBe(
      ',"level":6,"_FOO":"bar","_command":"sh -c true","_container_name":"web-1",' +
        '"_created":"2024-05-01T12:00:00Z","_image_id":"sha256:' + 'c'.repeat(64) + '","_image_name":"busybox:latest",' +
        '"_app":"api","_container_id":7,"_tag":"mine"}',
    );
  });

  it('sanitises names to [\\w.-], never sends _id, skips empty keys and merges clashing names', () => {
    expect(gelfFieldName('http.status-code')).toBe('_http.status-code');
    expect(gelfFieldName('a b/c')).toBe('_a_b_c');
    expect(gelfFieldName('é😀')).toBe('___');
    expect(gelfFieldName('_under')).toBe('_under');
    expect(gelfFieldName('id')).toBe('__id');
    expect(gelfFieldName('_id')).toBe('__id');
    expect(gelfFieldName('')).toBe('');
    const e = new GelfEncoder('h', {});
    const out = e.encodeToBuffer(entry('x', 'stdout', { 'a b': 1, a_b: 2, id: 'i', '': 'skip' }));
    expect(afterTimestamp(out)).toBe(',"level":6,"__id":"i","_a_b":2}');
  });

  it('appends the terminator and bounds its output', () => {
    const e = new GelfEncoder('h', { _x: 'y' }, Buffer.from([0]));
    const fields = { ['\x01'.repeat(50)]: '\x01'.repeat(300), n: -1.5e-7, b: true };
    const en = entry('\x01'.repeat(100), 'stdout', fields, 0);
    const out = e.encodeToBuffer(en);
    expect(out[out.length - 1]).toBe(0);
    expect(out.length).toBeLessThanOrEqual(e.maxEncodedLength(en));
    const json = JSON.parse(out.subarray(0, -1).toString()) as Record<string, unknown>;
    expect(json['_' + '_'.repeat(50)]).toBe('\x01'.repeat(300));
    expect(json['_n']).toBe(-1.5e-7);
  });
});

describe('gelf: many fields', () => {
  it('sorts and dedups past the insertion-sort size', () => {
    const fields: Record<string, FieldValue> = {};
    for (let i = 99; i >= 0; i--) fields[`k${String(i).padStart(3, '0')}`] = i;
    fields['k 005'] = 'clash'; // → _k_005, sorts before _k000
    fields['k.005'] = 'dot';
    fields['k_005'] = 'later';
    const out = new GelfEncoder('h', {}).encodeToBuffer(entry('x', 'stdout', fields));
    const text = afterTimestamp(out);
    const keys = [...text.matchAll(/"(_[^"]*)":/g)].map((m) => m[1]);
    expect(keys).toEqual([...new Set(keys)].sort());
    expect(keys).toHaveLength(102);
    const json = JSON.parse(out.toString()) as Record<string, unknown>;
    expect(json['_k_005']).toBe('later');
    expect(json['_k.005']).toBe('dot');
    expect(json['_k042']).toBe(42);
  });
});
