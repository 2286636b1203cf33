/**
 * Metrics, health and `logfan status` on the plugin socket, while a real container logs.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, IMAGE, docker, removeContainers, requireDocker, sleep, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';

const run = promisify(execFile);
const DRIVER = uniqueDriver('logfan-e2e-obs');
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

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: logfan.socket, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (t: string) => (body += t));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('observability', () => {
  it('exposes per-container metrics, health and a status table for a logging container', async () => {
    const name = `obs-${process.pid}`;
    const { stdout } = await docker(['run', '-d', '--network', 'none', '--name', name, '--log-driver', DRIVER, IMAGE, 'sh', '-c', 'seq 1 500; sleep 30']);
    const id = stdout.trim();
    containers.push(id);
    let metrics = '';
    for (let i = 0; i < 50 && !metrics.includes(`logfan_entries_in_total{container="${id.slice(0, 12)}",name="${name}"} 500`); i++) {
      await sleep(100);
      metrics = (await get('/metrics')).body;
    }
    expect(metrics).toContain(`logfan_entries_in_total{container="${id.slice(0, 12)}",name="${name}"} 500`);
    expect(metrics).toContain(`logfan_sink_stat{container="${id.slice(0, 12)}",name="${name}",sink="json-file",stat="entriesWritten"} 500`);
    expect(metrics).toMatch(/^logfan_containers_logging \d+$/m);
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', reasons: [] });
    const status = await run(process.execPath, [CLI, 'status', '--socket', logfan.socket, '--interval', '0']);
    expect(status.stdout).toMatch(new RegExp(`${id.slice(0, 12)}\\s+${name}\\s+-\\s+500\\s+.*json-file\\s+500\\s+0`));
    await docker(['rm', '-f', id]);
    await logfan.waitForStopped(id);
    // What it did stays counted after it is gone.
    expect((await get('/metrics')).body).toMatch(/^logfan_finished_sink_stat_total\{sink="json-file",stat="entriesWritten"\} [1-9]\d*$/m);
  });
});
