import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue, MESSAGE_OVERHEAD, queueMemory, setQueueMemoryLimit } from '../../../src/sinks/util/bounded-queue.js';

const msg = (s: string) => Buffer.from(s);

describe('BoundedQueue', () => {
  it('drop-newest refuses what does not fit and counts it', () => {
    const q = new BoundedQueue(10, 'drop-newest');
    expect(q.push(msg('aaaa'))).toBe(true);
    expect(q.push(msg('bbbb'))).toBe(true);
    expect(q.push(msg('cccc'))).toBe(false);
    expect(q.take(10, 100).map(String)).toEqual(['aaaa', 'bbbb']);
    expect([q.droppedMessages, q.droppedBytes]).toEqual([1, 4]);
  });

  it('drop-oldest always queues the new message (true), dropping from the front', () => {
    const q = new BoundedQueue(10, 'drop-oldest');
    for (const m of ['aaaa', 'bbbb', 'cccc', 'dd']) expect(q.push(msg(m))).toBe(true);
    expect(q.take(10, 100).map(String)).toEqual(['bbbb', 'cccc', 'dd']);
    expect([q.droppedMessages, q.droppedBytes, q.bytes]).toEqual([1, 4, 0]);
  });

  it('a message larger than the bound is still queued when the queue is empty', () => {
    const q = new BoundedQueue(4, 'drop-newest');
    expect(q.push(msg('toolong'))).toBe(true);
    expect(q.push(msg('x'))).toBe(false);
  });

  it('unshift puts failed sends back in front, in order', () => {
    const q = new BoundedQueue(100);
    for (const m of ['1', '2', '3', '4']) q.push(msg(m));
    const sent = q.take(2, 100);
    q.unshift(sent);
    expect(q.take(10, 100).map(String)).toEqual(['1', '2', '3', '4']);
  });
});

describe('the host-wide queue budget', () => {
  it('drops by policy once all queues together hold the budget, and frees it as they drain', () => {
    const saved = queueMemory.limit;
    setQueueMemoryLimit(queueMemory.used + 2 * MESSAGE_OVERHEAD + 10); // two messages' overhead and 10 bytes
    try {
      const a = new BoundedQueue(100, 'drop-newest');
      const b = new BoundedQueue(100, 'drop-oldest');
      expect(a.push(msg('aaaaaa'))).toBe(true);
      expect(b.push(msg('bbbb'))).toBe(true);
      expect(a.push(msg('x'))).toBe(false); // budget full although a is far under its own bound
      expect(b.push(msg('cc'))).toBe(true); // drop-oldest makes room from its own front
      expect(b.take(10, 100).map(String)).toEqual(['cc']);
      expect(a.push(msg('y'))).toBe(true);
      a.clear();
    } finally {
      setQueueMemoryLimit(saved);
    }
  });
});

describe('BoundedQueue against a plain array (property)', () => {
  it('hands out the same messages in the same order through random push / take / shift / unshift / clear', () => {
    const slab = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('push' as const), at: fc.nat(4000), len: fc.integer({ min: 0, max: 90 }) }),
            fc.record({ op: fc.constant('take' as const), count: fc.integer({ min: 1, max: 40 }), bytes: fc.integer({ min: 0, max: 2000 }) }),
            fc.record({ op: fc.constant('shift' as const) }),
            fc.record({ op: fc.constant('giveBack' as const), count: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('clear' as const) }),
          ),
          { maxLength: 400 },
        ),
        fc.constantFrom<'drop-newest' | 'drop-oldest'>('drop-newest', 'drop-oldest'),
        (ops, policy) => {
          const usedBefore = queueMemory.used;
          const q = new BoundedQueue(1500, policy);
          let model: Buffer[] = [];
          let modelBytes = 0;
          for (const o of ops) {
            if (o.op === 'push') {
              const m = slab.subarray(o.at, o.at + o.len);
              const fits = model.length === 0 || modelBytes + m.length <= 1500;
              if (fits) {
                expect(q.push(m)).toBe(true);
                model.push(m);
                modelBytes += m.length;
              } else if (policy === 'drop-newest') {
                expect(q.push(m)).toBe(false);
              } else {
                expect(q.push(m)).toBe(true);
                while (model.length > 0 && modelBytes + m.length > 1500) modelBytes -= model.shift()!.length;
                model.push(m);
                modelBytes += m.length;
              }
            } else if (o.op === 'take') {
              const got = q.take(o.count, o.bytes);
              const want: Buffer[] = [];
              let b = 0;
              while (model.length > 0 && want.length < o.count && (want.length === 0 || b + model[0].length <= o.bytes)) {
                b += model[0].length;
                want.push(model.shift()!);
              }
              modelBytes -= b;
              expect(got.map((x) => x.toString('hex'))).toEqual(want.map((x) => x.toString('hex')));
              // handed out as views of the same bytes: a sink can write neighbours in one go
              for (let k = 0; k < got.length; k++) expect(got[k].buffer === want[k].buffer && got[k].byteOffset === want[k].byteOffset).toBe(true);
            } else if (o.op === 'shift') {
              const got = q.shift();
              const want = model.shift();
              if (want) modelBytes -= want.length;
              expect(got?.toString('hex')).toBe(want?.toString('hex'));
            } else if (o.op === 'giveBack') {
              const taken = q.take(o.count, 1 << 20);
              const want = model.splice(0, taken.length);
              expect(taken.length).toBe(want.length);
              q.unshift(taken);
              model = want.concat(model);
            } else {
              expect(q.clear()).toBe(model.length);
              model = [];
              modelBytes = 0;
            }
            expect(q.length).toBe(model.length);
            expect(q.bytes).toBe(modelBytes);
          }
          q.clear();
          expect(queueMemory.used).toBe(usedBefore);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a queued message costs less heap than MESSAGE_OVERHEAD besides its bytes', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const slab = Buffer.alloc(64 * 1024);
    const count = 200_000;
    const q = new BoundedQueue(1 << 30);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i++) q.push(slab.subarray(i % 60000, (i % 60000) + 120));
    gc();
    const perMessage = (process.memoryUsage().heapUsed - before) / count;
    q.clear();
    console.log(`[bounded-queue] heap per queued message: ${perMessage.toFixed(1)} bytes (a Buffer view alone: ~108)`);
    expect(perMessage).toBeLessThan(MESSAGE_OVERHEAD);
  });
});
