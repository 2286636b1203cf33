import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { compressPayload, type GelfCompression } from '../../../src/sinks/gelf/compress.js';
import { CompressPool } from '../../../src/sinks/gelf/compress-pool.js';

// The pool runs the compiled worker (dist/sinks/gelf/compress-worker.js): `npm run build` first.
function messages(n: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const size = (i * 7919 + seed) % 5000;
    const body = i % 5 === 0 ? crypto.randomBytes(size).toString('base64') : `line ${seed}/${i} `.repeat(1 + (size % 200));
    out.push(Buffer.from(`{"version":"1.1","host":"h","short_message":${JSON.stringify(body)},"_i":${i}}`));
  }
  return out;
}

function submit(pool: CompressPool, batch: Buffer[], type: GelfCompression, level: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const ok = pool.submit(batch, type, level, (err, out) => (err ? reject(err) : resolve(out!)));
    if (!ok) reject(new Error('pool unavailable'));
  });
}

describe('gelf compression pool', () => {
  const pool = new CompressPool({ size: 2 });
  afterAll(() => pool.terminate());

  for (const [type, level] of [['gzip', 1], ['gzip', -1], ['gzip', 9], ['zlib', 1], ['zlib', 6]] as const) {
    it(`returns the same bytes as the synchronous path (${type} level ${level}), in order across batches`, async () => {
      // A slab view with an offset, like the sink's messages.
      const slab = Buffer.concat(messages(10, 1));
      const batches = [messages(300, 2), [slab.subarray(17, 4000)], messages(1, 3), messages(64, 4), messages(200, 5)];
      // All in flight at once, on two workers: results still match their batch, message by message.
      const results = await Promise.all(batches.map((b) => submit(pool, b, type, level)));
      const completion: number[] = [];
      await Promise.all(batches.map((b, i) => submit(pool, b, type, level).then(() => completion.push(i))));
      expect(completion).toHaveLength(batches.length);
      for (let i = 0; i < batches.length; i++) {
        expect(results[i]).toHaveLength(batches[i]!.length);
        for (let j = 0; j < batches[i]!.length; j++) {
          const sync = compressPayload(batches[i]![j]!, type, level);
          expect(results[i]![j]!.equals(sync)).toBe(true);
          const plain = type === 'gzip' ? zlib.gunzipSync(results[i]![j]!) : zlib.inflateSync(results[i]![j]!);
          expect(plain.equals(batches[i]![j]!)).toBe(true);
        }
      }
      // Go's gzip header bytes (XFL, OS=255) are there.
      if (type === 'gzip') {
        expect(results[0]![0]![9]).toBe(255);
        expect(results[0]![0]![8]).toBe(level === 9 ? 2 : level === 1 ? 4 : 0);
      }
      expect(pool.workerFailures).toBe(0);
    });
  }

  it('fails pending batches when its workers are terminated, and is unavailable without a worker file', async () => {
    const p = new CompressPool({ size: 1 });
    const pending = submit(p, messages(50, 9), 'gzip', 1).then(
      () => null,
      (err: Error) => err,
    );
    await p.terminate();
    expect(await pending).toBeInstanceOf(Error);
    const none = new CompressPool({ size: 1, workerUrl: null });
    expect(none.submit(messages(1, 1), 'gzip', 1, () => {})).toBe(false);
    expect(none.available).toBe(false);
  });
});
