/**
 * Restart without loss: the daemon never calls StartLogging again for running containers, so a
 * restarted logfan re-attaches to their FIFOs itself (state under <data-root>/state) and reads on
 * from exactly where it stopped.
 */
import fs from 'node:fs';
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

async function runLoggers(count: number): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: count }, async () => (await docker(['run', '-d', '--network', 'none', '--log-driver', DRIVER, IMAGE, 'sh', '-c', SCRIPT])).stdout.trim()),
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

  it('SIGKILL and start again: in order, nothing twice, and at most the one batch in flight lost', async () => {
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
    // A kill -9 can only lose what was read from a pipe and not yet written: one read batch.
    expect(lost).toBeLessThan(5 * 400);
  });
});
