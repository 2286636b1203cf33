// SpoolQueue throughput through disk: 1M messages of 100 bytes.
//   npx tsc -p tsconfig.build.json && node bench/spool-queue.mjs [messages]
// Phase 1, the sink is away: everything is pushed (10k per event-loop turn, like a busy container)
// and spills to disk. Phase 2, the sink is back: everything is drained, in order, read back from
// disk. Phase 3, streaming: producer and a slower consumer at the same time, so the queue lives
// on disk while both run. Rates are messages per second of wall time; CPU is this process's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SpoolQueue } from '../dist/sinks/util/spool-queue.js';

const N = Number(process.argv[2] ?? 1_000_000);
const SIZE = 100;
const PER_TURN = 10_000;

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-spool-bench-'));
const turn = () => new Promise((r) => setImmediate(r));

/** Distinct 100-byte messages: an 8-digit sequence number, then filler (copied by push()). */
const template = Buffer.alloc(SIZE, 'x');
function message(i) {
  template.write(String(i % 1e8).padStart(8, '0'), 0, 'latin1');
  return template;
}

function newQueue(dir) {
  let wake = null;
  const q = new SpoolQueue({
    dir,
    memoryBytes: 1024 * 1024,
    maxDiskBytes: 4 * 1024 * 1024 * 1024,
    onReadable: () => {
      const w = wake;
      wake = null;
      w?.();
    },
  });
  const readable = () =>
    new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 50).unref();
    });
  return { q, readable };
}

function measure(label, n, t0, cpu0, extra = '') {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  const rate = n / secs;
  console.log(
    `${label.padEnd(34)} ${String(Math.round(rate)).padStart(9)} msg/s  ${(rate * SIZE / 1e6).toFixed(1).padStart(6)} MB/s  ` +
      `${secs.toFixed(2)} s  cpu ${(cpuSecs / secs * 100).toFixed(0)}%${extra}`,
  );
  return secs;
}

let expected = 0;
let outOfOrder = 0;
function check(batch) {
  for (const m of batch) if (Number(m.toString('latin1', 0, 8)) !== expected++ % 1e8) outOfOrder++;
}

// ---- phases 1 and 2: spill everything, then drain everything
{
  const { q, readable } = newQueue(path.join(base, 'a'));
  await q.open();
  let t0 = process.hrtime.bigint();
  let cpu0 = process.cpuUsage();
  const tAll = t0;
  const cpuAll = cpu0;
  for (let i = 0; i < N; ) {
    for (const end = Math.min(N, i + PER_TURN); i < end; i++) if (!q.push(message(i))) throw new Error('dropped');
    await turn();
  }
  await q.flush();
  const s = q.stats();
  const pushSecs = measure('push (sink away, spills to disk)', N, t0, cpu0, `  disk ${(s.diskBytes / 1e6).toFixed(0)} MB, ${s.segments} segments`);
  t0 = process.hrtime.bigint();
  cpu0 = process.cpuUsage();
  while (q.length > 0) {
    const batch = q.take(4096, 512 * 1024);
    if (batch.length === 0) await readable();
    else check(batch);
  }
  const drainSecs = measure('drain (sink back, reads disk)', N, t0, cpu0);
  measure('push + drain through disk', N, tAll, cpuAll, `  (${(pushSecs + drainSecs).toFixed(2)} s)`);
  await q.close();
}

// ---- phase 3: streaming, the consumer slower than the producer
{
  const { q, readable } = newQueue(path.join(base, 'b'));
  await q.open();
  expected = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let i = 0;
  let maxDisk = 0;
  while (expected < N) {
    for (const end = Math.min(N, i + PER_TURN); i < end; i++) if (!q.push(message(i))) throw new Error('dropped');
    const batch = q.take(Math.floor(PER_TURN * 0.8), 4 * 1024 * 1024);
    check(batch);
    maxDisk = Math.max(maxDisk, q.stats().diskBytes);
    if (batch.length === 0 && q.length > 0) await readable();
    else await turn();
  }
  measure('streaming (both at once)', N, t0, cpu0, `  disk peak ${(maxDisk / 1e6).toFixed(0)} MB, spooled ${q.stats().spooledTotal}`);
  await q.close();
}

fs.rmSync(base, { recursive: true, force: true });
if (outOfOrder > 0) {
  console.error(`${outOfOrder} messages out of order`);
  process.exit(1);
}
console.log(`order checked: ${2 * N} messages, none out of order`);
