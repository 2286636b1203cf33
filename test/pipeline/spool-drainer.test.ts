import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogEntry } from '../../src/docker/log-entry.js';
import { log } from '../../src/log.js';
import { SpoolDrainer } from '../../src/pipeline/spool-drainer.js';
import { syslogSinkFactory } from '../../src/sinks/syslog/index.js';
import type { SinkContext } from '../../src/sinks/sink.js';
import { freePort } from '../net-helpers.js';

const ID = 'd'.repeat(64);
const INFO = { Config: {}, ContainerID: ID, ContainerName: '/job', ContainerEntrypoint: 'sh', ContainerArgs: [], ContainerImageID: '', ContainerImageName: 'busybox', ContainerCreated: '', ContainerEnv: [], ContainerLabels: {}, LogPath: '', DaemonName: 'docker' };

let dir: string;
const closers: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-drainer-'));
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await fs.promises.rm(dir, { recursive: true, force: true });
});

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SpoolDrainer: spools of containers that are not logging', () => {
  it('sends what a closed sink left in its spool once the server is back, then removes the spool; a new owner takes a drain over', async () => {
    const port = await freePort();
    const spoolDir = path.join(dir, 'spool', ID, 'syslog');
    const ctx: SinkContext = {
      info: INFO as never,
      options: { 'syslog-address': `tcp://127.0.0.1:${port}`, tag: 'job' },
      logger: log,
      queue: { policy: 'drop-newest', maxBytes: 64 * 1024, spool: true, spoolMaxBytes: 1 << 30 },
      spoolDir,
      closeDeadlineMs: 300,
    };
    let logging = true;
    const drainer = new SpoolDrainer(dir, log, () => logging);
    closers.push(() => drainer.close());
    await drainer.claim(ctx, 'syslog');
    const sink = await syslogSinkFactory.create(ctx);
    for (let i = 0; i < 500; i++) sink.write(LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from(`left ${i}`) }));
    sink.flush();
    await sink.close();
    expect(sink.stats()['spooledAtClose']).toBe(500);

    // Still logging (e.g. re-attached): nothing to drain.
    await drainer.scan();
    expect(drainer.activeCount).toBe(0);
    logging = false;
    await drainer.afterContainer(ID);
    expect(drainer.activeCount).toBe(1);

    const received: Buffer[] = [];
    const server = net.createServer((c) => c.on('data', (d: Buffer) => received.push(d)));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const lines = () => Buffer.concat(received).toString().split('\n').filter((l) => l !== '');
    await waitFor(() => lines().length === 500);
    expect(lines().map((l) => l.replace(/^.*\]: /, ''))).toEqual(Array.from({ length: 500 }, (_, i) => `left ${i}`));
    await waitFor(() => !fs.existsSync(spoolDir));
    expect(drainer.drained).toBe(1);
    expect(drainer.activeCount).toBe(0);
  });

  it('a container that starts logging again takes its spool back from the drain', async () => {
    const port = await freePort();
    const spoolDir = path.join(dir, 'spool', ID, 'syslog');
    const ctx: SinkContext = {
      info: INFO as never,
      options: { 'syslog-address': `tcp://127.0.0.1:${port}` },
      logger: log,
      queue: { policy: 'drop-newest', maxBytes: 64 * 1024, spool: true, spoolMaxBytes: 1 << 30 },
      spoolDir,
      closeDeadlineMs: 300,
    };
    const drainer = new SpoolDrainer(dir, log, () => false);
    closers.push(() => drainer.close());
    await drainer.claim(ctx, 'syslog');
    const sink = await syslogSinkFactory.create(ctx);
    for (let i = 0; i < 10; i++) sink.write(LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from(`kept ${i}`) }));
    await sink.close();
    await drainer.scan();
    expect(drainer.activeCount).toBe(1);
    // The container's next sink: the drain stops (its spool kept) before the new sink opens it.
    await drainer.claim(ctx, 'syslog');
    expect(drainer.activeCount).toBe(0);
    const next = await syslogSinkFactory.create(ctx);
    closers.push(() => next.close());
    await next.spoolReady!();
    expect(next.stats()['queued']).toBe(10);
  });
});
