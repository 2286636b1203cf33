// What the benchmarks share: process CPU and memory from /proc, medians, child processes whose
// output lines are events, and waiting for such an event.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const CLK_TCK = 100;
const run = promisify(execFile);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const docker = async (...args) => (await run('docker', args, { maxBuffer: 64 << 20 })).stdout.trim();

/** User + system CPU seconds of a process so far; 0 when there is no such process. */
export function cpuSeconds(pid) {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The peak resident set of a process (VmHWM), in MB. */
export function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Starts a child and calls onLine for each line of its stdout and stderr. */
export function startChild(cmd, args, env, onLine) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (t) => {
      buf += t;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  return child;
}

/** Lines (events) from a child, and waiting for the first that matches. */
export class EventWaiter {
  lines = [];
  waiters = [];
  push(line) {
    this.lines.push(line);
    if (this.lines.length > 10_000) this.lines.splice(0, 5_000);
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(pred, timeoutMs = 300_000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (Date.now() > end) throw new Error('timed out waiting for plugin event');
      await Promise.race([new Promise((r) => this.waiters.push(r)), sleep(100)]);
    }
  }
}
