/**
 * The plugin API over a real unix socket, with requests shaped as moby's plugin client sends
 * them (no Content-Type, bodies ending in a newline, empty bodies for Activate/Capabilities) and
 * real FIFOs written the way the daemon writes them. The daemon-driven tests are in test/e2e.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPluginApp, listenOnSocket } from '../../src/docker/plugin-api.js';
import { decodeLogEntry, encodeFrame, toNanos } from '../../src/docker/log-entry.js';
import { log } from '../../src/log.js';
import { LoggingService } from '../../src/pipeline/logging-service.js';

let dir: string;
let socket: string;
let server: http.Server;
let service: LoggingService;

function post(pathname: string, body: string | null): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socket, method: 'POST', path: pathname, headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(body ?? '') } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body ?? '');
  });
}

const id = (c: string) => c.repeat(64);
function info(containerId: string, config: Record<string, string> = {}) {
  return { Config: config, ContainerID: containerId, ContainerName: '/t', ContainerEntrypoint: 'sh', ContainerArgs: null, ContainerImageID: 'sha256:' + id('e'), ContainerImageName: 'busybox', ContainerCreated: '2026-01-01T00:00:00Z', ContainerEnv: null, ContainerLabels: null, LogPath: '', DaemonName: 'docker' };
}

/** Makes a FIFO and holds it open read-write, as the daemon does before StartLogging. */
function daemonFifo(name: string): { file: string; fd: number } {
  const p = path.join(dir, 'fifos', name);
  execFileSync('mkfifo', ['-m', '0700', p]);
  const fd = fs.openSync(p, fs.constants.O_RDWR);
  return { file: `/run/docker/logging/${name}`, fd };
}

beforeAll(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-api-'));
  await fs.promises.mkdir(path.join(dir, 'fifos'));
  socket = path.join(dir, 'logfan.sock');
  service = new LoggingService({ dataRoot: path.join(dir, 'data'), fifoRoot: path.join(dir, 'fifos'), logger: log });
  server = await listenOnSocket(createPluginApp(service, log), socket);
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await service.shutdown();
  await fs.promises.rm(dir, { recursive: true, force: true });
});

describe('plugin API', () => {
  it('answers Activate with LogDriver for an empty body', async () => {
    expect(await post('/Plugin.Activate', null)).toEqual({ status: 200, json: { Implements: ['LogDriver'] } });
  });
  it('answers Capabilities', async () => {
    const r = await post('/LogDriver.Capabilities', null);
    expect(r.status).toBe(200);
    expect(r.json.Cap).toEqual({ ReadLogs: true });
  });
  it('makes the socket unreachable for other users', () => {
    expect(fs.statSync(socket).mode & 0o007).toBe(0);
  });
  it('logs a FIFO end to end: StartLogging, frames, StopLogging, EOF', async () => {
    const cid = id('1');
    const fifo = daemonFifo(id('a'));
    const r = await post('/LogDriver.StartLogging', JSON.stringify({ File: fifo.file, Info: info(cid, { tag: '{{.Name}}' }) }) + '\n');
    expect(r).toEqual({ status: 200, json: { Err: '' } });
    for (let i = 0; i < 1000; i++) fs.writeSync(fifo.fd, encodeFrame({ source: 'stdout', timeSec: 1764403200 + i, timeNsec: 0, line: Buffer.from(`line ${i}`) }));
    const stop = await post('/LogDriver.StopLogging', JSON.stringify({ File: fifo.file }) + '\n');
    expect(stop).toEqual({ status: 200, json: { Err: '' } });
    // What the daemon does after our answer: close its end.
    fs.closeSync(fifo.fd);
    const file = path.join(dir, 'data', 'containers', cid, `${cid}-json.log`);
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length === 1001);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('{"log":"line 0\\n","stream":"stdout","attrs":{"tag":"t"},"time":"2025-11-29T08:00:00Z"}');
    expect(lines[999]).toContain('"log":"line 999\\n"');
  });
  it('refuses a bad option with an Err naming it', async () => {
    const fifo = daemonFifo(id('b'));
    const r = await post('/LogDriver.StartLogging', JSON.stringify({ File: fifo.file, Info: info(id('2'), { 'max-size': 'abc' }) }) + '\n');
    expect(r.status).toBe(200);
    expect(r.json.Err).toMatch(/max-size="abc"/);
    fs.closeSync(fifo.fd);
  });
  it('refuses a missing FIFO, a path outside /run/docker/logging and a bad container id', async () => {
    expect((await post('/LogDriver.StartLogging', JSON.stringify({ File: `/run/docker/logging/${id('c')}`, Info: info(id('3')) }))).json.Err).toMatch(/ENOENT/);
    expect((await post('/LogDriver.StartLogging', JSON.stringify({ File: '/etc/passwd', Info: info(id('3')) }))).json.Err).toMatch(/File must be/);
    expect((await post('/LogDriver.StartLogging', JSON.stringify({ File: `/run/docker/logging/${id('c')}`, Info: info('../../etc') }))).json.Err).toMatch(/ContainerID/);
    expect((await post('/LogDriver.StartLogging', JSON.stringify({}))).json.Err).toMatch(/missing File/);
  });
  it('answers malformed JSON and unknown endpoints with a JSON Err', async () => {
    const bad = await post('/LogDriver.StartLogging', '{"File": ');
    expect(bad.status).toBe(400);
    expect(bad.json.Err).toMatch(/malformed JSON/);
    const unknown = await post('/LogDriver.Nope', '{}');
    expect(unknown.status).toBe(404);
    expect(unknown.json.Err).toMatch(/unknown endpoint/);
  });
  it('answers StopLogging for an unknown FIFO without an error', async () => {
    expect(await post('/LogDriver.StopLogging', JSON.stringify({ File: `/run/docker/logging/${id('d')}` }))).toEqual({ status: 200, json: { Err: '' } });
  });
  it('keeps logging other containers when one FIFO carries garbage and closes mid-frame', async () => {
    const good = daemonFifo(id('5'));
    const bad = daemonFifo(id('6'));
    await post('/LogDriver.StartLogging', JSON.stringify({ File: good.file, Info: info(id('7')) }));
    await post('/LogDriver.StartLogging', JSON.stringify({ File: bad.file, Info: info(id('8')) }));
    fs.writeSync(bad.fd, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    fs.writeSync(bad.fd, encodeFrame({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('after garbage') }));
    fs.writeSync(bad.fd, encodeFrame({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('cut') }).subarray(0, 10));
    fs.writeSync(good.fd, encodeFrame({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.from('fine') }));
    for (const f of [good, bad]) {
      await post('/LogDriver.StopLogging', JSON.stringify({ File: f.file }));
      fs.closeSync(f.fd);
    }
    const goodFile = path.join(dir, 'data', 'containers', id('7'), `${id('7')}-json.log`);
    const badFile = path.join(dir, 'data', 'containers', id('8'), `${id('8')}-json.log`);
    await waitFor(() => fs.existsSync(goodFile) && fs.readFileSync(goodFile, 'utf8').includes('fine'));
    await waitFor(() => fs.existsSync(badFile) && fs.readFileSync(badFile, 'utf8').includes('after garbage'));
    expect(fs.readFileSync(badFile, 'utf8')).not.toContain('cut');
  });
});

