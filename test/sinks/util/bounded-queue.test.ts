import { describe, expect, it } from 'vitest';
import { BoundedQueue, queueMemory, setQueueMemoryLimit } from '../../../src/sinks/util/bounded-queue.js';

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
    setQueueMemoryLimit(queueMemory.used + 2 * 128 + 10); // two messages' overhead and 10 bytes
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
