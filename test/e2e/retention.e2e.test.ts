/**
 * Retention: a plugin is never told that a container was removed, so logfan asks the daemon and
 * deletes the store of removed containers, as Docker deletes json-file logs on `docker rm`; and a
 * size cap on the data root removes the oldest stopped containers' logs first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, runToCompletion, sleep, startLogfan, type LogfanProcess, uniqueDriver } from './harness.js';

const RETENTION = uniqueDriver('logfan-e2e-retention');
const CAP = uniqueDriver('logfan-e2e-cap');
const containers: string[] = [];
let logfan: LogfanProcess | undefined;

beforeAll(async () => {
  await requireDocker();
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('retention', () => {
  it('deletes the logs of removed containers and keeps those of stopped ones', async () => {
    logfan = await startLogfan(RETENTION, {}, undefined, ['--retention-interval', '1s']);
    const storeDir = (id: string) => path.dirname(logfan!.jsonLogPath(id));
    const kept = await runToCompletion(['--log-driver', RETENTION, IMAGE, 'sh', '-c', 'seq 1 100']);
    containers.push(kept);
    await docker(['run', '--rm', '--network', 'none', '--log-driver', RETENTION, IMAGE, 'sh', '-c', 'echo short-lived']);
    // The --rm container's store appeared and goes once the daemon no longer knows it.
    const dirs = () => {
      try {
        return fs.readdirSync(path.join(logfan!.dataRoot, 'containers'));
      } catch (err) {
        throw new Error(`${(err as Error).message}; logfan said: ${JSON.stringify(logfan!.logLines)}`);
      }
    };
    await waitFor(() => dirs().length === 1, 'the removed container\'s logs to be deleted');
    expect(dirs()).toEqual([kept]);
    await sleep(2500);
    expect(fs.existsSync(storeDir(kept))).toBe(true);
    await docker(['rm', kept]);
    await waitFor(() => !fs.existsSync(storeDir(kept)), 'logs to be deleted after docker rm');
    await logfan.stop();
    logfan = undefined;
  });

  it('keeps the data root under max-data-root-size by dropping the oldest stopped containers', async () => {
    logfan = await startLogfan(CAP, {}, undefined, ['--retention-interval', '1s', '--docker-socket', '', '--max-data-root-size', '40k']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      // ~18 KB of json-file each
      ids.push(await runToCompletion(['--log-driver', CAP, IMAGE, 'sh', '-c', 'seq 1 250']));
      await logfan.waitForStopped(ids[i]);
      await sleep(50);
    }
    containers.push(...ids);
    const root = path.join(logfan.dataRoot, 'containers');
    const size = () => fs.readdirSync(root).reduce((sum, id) => sum + fs.readdirSync(path.join(root, id)).reduce((s, f) => s + fs.statSync(path.join(root, id, f)).size, 0), 0);
    await waitFor(() => size() <= 40_000, 'the data root to shrink under 40k');
    // The newest stores are the ones kept.
    expect(fs.readdirSync(root).sort()).toEqual(ids.slice(-2).sort());
  });
});