function postRaw(pathname: string, body: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'POST', path: pathname, headers: { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function decodeFrames(body: Buffer): Array<{ source: string; line: string; nanos: bigint }> {
  const out: Array<{ source: string; line: string; nanos: bigint }> = [];
  for (let pos = 0; pos < body.length; ) {
    const len = body.readUInt32BE(pos);
    const e = decodeLogEntry(body, pos + 4, pos + 4 + len);
    out.push({ source: e.source, line: e.line.toString(), nanos: toNanos(e.timeSec, e.timeNsec) });
    pos += 4 + len;
  }
  return out;
}

describe('ReadLogs', () => {
  const cid = id('9');
  const zero = '0001-01-01T00:00:00Z';
  beforeAll(async () => {
    const dirPath = path.join(dir, 'data', 'containers', cid);
    await fs.promises.mkdir(dirPath, { recursive: true });
    await fs.promises.writeFile(
      path.join(dirPath, `${cid}-json.log`),
      [
        '{"log":"one\\n","stream":"stdout","time":"2025-11-29T08:00:00.1Z"}',
        '{"log":"two\\n","stream":"stderr","time":"2025-11-29T08:00:01Z"}',
        '{"log":"torn by a crash","stre',
        '{"log":"three\\n","stream":"stdout","time":"2025-11-29T08:00:02.000000003Z"}',
        '{"log":"piece","stream":"stdout","time":"2025-11-29T08:00:03Z"}',
      ].join('\n') + '\n',
    );
  });
  const read = (config: Record<string, unknown>, containerId = cid) =>
    postRaw('/LogDriver.ReadLogs', JSON.stringify({ Info: info(containerId), Config: { Since: zero, Until: zero, Tail: -1, Follow: false, ...config } }) + '\n');

  it('streams frames with the stored line bytes, skipping a corrupt line', async () => {
    const r = await read({});
    expect(r.status).toBe(200);
    expect(decodeFrames(r.body)).toEqual([
      { source: 'stdout', line: 'one\n', nanos: 1764403200100000000n },
      { source: 'stderr', line: 'two\n', nanos: 1764403201000000000n },
      { source: 'stdout', line: 'three\n', nanos: 1764403202000000003n },
      { source: 'stdout', line: 'piece', nanos: 1764403203000000000n },
    ]);
    expect(service.corruptLinesSkipped).toBeGreaterThan(0);
  });
  it('honours Tail, Since and Until', async () => {
    expect(decodeFrames((await read({ Tail: 2 })).body).map((f) => f.line)).toEqual(['three\n', 'piece']);
    expect(decodeFrames((await read({ Tail: 0 })).body)).toEqual([]);
    expect(decodeFrames((await read({ Since: '2025-11-29T08:00:01Z' })).body).map((f) => f.line)).toEqual(['two\n', 'three\n', 'piece']);
    expect(decodeFrames((await read({ Until: '2025-11-29T10:00:02.000000003+02:00' })).body).map((f) => f.line)).toEqual(['one\n', 'two\n', 'three\n']);
  });
  it('answers an empty stream for an unknown container or a since later than until', async () => {
    const unknown = await read({}, id('0'));
    expect(unknown.status).toBe(200);
    expect(unknown.body.length).toBe(0);
    const inverted = await read({ Since: '2025-11-29T08:00:02Z', Until: '2025-11-29T08:00:01Z' });
    expect(inverted.status).toBe(200);
    expect(inverted.body.length).toBe(0);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
