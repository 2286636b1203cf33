import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/log.js';
import { BoundedQueue } from '../../../src/sinks/util/bounded-queue.js';
import { type MessageQueue, recordCrc, segmentFileName, SpoolQueue, type SpoolQueueOptions } from '../../../src/sinks/util/spool-queue.js';

const dirs: string[] = [];
const queues: SpoolQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close().catch(() => {});
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-spool-'));
  dirs.push(base);
  return path.join(base, 'spool'); // open() creates it
}

interface Warn {
  fields: Record<string, unknown>;
  msg: string;
}

function fakeLogger(warns: Warn[] = []): Logger {
  const at = (fields: Record<string, unknown>, msg: string) => void warns.push({ fields, msg });
  return { info: at, warn: at, error: at, debug: at } as unknown as Logger;
}

/** A queue whose onReadable wakes waitReadable(). */
function make(opts: Partial<SpoolQueueOptions> & { dir: string }, warns: Warn[] = []) {
  let wake: (() => void) | null = null;
  let readable = 0;
  const q = new SpoolQueue({
    memoryBytes: 1000,
    maxDiskBytes: 64 * 1024 * 1024,
    logger: fakeLogger(warns),
    ...opts,
    onReadable: () => {
      readable++;
      const w = wake;
      wake = null;
      w?.();
    },
  });
  queues.push(q);
  const waitReadable = (ms = 200) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  return { q, waitReadable, readableCalls: () => readable };
}

const msg = (i: number, size = 50) => Buffer.from(`m${i}:`.padEnd(size, String.fromCharCode(97 + (i % 26))));

async function drain(q: SpoolQueue, waitReadable: () => Promise<void>, timeoutMs = 30_000): Promise<string[]> {
  const out: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (q.length > 0) {
    const got = q.take(1000, 1 << 20);
    if (got.length > 0) {
      for (const m of got) out.push(m.toString());
      continue;
    }
    if (Date.now() > deadline) throw new Error(`drain timed out with ${q.length} left`);
    await waitReadable();
  }
  return out;
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{12}\.spool$/.test(n))
    .sort();
}

