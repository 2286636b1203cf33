/**
 * Properties shared by the fast fuzz tests (test/fuzz/*.test.ts) and the long run
 * (bench/fuzz.mjs, a million cases and more): whatever bytes or JSON come in, the decoder and
 * the parsers answer or refuse — no crash, no hang, no unbounded growth.
 */
import fc from 'fast-check';
import { FrameDecoder, MAX_FRAME_BYTES } from '../../src/docker/frame-decoder.js';
import { encodeFrame } from '../../src/docker/log-entry.js';
import { LogOptionError, parseLogOptions } from '../../src/config/log-opts.js';
import { parseReadConfig } from '../../src/docker/read-logs.js';
import { parseRecordFast } from '../../src/sinks/json-file/line-parser.js';

const entryArb = fc.record({
  source: fc.constantFrom('stdout', 'stderr'),
  timeSec: fc.integer({ min: 0, max: 9_000_000_000 }),
  timeNsec: fc.integer({ min: 0, max: 999_999_999 }),
  line: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  partial: fc.boolean(),
});

/** Valid frames split at arbitrary points decode to exactly the entries. */
export const framesRoundTrip = fc.property(fc.array(entryArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (entries, cuts) => {
  const stream = Buffer.concat(entries.map((e) => encodeFrame({ ...e, partialId: e.partial ? 'a'.repeat(64) : '', partialOrdinal: e.partial ? 1 : 0 })));
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const got: string[] = [];
  const d = new FrameDecoder({ onEntry: (e) => got.push(`${e.source}|${e.timeSec}|${e.timeNsec}|${e.line.toString('hex')}`), onCorruption: () => got.push('CORRUPT') });
  let prev = 0;
  for (const p of [...points, stream.length]) {
    d.push(stream.subarray(prev, p));
    prev = p;
  }
  const want = entries.map((e) => `${e.source}|${e.timeSec}|${e.timeNsec}|${e.line.toString('hex')}`);
  return got.join('\n') === want.join('\n') && d.bufferedBytes === 0;
});

/** Arbitrary bytes (with valid frames mixed in) never throw, and held bytes stay bounded. */
export const garbageNeverThrows = fc.property(
  fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), entryArb.map((e) => encodeFrame(e))), { maxLength: 30 }),
  (pieces) => {
    const d = new FrameDecoder({ onEntry: () => undefined, onCorruption: () => undefined });
    for (const p of pieces) {
      d.push(p);
      if (d.bufferedBytes > MAX_FRAME_BYTES + 4) return false;
    }
    d.end();
    return true;
  },
);

/** Any option map either parses or is refused with a LogOptionError, never anything else. */
export const optionsAnswerOrRefuse = fc.property(
  fc.dictionary(
    fc.oneof(fc.constantFrom('max-size', 'max-file', 'compress', 'tag', 'labels', 'labels-regex', 'env', 'env-regex', 'mode', 'max-buffer-size', 'sinks', 'local-store'), fc.string({ maxLength: 20 })),
    fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('10m', '1k', '3', 'true', '-1', '1e3', '0x10', '1.5g', 'non-blocking', '{{.ID}}')),
    { maxKeys: 8 },
  ),
  (config) => {
    try {
      parseLogOptions(config);
      return true;
    } catch (err) {
      return err instanceof LogOptionError;
    }
  },
);

/** ReadLogs configs from the network: parsed or refused with an Error, never a crash. */
export const readConfigAnswerOrRefuse = fc.property(fc.anything(), (config) => {
  try {
    parseReadConfig(config);
  } catch (err) {
    if (!(err instanceof Error)) return false;
  }
  return true;
});

/** Stored lines of any shape: the fast parser answers or defers, never throws. */
export const storedLinesNeverThrow = fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1'))), (text) => {
  const b = Buffer.from('{"log":"' + text, 'latin1');
  parseRecordFast(b, 0, b.length);
  const c = Buffer.from(text, 'latin1');
  parseRecordFast(c, 0, c.length);
  return true;
});

export const ALL = { framesRoundTrip, garbageNeverThrows, optionsAnswerOrRefuse, readConfigAnswerOrRefuse, storedLinesNeverThrow };
