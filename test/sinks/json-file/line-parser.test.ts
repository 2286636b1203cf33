import { describe, expect, it } from 'vitest';
import { LogEntry } from '../../../src/docker/log-entry.js';
import { parseRfc3339 } from '../../../src/docker/timestamp.js';
import { JsonFileEncoder } from '../../../src/sinks/json-file/encoder.js';
import { parseRecordFast } from '../../../src/sinks/json-file/line-parser.js';

/** The reference: what Go's json decoder (and JSON.parse) makes of a record. */
function viaJson(line: string): { source: string; sec: number; nsec: number; log: string } {
  const rec = JSON.parse(line) as { log: string; stream: string; time: string };
  const t = parseRfc3339(rec.time);
  return { source: rec.stream, sec: t.sec, nsec: t.nsec, log: Buffer.from(rec.log, 'utf8').toString('hex') };
}

describe('fast json-file record parser', () => {
  it('agrees with JSON.parse on records our encoder writes from random bytes', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const attrs of [null, '{"a":"1","tag":"x\\u003cy"}']) {
      const enc = new JsonFileEncoder(attrs);
      for (let i = 0; i < 3000; i++) {
        const bytes = Buffer.from(Array.from({ length: rnd(200) }, () => (rnd(4) === 0 ? rnd(256) : 0x20 + rnd(95))));
        const e = LogEntry.of({ source: rnd(2) ? 'stdout' : 'stderr', timeSec: 1_700_000_000 + rnd(1e8), timeNsec: rnd(1e9), line: bytes, partial: rnd(5) === 0 });
        const out = Buffer.alloc(JsonFileEncoder.maxEncodedLength(e, enc.attrsLength));
        const n = enc.encode(e, out, 0);
        const line = out.subarray(0, n - 1);
        const fast = parseRecordFast(line, 0, line.length);
        // An empty non-last piece has no "log" key: that one is left to JSON.parse.
        if (bytes.length === 0 && e.partial) {
          expect(fast).toBeUndefined();
          continue;
        }
        if (fast === undefined) expect.fail(`fast path refused: ${line.toString('latin1')}`);
        expect({ ...fast!, log: fast!.log.toString('hex') }).toEqual(viaJson(line.toString('utf8')));
      }
    }
  });

  it('decodes escapes Docker never writes but JSON allows', () => {
    const line = Buffer.from('{"log":"a\\/b\\t\\u00e9\\ud83d\\ude00\\ud800x\\n","stream":"stdout","time":"2025-11-29T08:00:00Z"}');
    const r = parseRecordFast(line, 0, line.length)!;
    expect(r.log.toString()).toBe('a/b\té😀\ufffdx\n');
  });

  it('leaves other layouts to JSON.parse', () => {
    for (const text of ['{"stream":"stdout","log":"x","time":"2025-11-29T08:00:00Z"}', '{ "log":"x"}', '{"log":"x","stream":"stdout","time":"2025-11-29T08:00:00+01:00"}', '{"log":"unterminated']) {
      expect(parseRecordFast(Buffer.from(text), 0, text.length)).toBeUndefined();
    }
  });
});