/** kill -9: the instance is dropped as it is (its descriptors go the way the kernel would close them). */
async function abandon(q: SpoolQueue): Promise<void> {
  queues.splice(queues.indexOf(q), 1);
  const segs = (q as unknown as { segs: Array<{ writeHandle: { close(): Promise<void> } | null; readHandle: { close(): Promise<void> } | null }> }).segs;
  for (const s of segs) {
    await s.writeHandle?.close();
    await s.readHandle?.close();
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('SpoolQueue', () => {
  it('is a MessageQueue, and so is BoundedQueue', () => {
    const a: MessageQueue = new BoundedQueue(100);
    const b: MessageQueue = new SpoolQueue({ dir: tmpDir(), memoryBytes: 100, maxDiskBytes: 1000 });
    expect(a.length + b.length).toBe(0);
  });

  it('checksums the length and the payload with zlib.crc32', () => {
    expect(typeof zlib.crc32).toBe('function');
    for (const p of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(70_000, 7)]) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(p.length);
      expect(recordCrc(p)).toBe(zlib.crc32(Buffer.concat([len, p])));
    }
    // A zero-filled record header is not a valid empty record.
    expect(recordCrc(Buffer.alloc(0))).not.toBe(0);
    expect(segmentFileName(1)).toBe('000000000001.spool');
  });

  it('keeps messages in memory while they fit, with no file', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 1000 });
    await q.open();
    expect((fs.statSync(dir).mode & 0o777).toString(8)).toBe('700');
    for (let i = 0; i < 10; i++) expect(q.push(msg(i))).toBe(true);
    await q.flush();
    expect(segmentFiles(dir)).toEqual([]);
    expect(q.stats()).toMatchObject({ memoryMessages: 10, diskMessages: 0, spooledTotal: 0 });
    expect(await drain(q, waitReadable)).toEqual(Array.from({ length: 10 }, (_, i) => msg(i).toString()));
  });

  it('overflows to disk, keeps the order memory → disk → memory, and deletes consumed segments', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 1000, retainTaken: 0 });
    await q.open();
    const sent: string[] = [];
    for (let i = 0; i < 200; i++) {
      expect(q.push(msg(i))).toBe(true);
      sent.push(msg(i).toString());
    }
    expect(q.length).toBe(200);
    expect(q.bytes).toBe(200 * 50);
    expect(q.memoryLength).toBe(20);
    expect(q.stats().diskMessages).toBe(180);
    await q.flush();
    expect(segmentFiles(dir).length).toBeGreaterThan(5);
    const got: string[] = [];
    // take the memory part; the disk part comes back in order; new pushes queue behind it
    for (const m of q.take(5, 1 << 20)) got.push(m.toString());
    for (let i = 200; i < 230; i++) {
      q.push(msg(i));
      sent.push(msg(i).toString());
    }
    got.push(...(await drain(q, waitReadable)));
    expect(got).toEqual(sent);
    await until(() => segmentFiles(dir).length === 0);
    expect(q.stats()).toMatchObject({ diskMessages: 0, diskBytes: 0, corruptRecords: 0, droppedMessages: 0 });
    // disk drained: memory again
    q.push(msg(999));
    expect(q.stats().spooledTotal).toBe(180 + 30);
    expect(q.memoryLength).toBe(1);
  });

  it('calls onReadable when messages arrive from disk', async () => {
    const dir = tmpDir();
    const { q, readableCalls } = make({ dir, memoryBytes: 200 });
    await q.open();
    for (let i = 0; i < 50; i++) q.push(msg(i));
    expect(q.take(100, 1 << 20)).toHaveLength(4);
    expect(q.take(100, 1 << 20)).toHaveLength(0); // nothing in memory …
    expect(q.length).toBe(46); // … but more to come
    const before = readableCalls();
    await until(() => readableCalls() > before);
    expect(q.memoryLength).toBeGreaterThan(0);
    expect(q.peek()!.toString()).toBe(msg(4).toString());
  });

  it('never calls a synchronous fs function in push(), and writes in the background', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 1000 });
    await q.open();
    const syncNames = Object.keys(fs).filter((k) => k.endsWith('Sync') && typeof (fs as unknown as Record<string, unknown>)[k] === 'function');
    const spies = syncNames.map((k) => vi.spyOn(fs as unknown as Record<string, () => unknown>, k));
    const openSpy = vi.spyOn(fs.promises, 'open');
    syncBuiltinESMExports();
    try {
      for (let i = 0; i < 20_000; i++) q.push(msg(i, 100));
      for (const s of spies) expect(s).not.toHaveBeenCalled();
      expect(openSpy).not.toHaveBeenCalled(); // nothing at all happens on disk until the next turn
      await q.flush();
      expect(openSpy).toHaveBeenCalled();
      const got = await drain(q, waitReadable);
      expect(got).toHaveLength(20_000);
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
      syncBuiltinESMExports();
    }
  });

  it('keeps order through random push / take / give back / restart (property)', async () => {
    type Op =
      | { t: 'push'; n: number; size: number }
      | { t: 'take'; count: number; bytes: number }
      | { t: 'shift' }
      | { t: 'giveBack'; k: number }
      | { t: 'ack' }
      | { t: 'wait' }
      | { t: 'restart' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('push' as const), n: fc.integer({ min: 1, max: 40 }), size: fc.integer({ min: 1, max: 120 }) }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('take' as const), count: fc.integer({ min: 1, max: 30 }), bytes: fc.integer({ min: 1, max: 2000 }) }) },
      { weight: 1, arbitrary: fc.constant({ t: 'shift' as const }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('giveBack' as const), k: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 1, arbitrary: fc.constant({ t: 'ack' as const }) },
      { weight: 3, arbitrary: fc.constant({ t: 'wait' as const }) },
      { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          memoryBytes: fc.integer({ min: 0, max: 1500 }),
          segmentBytes: fc.integer({ min: 50, max: 3000 }),
          retainTaken: fc.integer({ min: 0, max: 40 }),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        async (cfg, ops) => {
          const dir = tmpDir();
          let made = make({ dir, maxDiskBytes: 1 << 30, ...cfg });
          await made.q.open();
          const model: string[] = [];
          let inflight: Buffer[] = [];
          let id = 0;
          const check = () => {
            expect(made.q.length).toBe(model.length);
            expect(made.q.bytes).toBe(model.reduce((s, m) => s + m.length, 0));
          };
          const giveBack = (k: number) => {
            const back = inflight.slice(Math.max(0, inflight.length - k));
            inflight = inflight.slice(0, inflight.length - back.length);
            made.q.unshift(back);
            model.unshift(...back.map((b) => b.toString()));
          };
          for (const op of ops) {
            switch (op.t) {
              case 'push':
                for (let i = 0; i < op.n; i++) {
                  const m = Buffer.from(`${id++}.`.padEnd(op.size, 'z'));
                  expect(made.q.push(m)).toBe(true);
                  model.push(m.toString());
                }
                break;
              case 'take': {
                const got = made.q.take(op.count, op.bytes);
                expect(got.map((m) => m.toString())).toEqual(model.slice(0, got.length));
                model.splice(0, got.length);
                inflight.push(...got);
                break;
              }
              case 'shift': {
                const head = made.q.peek();
                const m = made.q.shift();
                expect(m).toBe(head);
                if (m) {
                  expect(m.toString()).toBe(model.shift());
                  inflight.push(m);
                }
                break;
              }
              case 'giveBack':
                giveBack(op.k);
                break;
              case 'ack':
                inflight = [];
                break;
              case 'wait':
                await made.q.flush();
                await new Promise((r) => setTimeout(r, 1));
                break;
              case 'restart':
                giveBack(inflight.length);
                await made.q.close();
                made = make({ dir, maxDiskBytes: 1 << 30, ...cfg });
                await made.q.open();
                expect(made.q.stats().corruptRecords).toBe(0);
                break;
            }
            check();
          }
          giveBack(inflight.length);
          check();
          expect(await drain(made.q, made.waitReadable, 10_000)).toEqual(model);
          expect(made.q.stats()).toMatchObject({ droppedMessages: 0, corruptRecords: 0 });
          await made.q.close();
          expect(fs.readdirSync(dir)).toEqual([]); // an empty queue leaves no file
        },
      ),
      { numRuns: Number(process.env.SPOOL_RUNS ?? 300) },
    );
  }, 180_000);

  it('survives a restart: memory and disk parts come back first, in order', async () => {
    const dir = tmpDir();
    let { q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 2000 });
    await q.open();
    for (let i = 0; i < 500; i++) q.push(msg(i));
    const taken = q.take(12, 1 << 20).map((m) => m.toString());
    expect(taken).toEqual(Array.from({ length: 12 }, (_, i) => msg(i).toString()));
    await until(() => q.memoryLength > 8); // under half of memoryBytes: read back from disk
    for (const m of q.take(20, 1 << 20)) taken.push(m.toString());
    expect(taken).toHaveLength(32);
    await q.close();
    expect(q.push(msg(1000))).toBe(false); // closed
    expect(fs.readdirSync(dir)).toContain('head.spool');

    ({ q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 2000 }));
    q.push(msg(500)); // before open(): behind what the last run left
    await q.open();
    expect(q.length).toBe(500 - 32 + 1);
    // a second restart in the middle of the head file
    await until(() => q.memoryLength >= 3);
    const first = q.take(3, 1 << 20).map((m) => m.toString());
    await q.close();
    ({ q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 2000 }));
    await q.open();
    const rest = await drain(q, waitReadable);
    expect([...taken, ...first, ...rest]).toEqual(Array.from({ length: 501 }, (_, i) => msg(i).toString()));
    expect(q.stats().corruptRecords).toBe(0);
    await q.close();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a queue opened on a directory another queue is still closing waits for it: nothing handed out twice', async () => {
    const dir = tmpDir();
    const first = make({ dir, memoryBytes: 1000, segmentBytes: 2000 });
    await first.q.open();
    for (let i = 0; i < 2000; i++) first.q.push(msg(i));
    const delivered = await drain(first.q, first.waitReadable);
    expect(delivered).toHaveLength(2000);
    // Consumed segments are still on disk (retained for a crash), until close() removes them.
    const closing = first.q.close();
    const second = make({ dir, memoryBytes: 1000, segmentBytes: 2000 });
    await second.q.open();
    expect(second.q.length).toBe(0);
    await closing;
    await second.q.close();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('after a crash, recovers what was written, skipping a torn tail record', async () => {
    const dir = tmpDir();
    const warns: Warn[] = [];
    const crashed = make({ dir, memoryBytes: 1000, segmentBytes: 3000 });
    await crashed.q.open();
    for (let i = 0; i < 300; i++) crashed.q.push(msg(i));
    const inMemory = crashed.q.memoryLength;
    await crashed.q.flush();
    // "kill -9": no close(); a half-written record at the tail
    const last = path.join(dir, segmentFiles(dir).at(-1)!);
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(50, 0);
    fs.appendFileSync(last, torn);
    await abandon(crashed.q);

    const { q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 3000 }, warns);
    await q.open();
    expect(q.stats()).toMatchObject({ corruptRecords: 1, corruptBytes: 20 });
    expect(warns.some((w) => /torn/.test(w.msg))).toBe(true);
    const got = await drain(q, waitReadable);
    // what only lived in memory is gone; everything that reached the disk is back, in order
    expect(got).toEqual(Array.from({ length: 300 - inMemory }, (_, i) => msg(i + inMemory).toString()));
  });

  it('after a crash, delivers again what was taken from a segment that is still retained', async () => {
    const dir = tmpDir();
    const crashed = make({ dir, memoryBytes: 500, segmentBytes: 100_000, retainTaken: 1000 });
    await crashed.q.open();
    for (let i = 0; i < 100; i++) crashed.q.push(msg(i));
    await crashed.q.flush();
    const firstRun = await drain(crashed.q, crashed.waitReadable);
    expect(firstRun).toHaveLength(100);
    // taken, never acknowledged: kill -9
    await abandon(crashed.q);
    const { q, waitReadable } = make({ dir, memoryBytes: 500 });
    await q.open();
    expect(await drain(q, waitReadable)).toEqual(firstRun.slice(10)); // the disk part, at least once
  });

  it('gives handed-out messages back to their segment with unshift()', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 100, segmentBytes: 300, retainTaken: 5 });
    await q.open();
    for (let i = 0; i < 20; i++) q.push(msg(i));
    const got: string[] = [];
    for (;;) {
      // a sink that fails every other send of up to 8 messages
      const batch = q.take(8, 1 << 20);
      if (batch.length === 0) {
        if (q.length === 0) break;
        await waitReadable();
        continue;
      }
      q.unshift(batch);
      const again = q.take(8, 1 << 20);
      expect(again).toEqual(batch);
      for (const m of again) got.push(m.toString());
    }
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => msg(i).toString()));
    await until(() => segmentFiles(dir).length <= 2);
  });

  it('keeps a segment while its messages are among the last retainTaken handed out', async () => {
    const dir = tmpDir();
    // every record in a segment of its own: message i is in segment i + 1
    const { q, waitReadable } = make({ dir, memoryBytes: 0, segmentBytes: 8 + 58, retainTaken: 3 });
    await q.open();
    for (let i = 0; i < 10; i++) q.push(msg(i));
    const takeOne = async () => {
      while (q.memoryLength === 0) await waitReadable();
      return q.take(1, 1 << 20)[0];
    };
    const taken: Buffer[] = [];
    for (let i = 0; i < 10; i++) taken.push(await takeOne());
    const files = (...seqs: number[]) => seqs.map(segmentFileName);
    await until(() => segmentFiles(dir).length === 3);
    expect(segmentFiles(dir)).toEqual(files(8, 9, 10));
    // a failed send gives back the last two: they keep their segments
    q.unshift(taken.slice(8));
    expect((await takeOne()).toString()).toBe(msg(8).toString());
    expect((await takeOne()).toString()).toBe(msg(9).toString());
    for (let i = 10; i < 12; i++) q.push(msg(i));
    await new Promise((r) => setTimeout(r, 20));
    expect(segmentFiles(dir)).toEqual(files(8, 9, 10, 11, 12));
    expect((await takeOne()).toString()).toBe(msg(10).toString()); // message 7 leaves the window
    await until(() => segmentFiles(dir).length === 4);
    expect(segmentFiles(dir)).toEqual(files(9, 10, 11, 12));
    expect((await takeOne()).toString()).toBe(msg(11).toString()); // message 8 leaves the window
    await until(() => segmentFiles(dir).length === 3);
    expect(segmentFiles(dir)).toEqual(files(10, 11, 12));
  });

  describe('corruption', () => {
    /** Spills `n` messages over several segments and closes: the files of a previous run. */
    async function previousRun(dir: string, n: number): Promise<string[]> {
      const { q } = make({ dir, memoryBytes: 0, segmentBytes: 1000 });
      await q.open();
      for (let i = 0; i < n; i++) q.push(msg(i));
      await q.close();
      return Array.from({ length: n }, (_, i) => msg(i).toString());
    }

    async function reopen(dir: string, warns: Warn[] = []) {
      const { q, waitReadable } = make({ dir, memoryBytes: 1000, segmentBytes: 1000 }, warns);
      await q.open();
      return { q, got: await drain(q, waitReadable) };
    }

    it('a truncated last segment loses its last record, counted', async () => {
      const dir = tmpDir();
      const sent = await previousRun(dir, 100);
      const files = segmentFiles(dir);
      expect(files.length).toBeGreaterThan(3);
      const last = path.join(dir, files.at(-1)!);
      fs.truncateSync(last, fs.statSync(last).size - 10);
      const warns: Warn[] = [];
      const { q, got } = await reopen(dir, warns);
      expect(q.stats()).toMatchObject({ corruptRecords: 1, corruptBytes: 58 - 10 });
      expect(got).toEqual(sent.slice(0, 99));
      expect(warns).toHaveLength(1);
    });

    it('a flipped payload byte ends that segment, the later ones are delivered', async () => {
      const dir = tmpDir();
      const sent = await previousRun(dir, 100);
      const files = segmentFiles(dir);
      const middle = path.join(dir, files[1]);
      const perSegment = Math.floor((1000 - 8) / 58); // records in a full segment
      const bytes = fs.readFileSync(middle);
      const third = 8 + 2 * 58 + 8 + 20; // 20 bytes into the third record's payload
      bytes[third] ^= 0xff;
      fs.writeFileSync(middle, bytes);
      const { q, got } = await reopen(dir);
      expect(q.stats().corruptRecords).toBe(1);
      expect(q.stats().corruptBytes).toBe(bytes.length - (8 + 2 * 58));
      const lost = sent.slice(perSegment + 2, 2 * perSegment);
      expect(got).toEqual(sent.filter((m) => !lost.includes(m)));
    });

    it('a garbage file, a zero-filled tail and a broken head header are counted, never thrown', async () => {
      const dir = tmpDir();
      const sent = await previousRun(dir, 60);
      fs.writeFileSync(path.join(dir, segmentFileName(999)), Buffer.from('this is not a spool segment at all'));
      fs.writeFileSync(path.join(dir, 'unrelated.txt'), 'ignored');
      fs.appendFileSync(path.join(dir, segmentFiles(dir)[0]), Buffer.alloc(64)); // what a crash can leave
      const warns: Warn[] = [];
      const { q, got } = await reopen(dir, warns);
      expect(got).toEqual(sent);
      expect(q.stats().corruptRecords).toBe(2);
      expect(warns).toHaveLength(2);
      // the garbage file went (it had nothing to deliver); the unrelated file stays
      await q.close();
      expect(fs.readdirSync(dir)).toEqual(['unrelated.txt']);

      // a head file whose header is broken: counted, the segments still come
      const dir2 = tmpDir();
      const { q: a } = make({ dir: dir2, memoryBytes: 500, segmentBytes: 1000 });
      await a.open();
      for (let i = 0; i < 30; i++) a.push(msg(i));
      await a.close();
      const head = path.join(dir2, 'head.spool');
      const hb = fs.readFileSync(head);
      hb[9] ^= 1;
      fs.writeFileSync(head, hb);
      const { q: b, got: got2 } = await reopen(dir2);
      expect(b.stats().corruptRecords).toBe(1);
      expect(got2).toEqual(Array.from({ length: 30 }, (_, i) => msg(i).toString()).slice(10));
    });
  });

  it('handles records larger than a read, a scan chunk and a segment, and empty ones', async () => {
    const dir = tmpDir();
    const big = (i: number) => Buffer.alloc(3 * 1024 * 1024 + i, String(i));
    const sent = [msg(0), big(1), Buffer.alloc(0), big(2), msg(3), Buffer.alloc(0)];
    let made = make({ dir, memoryBytes: 100, segmentBytes: 1024 * 1024 });
    await made.q.open();
    for (const m of sent) expect(made.q.push(m)).toBe(true);
    await made.q.close();
    made = make({ dir, memoryBytes: 100, segmentBytes: 1024 * 1024 });
    await made.q.open();
    expect(made.q.length).toBe(sent.length);
    const got = await drain(made.q, made.waitReadable);
    expect(got).toEqual(sent.map((m) => m.toString()));
    expect(made.q.stats().corruptRecords).toBe(0);
  });

  it('recovers from a failed write: the torn part is cut off and the write retried', async () => {
    const dir = tmpDir();
    const warns: Warn[] = [];
    const { q, waitReadable } = make({ dir, memoryBytes: 0 }, warns);
    await q.open();
    const probePath = path.join(dir, 'probe');
    const probe = await fs.promises.open(probePath, 'w');
    const proto = Object.getPrototypeOf(probe) as { writev(this: typeof probe, bufs: Buffer[]): Promise<unknown> };
    await probe.close();
    fs.rmSync(probePath);
    const spy = vi.spyOn(proto, 'writev').mockImplementationOnce(async function (this: typeof probe, bufs: Buffer[]) {
      await this.write(bufs[0].subarray(0, 13)); // part of it reached the file
      throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
    });
    try {
      for (let i = 0; i < 20; i++) q.push(msg(i));
      await q.flush(); // the retry comes a second later
    } finally {
      spy.mockRestore();
    }
    expect(q.stats().writeErrors).toBe(1);
    expect(warns.some((w) => /retrying/.test(w.msg))).toBe(true);
    expect(fs.statSync(path.join(dir, segmentFiles(dir)[0])).size).toBe(8 + 20 * 58);
    expect(await drain(q, waitReadable)).toEqual(Array.from({ length: 20 }, (_, i) => msg(i).toString()));
  });

  it('drops the newest when the disk part is full, counted like BoundedQueue', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 500, maxDiskBytes: 2000, segmentBytes: 1000 });
    await q.open();
    const accepted: string[] = [];
    let dropped = 0;
    for (let i = 0; i < 100; i++) {
      if (q.push(msg(i, 100))) accepted.push(msg(i, 100).toString());
      else dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
    expect(q.stats()).toMatchObject({ droppedMessages: dropped, droppedBytes: dropped * 100 });
    expect(q.stats().diskBytes).toBeLessThanOrEqual(2000);
    expect(accepted).toEqual(Array.from({ length: accepted.length }, (_, i) => msg(i, 100).toString()));
    expect(await drain(q, waitReadable)).toEqual(accepted);
  });

  it('clear() drops memory and disk, and destroy() removes the directory', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 300, segmentBytes: 500 });
    await q.open();
    for (let i = 0; i < 50; i++) q.push(msg(i));
    expect(q.clear()).toBe(50);
    expect(q.length).toBe(0);
    q.push(msg(100));
    for (let i = 101; i < 120; i++) q.push(msg(i));
    expect(await drain(q, waitReadable)).toEqual(Array.from({ length: 20 }, (_, i) => msg(100 + i).toString()));
    // the cleared segments (1-6) are gone; those of the new messages stay while they are retained
    await until(() => segmentFiles(dir).every((f) => f > segmentFileName(6)));
    expect(segmentFiles(dir).length).toBeLessThanOrEqual(2);
    for (let i = 0; i < 50; i++) q.push(msg(i));
    await q.destroy();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('moves a large volume through disk in order (200k × 100 B, 64 KiB of memory)', async () => {
    const dir = tmpDir();
    const { q, waitReadable } = make({ dir, memoryBytes: 64 * 1024, maxDiskBytes: 1 << 30 });
    await q.open();
    const N = 200_000;
    const body = Buffer.alloc(100, 'x');
    const make100 = (i: number) => {
      const b = Buffer.from(body);
      b.write(String(i).padStart(8, '0'));
      return b;
    };
    let next = 0;
    let expected = 0;
    let bad = 0;
    // producer and consumer interleaved: the sink is slower than the producer, then catches up
    while (expected < N) {
      for (let i = 0; i < 5000 && next < N; i++) q.push(make100(next++));
      const got = q.take(2000, 1 << 20);
      for (const m of got) if (Number(m.toString('latin1', 0, 8)) !== expected++) bad++;
      if (got.length === 0 && q.length > 0) await waitReadable();
    }
    expect(bad).toBe(0);
    expect(q.length).toBe(0);
    expect(q.stats().spooledTotal).toBeGreaterThan(N / 2);
    await q.close();
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60_000);
});
