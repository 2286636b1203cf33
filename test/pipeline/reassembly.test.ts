import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogEntry } from '../../src/docker/log-entry.js';
import { Reassembler } from '../../src/pipeline/reassembly.js';

interface Out {
  source: string;
  line: string;
  partial: boolean;
  last: boolean;
  ordinal: number;
  timeSec: number;
}

function piece(source: string, line: string, id: string, ordinal: number, last: boolean, timeSec = 1): LogEntry {
  return LogEntry.of({ source, timeSec, timeNsec: 0, line: Buffer.from(line), partial: true, partialLast: last, partialId: id, partialOrdinal: ordinal });
}

function whole(source: string, line: string, timeSec = 1): LogEntry {
  return LogEntry.of({ source, timeSec, timeNsec: 0, line: Buffer.from(line) });
}

function setup(maxBytes = 1 << 20, timeoutMs = 1000) {
  const out: Out[] = [];
  let timerFlushes = 0;
  const r = new Reassembler(
    { maxBytes, timeoutMs },
    (e) => out.push({ source: e.source, line: e.line.toString(), partial: e.partial, last: e.partialLast, ordinal: e.partialOrdinal, timeSec: e.timeSec }),
    () => timerFlushes++,
  );
  return { r, out, timerFlushes: () => timerFlushes };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Reassembler', () => {
  it('passes whole lines through untouched and joins the pieces of a split line, with the first piece time', () => {
    const { r, out } = setup();
    r.push(whole('stdout', 'a'));
    r.push(piece('stdout', 'x'.repeat(16384), 'id1', 1, false, 5));
    r.push(piece('stdout', 'y'.repeat(16384), 'id1', 2, false, 6));
    r.push(piece('stdout', 'zz', 'id1', 3, true, 7));
    r.push(whole('stdout', 'b'));
    expect(out.map((o) => [o.line.length, o.partial, o.timeSec])).toEqual([
      [1, false, 1],
      [32770, false, 5],
      [1, false, 1],
    ]);
    expect(out[1].line).toBe('x'.repeat(16384) + 'y'.repeat(16384) + 'zz');
    expect(r.joined).toBe(2);
  });

  it('keeps stdout and stderr apart', () => {
    const { r, out } = setup();
    r.push(piece('stdout', 'o1', 'o', 1, false));
    r.push(piece('stderr', 'e1', 'e', 1, false));
    r.push(whole('stderr', 'never mind'));
    r.push(piece('stdout', 'o2', 'o', 2, true));
    expect(out.map((o) => [o.source, o.line, o.partial, o.last])).toEqual([
      ['stderr', 'e1', true, false],
      ['stderr', 'never mind', false, false],
      ['stdout', 'o1o2', false, false],
    ]);
  });

  it('never holds more than maxBytes: longer lines go on in partial pieces, the last one marked last', () => {
    const { r, out } = setup(20_000);
    for (let i = 1; i <= 4; i++) r.push(piece('stdout', String(i).repeat(16384), 'big', i, i === 4));
    expect(out.map((o) => [o.line.length, o.partial, o.last, o.ordinal])).toEqual([
      [16384, true, false, 1],
      [16384, true, false, 2],
      [16384, true, false, 3],
      [16384, true, true, 4],
    ]);
    expect(r.oversized).toBe(3);
    const { r: r2, out: out2 } = setup(40_000);
    for (let i = 1; i <= 4; i++) r2.push(piece('stdout', String(i).repeat(16384), 'big', i, i === 4));
    expect(out2.map((o) => [o.line.length, o.partial, o.last])).toEqual([
      [32768, true, false],
      [32768, true, true],
    ]);
    expect(out2.map((o) => o.line).join('')).toBe([1, 2, 3, 4].map((i) => String(i).repeat(16384)).join(''));
  });

  it('passes on a piece whose successor does not come within the timeout, and the rest later as the same line', () => {
    vi.useFakeTimers();
    const { r, out, timerFlushes } = setup(1 << 20, 500);
    r.push(piece('stdout', 'head-', 'slow', 1, false));
    expect(out).toEqual([]);
    vi.advanceTimersByTime(499);
    expect(out).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(out.map((o) => [o.line, o.partial, o.last])).toEqual([['head-', true, false]]);
    expect(timerFlushes()).toBe(1);
    r.push(piece('stdout', 'tail', 'slow', 2, true));
    expect(out.map((o) => [o.line, o.partial, o.last])).toEqual([
      ['head-', true, false],
      ['tail', true, true],
    ]);
    expect(r.timedOut).toBe(1);
  });

  it('flush passes on what is held, once', () => {
    const { r, out } = setup();
    r.push(piece('stdout', 'unfinished', 'u', 1, false));
    r.flush();
    r.flush();
    expect(out.map((o) => [o.line, o.partial, o.last])).toEqual([['unfinished', true, false]]);
  });

  it('a last piece with nothing held is a whole line', () => {
    const { r, out } = setup();
    r.push(piece('stdout', 'solo', 's', 1, true));
    expect(out.map((o) => [o.line, o.partial])).toEqual([['solo', false]]);
  });

  it('copies pieces: the read buffer may be reused after push', () => {
    const { r, out } = setup();
    const buf = Buffer.from('first');
    const e = piece('stdout', '', 'c', 1, false);
    e.setLine(buf);
    r.push(e);
    buf.write('XXXXX');
    r.push(piece('stdout', '-second', 'c', 2, true));
    expect(out[0].line).toBe('first-second');
  });
});
