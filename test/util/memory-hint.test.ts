import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

/** Drains a 30 MB backlog from a queue twice in a row, in a Node with or without --expose-gc. */
function drainTwice(flags: string[]): { first: number; second: number } {
  const script = `
    import { BoundedQueue } from './dist/sinks/util/bounded-queue.js';
    import * as hint from './dist/util/memory-hint.js';
    const q = new BoundedQueue(1024 * 1024 * 1024);
    const slab = Buffer.alloc(1024);
    const backlog = () => {
      for (let i = 0; i < 300000; i++) q.push(slab.subarray(0, 100));
      while (q.length > 0) q.take(4096, 512 * 1024);
    };
    backlog();
    const first = hint.memoryHints;
    backlog();
    console.log(JSON.stringify({ first, second: hint.memoryHints }));
  `;
  return JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' })) as { first: number; second: number };
}

describe('memory hint: a full collection every 16 MiB of spent Buffers', () => {
  it('asks for one full collection once a large backlog drained, then not again within its interval', () => {
    expect(drainTwice(['--expose-gc'])).toEqual({ first: 1, second: 1 });
  });

  it('gives the freed pages back to the system (malloc_trim) after the collection', () => {
    const script = `
      import { Slab } from './dist/sinks/util/slab.js';
      import * as hint from './dist/util/memory-hint.js';
      const slab = new Slab(64 * 1024);
      for (let i = 0; i < 200000; i++) slab.commit(slab.reserve(100) + 100);
      const before = hint.trims;
      // The trim waits for the collection and then a second; a timer keeps this process up.
      setTimeout(() => console.log(JSON.stringify({ hints: hint.memoryHints, before, after: hint.trims })), 2500);
    `;
    expect(JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' }))).toEqual({ hints: 1, before: 0, after: 1 });
  });

  it('does nothing without --expose-gc', () => {
    expect(drainTwice([])).toEqual({ first: 0, second: 0 });
  });

  it('counts the slabs sinks encode into: steady traffic with nothing queued asks for one too', () => {
    // 20 MB through a 64 KB slab, each message "written" (dropped) at once: no backlog, only spent slabs.
    const script = `
      import { Slab } from './dist/sinks/util/slab.js';
      import * as hint from './dist/util/memory-hint.js';
      const slab = new Slab(64 * 1024);
      const counts = [];
      for (let i = 0; i < 200000; i++) {
        const at = slab.reserve(100);
        slab.commit(at + 100);
        if (i === 100000) counts.push(hint.memoryHints);
      }
      counts.push(hint.memoryHints);
      console.log(JSON.stringify(counts));
    `;
    const run = (flags: string[]) => JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' })) as number[];
    // 10 MB after 100,000 messages: under the 16 MiB mark; 20 MB: one hint.
    expect(run(['--expose-gc'])).toEqual([0, 1]);
    expect(run([])).toEqual([0, 0]);
  });

  it('logfan runs with --expose-gc: the managed plugin, the CLI and the tests', async () => {
    const fs = await import('node:fs');
    const config = JSON.parse(fs.readFileSync(path.join(repo, 'config.json'), 'utf8')) as { entrypoint: string[] };
    expect(config.entrypoint).toContain('--expose-gc');
    expect(fs.readFileSync(path.join(repo, 'src/cli.ts'), 'utf8').split('\n')[0]).toContain('--expose-gc');
  });
});
