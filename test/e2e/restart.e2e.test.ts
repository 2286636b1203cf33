/**
 * Restart without loss: the daemon never calls StartLogging again for running containers, so a
 * restarted logfan re-attaches to their FIFOs itself (state under <data-root>/state) and reads on
 * from exactly where it stopped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, sleep, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';

const DRIVER = uniqueDriver('logfan-e2e-restart');
let logfan: LogfanProcess;
const containers: string[] = [];

beforeAll(async () => {
  await requireDocker();
  logfan = await startLogfan(DRIVER);
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
});

// 3000 numbered lines over ~3 s, in bursts.
const SCRIPT = 'i=0; while [ $i -lt 3000 ]; do j=0; while [ $j -lt 100 ]; do i=$((i+1)); j=$((j+1)); echo line-$i; done; sleep 0.1; done';

async function runLoggers(count: number, script = SCRIPT, opts: string[] = []): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: count }, async () => (await docker(['run', '-d', '--network', 'none', '--log-driver', DRIVER, ...opts, IMAGE, 'sh', '-c', script])).stdout.trim()),
  );
  containers.push(...ids);
  return ids;
}

function loggedNumbers(file: string): number[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => Number((JSON.parse(l) as { log: string }).log.trim().slice('line-'.length)));
}

/** The store's lines, oldest first: NAME.k … NAME.1 (rotated, uncompressed here), then NAME. */
function storeNumbers(file: string): number[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`))
    .map((f) => Number(f.slice(base.length + 1)))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a);
  const out: number[] = [];
  for (const f of [...rotated.map((n) => `${file}.${n}`), file]) {
    if (!fs.existsSync(f)) continue;
    for (const l of fs.readFileSync(f, 'utf8').split('\n')) {
      if (l !== '') out.push(Number((JSON.parse(l) as { log: string }).log.trim().slice('line-'.length)));
    }
  }
  return out;
}


/** What differs from 1..n: lines missing, lines twice, lines out of order. */
function compareToSequence(got: number[], n: number): { count: number; missing: number[]; duplicates: number[]; outOfOrder: number } {
  const seen = new Map<number, number>();
  let outOfOrder = 0;
  for (let i = 0; i < got.length; i++) {
    seen.set(got[i], (seen.get(got[i]) ?? 0) + 1);
    if (i > 0 && got[i] <= got[i - 1]) outOfOrder++;
  }
  const missing: number[] = [];
  for (let k = 1; k <= n; k++) if (!seen.has(k)) missing.push(k);
  const duplicates = [...seen.entries()].filter(([, c]) => c > 1).map(([k]) => k);
  return { count: got.length, missing, duplicates, outOfOrder };
}

describe('restart', () => {
  it('SIGTERM and start again while 10 containers log: every line once, in order', async () => {
    const ids = await runLoggers(10);
    await sleep(1200);
    const dataRoot = logfan.dataRoot;
    await logfan.stop();
    await sleep(700);
    logfan = await startLogfan(DRIVER, {}, dataRoot);
    expect(logfan.logLines.some((l) => l.msg === 're-attached to running containers' && l.containers === 10)).toBe(true);
    await Promise.all(ids.map((id) => docker(['wait', id])));
    await Promise.all(ids.map((id) => logfan.waitForStopped(id)));
    for (const id of ids) expect(loggedNumbers(logfan.jsonLogPath(id))).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('SIGKILL and start again: every line once, in order', async () => {
    const ids = await runLoggers(5);
    await sleep(1200);
    const dataRoot = logfan.dataRoot;
    logfan.child.kill('SIGKILL');
    await new Promise((r) => logfan.child.once('exit', r));
    await logfan.stop();
    await sleep(700);
    logfan = await startLogfan(DRIVER, {}, dataRoot);
    await Promise.all(ids.map((id) => docker(['wait', id])));
    await Promise.all(ids.map((id) => logfan.waitForStopped(id)));
    let lost = 0;
    for (const id of ids) {
      const got = loggedNumbers(logfan.jsonLogPath(id));
      for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
      expect(got[got.length - 1]).toBe(3000);
      lost += 3000 - got.length;
    }
    // Bytes leave a FIFO only after the store wrote them (src/docker/fifo-peek.ts).
    expect(lost).toBe(0);
  });

  it('kill -9 while 20 containers log steadily in blocking mode, start again on the same data root: every line once, in order', async () => {
    // Issue #7: 20 containers, 3000 numbered lines each, ~1 line / 2 ms (bursts of 10 every 20 ms:
    // one usleep fork per burst, not per line, so 20 of them fit on a small machine).
    const N = 3000;
    const steady = `i=0; while [ $i -lt ${N} ]; do j=0; while [ $j -lt 10 ]; do i=$((i+1)); j=$((j+1)); echo line-$i; done; usleep 20000; done`;
    const t0 = Date.now();
    const ids = await runLoggers(20, steady, ['--log-opt', 'mode=blocking']);
    const started = Date.now();
    // Mid-stream: every container has logged part of its lines.
    await sleep(2500);
    const before = ids.map((id) => {
      try {
        return fs.readFileSync(logfan.jsonLogPath(id), 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    });
    const dataRoot = logfan.dataRoot;
    logfan.child.kill('SIGKILL');
    await new Promise((r) => logfan.child.once('exit', r));
    const killedAt = Date.now();
    await logfan.stop();
    await sleep(700);
    logfan = await startLogfan(DRIVER, {}, dataRoot);
    const restartedAt = Date.now();
    const reattached = logfan.logLines.find((l) => l.msg === 're-attached to running containers') as { containers?: number } | undefined;
    const running = (await docker(['inspect', '-f', '{{.State.Running}}', ...ids])).stdout.trim().split('\n').filter((s) => s === 'true').length;
    await Promise.all(ids.map((id) => docker(['wait', id])));
    await Promise.all(ids.map((id) => logfan.waitForStopped(id)));
    const results = ids.map((id) => compareToSequence(storeNumbers(logfan.jsonLogPath(id)), N));
    const corrupt = logfan.logLines.filter((l) => l.msg === 'corrupt frame in FIFO').length;
    const skippedOnRestart = logfan.logLines.filter((l) => l.msg === 'skipped entries the store already had (restart)').length;
    const tornTails = logfan.logLines.filter((l) => l.msg.startsWith('cut an unfinished last record')).length;
    console.log(
      `[restart] ${JSON.stringify({
        containers: ids.length,
        startSeconds: (started - t0) / 1000,
        linesBeforeKill: before,
        downMs: restartedAt - killedAt,
        runningAtRestart: running,
        reattached: reattached?.containers ?? 0,
        totalSeconds: (Date.now() - t0) / 1000,
        corruptFrameWarnings: corrupt,
        containersWithRepeatsSkipped: skippedOnRestart,
        tornTails,
        lines: results.map((r) => r.count),
        missing: results.map((r) => (r.missing.length > 10 ? `${r.missing.length} (${r.missing.slice(0, 5).join(',')}…)` : r.missing.join(','))).filter((m) => m !== ''),
        duplicates: results.reduce((a, r) => a + r.duplicates.length, 0),
        outOfOrder: results.reduce((a, r) => a + r.outOfOrder, 0),
      })}`,
    );
    // Killed mid-stream indeed: every container had logged some of its lines, not all.
    expect(before.every((n) => n > 0 && n < N)).toBe(true);
    expect(reattached?.containers).toBe(ids.length);
    for (const [i, r] of results.entries()) {
      expect(r.duplicates, `container ${i}: lines twice`).toEqual([]);
      expect(r.outOfOrder, `container ${i}: lines out of order`).toBe(0);
      // Nothing leaves a FIFO before the store wrote it; what the FIFO repeats of the store after
      // the restart is skipped (src/pipeline/resume-dedupe.ts).
      expect(r.missing, `container ${i}: lines missing`).toEqual([]);
      expect(r.count).toBe(N);
    }
  }, 90_000);
});
