import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeLogEntry, encodeFrame, encodeLogEntry, LogEntryDecodeError, readFrameMaxSize, toNanos, writeReadFrame } from '../../src/docker/log-entry.js';

// The daemon's schema, as an independent oracle for our hand-written codec.
const root = protobuf.parse(`
syntax = "proto3";
message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }
message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4; PartialLogEntryMetadata partial_log_metadata = 5; }
`).root;
const LogEntryType = root.lookupType('LogEntry');

function oracleEncode(fields: Record<string, unknown>): Buffer {
  return Buffer.from(LogEntryType.encode(LogEntryType.fromObject(fields)).finish());
}

function split(nanos: bigint): { sec: number; nsec: number } {
  let sec = nanos / 1_000_000_000n;
  let nsec = nanos % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

describe('LogEntry codec', () => {
  it('decodes the reference frame from the protocol notes', () => {
    const frame = Buffer.from('00000019' + '0a067374646f7574' + '108080a8b1e39fe7cb17' + '1a0568656c6c6f', 'hex');
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const e = decodeLogEntry(frame, 4, frame.length);
    expect(e.source).toBe('stdout');
    expect(toNanos(e.timeSec, e.timeNsec)).toBe(1700000000000000000n);
    expect(e.line.toString()).toBe('hello');
    expect(e.partial).toBe(false);
  });

  const times = [
    0n,
    1n,
    999_999_999n,
    1_000_000_000n,
    1732000000123456789n,
    1764403200999999999n,
    (1n << 53n) + 1n,
    9223372036854775807n,
    -1n,
    -1_000_000_001n,
    -9223372036854775808n,
  ];
  for (const t of times) {
    it(`keeps time_nano ${t} exact`, () => {
      const buf = oracleEncode({ source: 'stderr', timeNano: protobuf.util.Long.fromString(t.toString()), line: Buffer.from('x') });
      const e = decodeLogEntry(buf, 0, buf.length);
      expect(toNanos(e.timeSec, e.timeNsec)).toBe(t);
      expect(e.timeNsec).toBeGreaterThanOrEqual(0);
      expect(e.timeNsec).toBeLessThan(1_000_000_000);
      const { sec, nsec } = split(t);
      expect(encodeLogEntry({ source: 'stderr', timeSec: sec, timeNsec: nsec, line: Buffer.from('x') })).toEqual(buf);
    });
  }

  it('matches the oracle byte for byte on random entries, both ways', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const line = Buffer.from(Array.from({ length: rnd(300) }, () => rnd(256)));
      const partial = rnd(3) === 0;
      const nanos = BigInt(rnd(2_000_000_000)) * 1_000_000_000n + BigInt(rnd(1_000_000_000));
      const { sec, nsec } = split(nanos);
      const fields: Record<string, unknown> = { source: rnd(2) ? 'stdout' : 'stderr', timeNano: protobuf.util.Long.fromString(nanos.toString()), line };
      const input = { source: fields.source as string, timeSec: sec, timeNsec: nsec, line, partial, partialLast: false, partialId: '', partialOrdinal: 0 };
      if (partial) {
        const meta = { last: rnd(2) === 1, id: 'ab'.repeat(32), ordinal: 1 + rnd(5000) };
        fields.partial = true;
        fields.partialLogMetadata = meta;
        Object.assign(input, { partialLast: meta.last, partialId: meta.id, partialOrdinal: meta.ordinal });
      }
      const expected = oracleEncode(fields);
      expect(encodeLogEntry(input)).toEqual(expected);
      const e = decodeLogEntry(expected, 0, expected.length);
      expect(e.source).toBe(input.source);
      expect(e.timeSec).toBe(sec);
      expect(e.timeNsec).toBe(nsec);
      expect(Buffer.compare(e.line, line)).toBe(0);
      expect(e.partial).toBe(partial);
      expect(e.partialLast).toBe(input.partialLast);
      expect(e.partialId).toBe(input.partialId);
      expect(e.partialOrdinal).toBe(input.partialOrdinal);
    }
  });

  it('writes ReadLogs frames identical to the general encoder for every time', () => {
    for (const t of [...times, 1764403200123456789n, 4294967295999999999n, 18446744073n * 1_000_000_000n - 1n]) {
      if (t > 9223372036854775807n) continue;
      const { sec, nsec } = split(t);
      for (const line of [Buffer.alloc(0), Buffer.from('x\n'), Buffer.alloc(300, 0x61)]) {
        const out = Buffer.alloc(readFrameMaxSize('stdout', line));
        const n = writeReadFrame(out, 0, 'stdout', sec, nsec, line);
        expect(out.subarray(0, n)).toEqual(encodeFrame({ source: 'stdout', timeSec: sec, timeNsec: nsec, line }));
      }
    }
  });

  it('returns line as a view, not a copy', () => {
    const frame = encodeFrame({ source: 'stdout', timeSec: 1, timeNsec: 2, line: Buffer.from('abc') });
    const e = decodeLogEntry(frame, 4, frame.length);
    expect(e.line.buffer).toBe(frame.buffer);
  });

  it('skips unknown fields of every wire type', () => {
    const known = oracleEncode({ source: 'stdout', line: Buffer.from('hi') });
    const unknown = Buffer.from([
      0x30, 0x96, 0x01, // field 6 varint
      0x39, 1, 2, 3, 4, 5, 6, 7, 8, // field 7 fixed64
      0x42, 0x02, 0x61, 0x62, // field 8 bytes
      0x4d, 1, 2, 3, 4, // field 9 fixed32
    ]);
    const buf = Buffer.concat([unknown, known]);
    const e = decodeLogEntry(buf, 0, buf.length);
    expect(e.line.toString()).toBe('hi');
    expect(e.source).toBe('stdout');
  });

  it('rejects lengths that overrun the entry', () => {
    const buf = Buffer.from([0x1a, 0x10, 0x61]);
    expect(() => decodeLogEntry(buf, 0, buf.length)).toThrow(LogEntryDecodeError);
    expect(() => decodeLogEntry(Buffer.from([0x10, 0xff]), 0, 2)).toThrow(LogEntryDecodeError);
    expect(() => decodeLogEntry(Buffer.from([0x0b]), 0, 1)).toThrow(LogEntryDecodeError);
  });
});
