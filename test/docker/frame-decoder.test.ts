import { describe, expect, it } from 'vitest';
import { FrameDecoder, MAX_FRAME_BYTES } from '../../src/docker/frame-decoder.js';
import { encodeFrame, type LogEntry } from '../../src/docker/log-entry.js';

function collect() {
  const entries: Array<{ source: string; line: string; sec: number; nsec: number; partial: boolean; last: boolean; ordinal: number }> = [];
  const corruptions: Array<[string, number]> = [];
  const decoder = new FrameDecoder({
    onEntry: (e: LogEntry) =>
      entries.push({ source: e.source, line: e.line.toString('latin1'), sec: e.timeSec, nsec: e.timeNsec, partial: e.partial, last: e.partialLast, ordinal: e.partialOrdinal }),
    onCorruption: (reason, skipped) => corruptions.push([reason, skipped]),
  });
  return { decoder, entries, corruptions };
}

const sample = [
  encodeFrame({ source: 'stdout', timeSec: 1764403200, timeNsec: 123456789, line: Buffer.from('first line') }),
  encodeFrame({ source: 'stderr', timeSec: 1764403200, timeNsec: 5, line: Buffer.alloc(0) }),
  encodeFrame({ source: 'stdout', timeSec: 1764403201, timeNsec: 0, line: Buffer.alloc(16384, 0x61), partial: true, partialId: 'f'.repeat(64), partialOrdinal: 1 }),
  encodeFrame({ source: 'stdout', timeSec: 1764403201, timeNsec: 0, line: Buffer.from('tail'), partial: true, partialLast: true, partialId: 'f'.repeat(64), partialOrdinal: 2 }),
  encodeFrame({ source: 'stdout', timeSec: 1764403202, timeNsec: 999999999, line: Buffer.from([0xff, 0x00, 0x0a]) }),
];
const stream = Buffer.concat(sample);

describe('FrameDecoder', () => {
  it('decodes a stream split at every byte boundary into two chunks', () => {
    const reference = collect();
    reference.decoder.push(stream);
    expect(reference.entries).toHaveLength(sample.length);
    for (let cut = 0; cut <= stream.length; cut++) {
      const c = collect();
      c.decoder.push(stream.subarray(0, cut));
      c.decoder.push(stream.subarray(cut));
      expect(c.entries).toEqual(reference.entries);
      expect(c.corruptions).toEqual([]);
      expect(c.decoder.bufferedBytes).toBe(0);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const c = collect();
    for (let i = 0; i < stream.length; i++) c.decoder.push(stream.subarray(i, i + 1));
    expect(c.entries.map((e) => e.line.length)).toEqual([10, 0, 16384, 4, 3]);
    expect(c.entries[2]).toMatchObject({ partial: true, last: false, ordinal: 1 });
    expect(c.entries[3]).toMatchObject({ partial: true, last: true, ordinal: 2 });
  });

  it('skips an oversized frame, counts it, and recovers at the next frame', () => {
    const c = collect();
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(MAX_FRAME_BYTES + 1);
    c.decoder.push(Buffer.concat([sample[0], bad, Buffer.from('garbage!!'), sample[1], sample[4]]));
    expect(c.entries.map((e) => e.line)).toEqual(['first line', '', '\xff\x00\n']);
    expect(c.decoder.corruptFrames).toBe(1);
    expect(c.corruptions[0][0]).toMatch(/exceeds/);
  });

  it('skips a frame whose entry does not parse, keeping the frames around it', () => {
    const c = collect();
    const broken = Buffer.from([0, 0, 0, 3, 0x1a, 0x09, 0x61]);
    c.decoder.push(Buffer.concat([sample[0], broken, sample[1]]));
    expect(c.entries).toHaveLength(2);
    expect(c.decoder.corruptFrames).toBe(1);
  });

  it('reports a frame cut short by the end of the stream', () => {
    const c = collect();
    c.decoder.push(stream.subarray(0, stream.length - 2));
    expect(c.decoder.end()).toBeGreaterThan(0);
    expect(c.entries).toHaveLength(sample.length - 1);
    expect(c.corruptions[0][0]).toMatch(/stream ended inside a frame/);
  });
});
