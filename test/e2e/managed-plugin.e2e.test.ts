/**
 * The managed plugin, built and installed as `npm run plugin:install` does (rootfs assembled from
 * this machine's Node runtime, no registry), then used by a real container.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, REPO, docker, removeContainers, requireDocker, runToCompletion, sleep } from './harness.js';

const run = promisify(execFile);
const NAME = 'logfan-e2e-managed';
let dataRoot: string;
const containers: string[] = [];

async function removePlugin(): Promise<void> {
  await docker(['plugin', 'disable', '-f', NAME], { allowFail: true });
  await docker(['plugin', 'rm', '-f', NAME], { allowFail: true });
}

beforeAll(async () => {
  await requireDocker();
  await removePlugin();
  dataRoot = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-managed-'));
  await run(process.execPath, [path.join(REPO, 'plugin/build.mjs'), '--install', '--name', NAME, '--data-root', dataRoot, '--out', path.join(dataRoot, 'bundle')]);
}, 300_000);

afterAll(async () => {
  await removeContainers(containers);
  await removePlugin();
  if (dataRoot) await fs.promises.rm(dataRoot, { recursive: true, force: true });
});

describe('managed plugin', () => {
  it('is installed and enabled under its name', async () => {
    const { stdout } = await docker(['plugin', 'inspect', '--format', '{{.Enabled}} {{index .Config.Interface.Types 0}} {{.Config.Interface.Socket}} {{.Config.Network.Type}}', NAME]);
    expect(stdout.trim()).toBe('true docker.logdriver/1.0 logfan.sock host');
  });

  it('writes a container\'s logs to <data-root>/containers/<id>/<id>-json.log on the host', async () => {
    const id = await runToCompletion(['--log-driver', NAME, '--log-opt', 'tag={{.Name}}', '--name', `managed-${Date.now()}`, IMAGE, 'sh', '-c', 'echo managed says hi; echo to stderr >&2']);
    containers.push(id);
    const file = path.join(dataRoot, 'containers', id, `${id}-json.log`);
    const end = Date.now() + 20_000;
    while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length >= 3)) {
      if (Date.now() > end) throw new Error(`${file} did not get both lines`);
      await sleep(100);
    }
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const byStream = Object.fromEntries(lines.map((l) => [l.stream, l.log]));
    expect(byStream).toEqual({ stdout: 'managed says hi\n', stderr: 'to stderr\n' });
    expect((lines[0].attrs as Record<string, string>).tag).toMatch(/^managed-\d+$/);
  });

  it('fans out to a network sink from inside the plugin (host network)', async () => {
    const received: string[] = [];
    const server = dgram.createSocket('udp4');
    server.on('message', (m) => received.push(m.toString('latin1')));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const id = await runToCompletion(['--log-driver', NAME, '--log-opt', 'sinks=syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${port}`, '--log-opt', 'tag=managed-syslog', IMAGE, 'sh', '-c', 'echo via the managed plugin']);
      containers.push(id);
      const end = Date.now() + 20_000;
      while (!received.some((m) => m.includes('via the managed plugin'))) {
        if (Date.now() > end) throw new Error(`no syslog message arrived: ${JSON.stringify(received)}`);
        await sleep(100);
      }
      expect(received.find((m) => m.includes('via the managed plugin'))).toMatch(/^<30>\w{3} [ \d]\d \d{2}:\d{2}:\d{2} managed-syslog\[\d+\]: via the managed plugin\n$/);
    } finally {
      server.close();
    }
  });

  it('sends to fluentd and GELF from inside the plugin', async () => {
    const gelf: Buffer[] = [];
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m) => gelf.push(m));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    let forward = Buffer.alloc(0);
    const tcp = net.createServer((c) => c.on('data', (d: Buffer) => (forward = Buffer.concat([forward, d]))));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    try {
      const id = await runToCompletion([
        '--log-driver', NAME,
        '--log-opt', 'sinks=fluentd,gelf',
        '--log-opt', `fluentd-address=127.0.0.1:${(tcp.address() as net.AddressInfo).port}`,
        '--log-opt', `gelf-address=udp://127.0.0.1:${(udp.address() as { port: number }).port}`,
        '--log-opt', 'gelf-compression-type=none',
        IMAGE, 'sh', '-c', 'echo to-fluentd-and-gelf',
      ]);
      containers.push(id);
      const end = Date.now() + 20_000;
      while (!(forward.includes('to-fluentd-and-gelf') && gelf.some((m) => m.includes('to-fluentd-and-gelf')))) {
        if (Date.now() > end) throw new Error(`fluentd got ${forward.length} bytes, GELF ${gelf.length} messages`);
        await sleep(100);
      }
      const doc = JSON.parse(gelf.find((m) => m.includes('to-fluentd-and-gelf'))!.toString()) as Record<string, unknown>;
      expect(doc).toMatchObject({ version: '1.1', short_message: 'to-fluentd-and-gelf', level: 6, _container_id: id });
      expect(forward.includes(Buffer.from(id))).toBe(true);
    } finally {
      udp.close();
      tcp.close();
    }
  });

  it('docker plugin disable -f / enable while a container logs: every line once, in order', async () => {
    // 4,000 numbered lines over ~8 s; the plugin is away for ~2 s in the middle.
    const N = 4000;
    const script = `i=0; while [ $i -lt ${N} ]; do j=0; while [ $j -lt 10 ]; do i=$((i+1)); j=$((j+1)); echo line-$i; done; usleep 20000; done`;
    const { stdout } = await docker(['run', '-d', '--network', 'none', '--log-driver', NAME, IMAGE, 'sh', '-c', script]);
    const id = stdout.trim();
    containers.push(id);
    const file = path.join(dataRoot, 'containers', id, `${id}-json.log`);
    const count = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0);
    const end = Date.now() + 20_000;
    while (count() < 500 && Date.now() < end) await sleep(100);
    const before = count();
    await docker(['plugin', 'disable', '-f', NAME]);
    await sleep(2000);
    await docker(['plugin', 'enable', NAME]);
    await docker(['wait', id]);
    const done = Date.now() + 30_000;
    while (count() < N && Date.now() < done) await sleep(200);
    const got = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => Number((JSON.parse(l) as { log: string }).log.trim().slice('line-'.length)));
    console.log(`[managed restart] ${before} lines before disable -f, ${got.length} of ${N} at the end`);
    expect(before).toBeLessThan(N);
    expect(got).toEqual(Array.from({ length: N }, (_, k) => k + 1));
  }, 120_000);

  it('refuses a bad option through the managed plugin too', async () => {
    const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', NAME, '--log-opt', 'max-file=many', IMAGE, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/max-file="many"/);
  });
});
