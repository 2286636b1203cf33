/**
 * The sidecar (`logfan serve`): the driver name is the socket's base name, and SIGTERM stops it
 * cleanly — whatever a running container wrote so far is on disk and the socket is gone.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, sleep, startLogfan, type LogfanProcess, uniqueDriver } from './harness.js';

const SIDECAR = uniqueDriver('logfan-e2e-sidecar');
let logfan: LogfanProcess;
const containers: string[] = [];

beforeAll(async () => {
  await requireDocker();
  logfan = await startLogfan(SIDECAR);
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
});

describe('sidecar', () => {
  it('flushes a running container\'s lines and removes its socket on SIGTERM', async () => {
    const { stdout } = await docker(['run', '-d', '--network', 'none', '--log-driver', SIDECAR, '--log-opt', 'mode=non-blocking', IMAGE, 'sh', '-c', 'seq 1 500; sleep 60']);
    const id = stdout.trim();
    containers.push(id);
    const file = logfan.jsonLogPath(id);
    const end = Date.now() + 20_000;
    while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"log":"500\\n"'))) {
      if (Date.now() > end) throw new Error('lines did not arrive');
      await sleep(100);
    }
    const exited = new Promise<number | null>((resolve) => logfan.child.once('exit', (code) => resolve(code)));
    logfan.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fs.existsSync(logfan.socket)).toBe(false);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(500);
    expect(logfan.logLines.some((l) => l.msg === 'shutting down')).toBe(true);
  });
});
