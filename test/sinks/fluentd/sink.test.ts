import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FluentServer } from '@fluent-org/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { LogEntry } from '../../../src/docker/log-entry.js';
import type { Logger } from '../../../src/log.js';
import { FluentdEncoder, FluentdSink, type FluentdSinkTuning, fluentdSinkFactory, parseFluentdOptions } from '../../../src/sinks/fluentd/index.js';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { ForwardReceiver, Incomplete, decodeValue, parseEvent } from './forward-receiver.js';
import { freePort } from '../../net-helpers.js';

const ID = '0123456789ab'.repeat(5) + 'cdef';

interface LogCall {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function fakeLogger(calls: LogCall[] = []): Logger {
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void calls.push({ level, fields, msg });
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeSink(options: Record<string, string>, tuning: FluentdSinkTuning = {}, calls: LogCall[] = []): FluentdSink {
  const config = parseFluentdOptions(options);
  const encoder = new FluentdEncoder({
    tag: 'test.tag',
    containerId: ID,
    containerName: '/box',
    extra: {},
    subSecondPrecision: config.subSecondPrecision,
    requestAck: config.requestAck,
  });
  const sink = new FluentdSink(config, encoder, ID, fakeLogger(calls), tuning);
  sink.start();
  cleanups.push(() => sink.close());
  return sink;
}

function entry(i: number, source = 'stdout'): LogEntry {
  return LogEntry.of({ source, timeSec: 1700000000 + i, timeNsec: 1000 + i, line: Buffer.from(`line ${i}`) });
}

async function receiver(opts: ConstructorParameters<typeof ForwardReceiver>[0] = {}, at: { port?: number; path?: string } = {}): Promise<ForwardReceiver> {
  const r = new ForwardReceiver(opts);
  await r.listen(at);
  cleanups.push(() => r.close());
  return r;
}

async function waitFor(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until the sink's socket has not taken its last write for 300 ms (the peer is not reading). */
async function untilWriteHangs(sink: FluentdSink): Promise<void> {
  let since = Date.now();
  await waitFor(() => {
    if (sink.pendingBytes === sink.stats().queuedBytes) since = Date.now();
    return Date.now() - since >= 300;
  }, 'a write that does not finish');
}

/** A forward peer whose first connection reads nothing until resumeFirst(); the rest read at once. */
async function stallingPeer() {
  const connections: Buffer[][] = [];
  const sockets: net.Socket[] = [];
  let closed = 0;
  let resumeFirst = (): void => undefined;
  const server = net.createServer((sock) => {
    const received: Buffer[] = [];
    connections.push(received);
    if (connections.length === 1) {
      sock.pause();
      resumeFirst = () => sock.resume();
    }
    sock.on('data', (d: Buffer) => received.push(d));
    sock.on('close', () => closed++);
    sock.on('error', () => undefined);
    sockets.push(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    for (const sock of sockets) sock.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluentd-final-flush-'));
  cleanups.push(() => fs.rmSync(spoolDir, { recursive: true, force: true }));
  return {
    port: (server.address() as net.AddressInfo).port,
    spool: { dir: spoolDir, maxDiskBytes: 256 * 1024 * 1024 },
    connections,
    closed: () => closed,
    resumeFirst: () => resumeFirst(),
  };
}

type StallingPeer = Awaited<ReturnType<typeof stallingPeer>>;
const STALL_TOTAL = 100_000;

/** A spooling sink with STALL_TOTAL events and a 200 ms close deadline, its write stuck on the first connection. */
async function fillAndStall(peer: StallingPeer): Promise<FluentdSink> {
  const sink = makeSink({ 'fluentd-address': `127.0.0.1:${peer.port}` }, { spool: peer.spool, queueBytes: 1024 * 1024, closeDeadlineMs: 200 });
  await sink.spoolReady();
  for (let i = 0; i < STALL_TOTAL; i++) sink.write(entry(i));
  sink.flush();
  await untilWriteHangs(sink);
  return sink;
}

/** A second sink on the same spool sends what the first left; the line numbers the peer decoded, per connection in order. */
async function sendRestAndCollect(peer: StallingPeer): Promise<number[]> {
  const second = makeSink({ 'fluentd-address': `127.0.0.1:${peer.port}` }, { spool: peer.spool, queueBytes: 1024 * 1024 });
  await second.spoolReady();
  await waitFor(() => second.pendingBytes === 0 && second.stats().queued === 0, 'the spool sent');
  await second.close();
  await waitFor(() => peer.closed() === 2, 'both connections closed');
  const got: number[] = [];
  for (const received of peer.connections) {
    const all = Buffer.concat(received);
    for (let pos = 0; pos < all.length; ) {
      let r;
      try {
        r = decodeValue(all, pos);
      } catch (err) {
        if (err instanceof Incomplete) break; // a torn event at the end of a connection: dropped, as fluentd does
        throw err;
      }
      got.push(Number(/\d+$/.exec(parseEvent(r.value, all.subarray(pos, r.end)).record.get('log')!.toString())![0]));
      pos = r.end;
    }
  }
  return got;
}

function lines(r: ForwardReceiver): string[] {
  return r.events.map((e) => e.record.get('log')!.toString());
}

describe('fluentd sink against a real forward peer', () => {
  it('is accepted by @fluent-org/logger FluentServer with EventTime and acks', async () => {
    const server = new FluentServer({ listenOptions: { port: 0, host: '127.0.0.1' } });
    const got: Array<{ tag: string; time: unknown; record: Record<string, string> }> = [];
    server.on('entry', (tag: string, time: unknown, record: Record<string, string>) => got.push({ tag, time, record }));
    await server.listen();
    cleanups.push(() => server.close());
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${server.port}`, 'fluentd-sub-second-precision': 'true', 'fluentd-request-ack': 'true' });
    for (let i = 0; i < 50; i++) sink.write(entry(i, i % 2 ? 'stderr' : 'stdout'));
    sink.flush();
    await waitFor(() => sink.stats().acked === 50, 'acks');
    expect(got.length).toBe(50);
    expect(got[7].tag).toBe('test.tag');
    expect(got[7].time).toMatchObject({ epoch: 1700000007, nano: 1007 });
    expect(got[7].record).toEqual({ container_id: ID, container_name: '/box', source: 'stderr', log: 'line 7' });
    expect(sink.stats()).toMatchObject({ sent: 50, acked: 50, dropped: 0, inflight: 0 });
  });

  it('sends many events in few writes, byte-identical to the encoder output, in order', async () => {
    const r = await receiver();
    const sink = makeSink({ 'fluentd-address': `tcp://127.0.0.1:${r.port}` });
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      sink.write(entry(i));
      if (i % 1000 === 999) sink.flush();
    }
    sink.flush();
    await r.waitFor(n);
    const expected = Buffer.alloc(200);
    for (const i of [0, 1234, n - 1]) {
      const len = sink.encoder.encode(entry(i), expected, 0);
      expect(r.events[i].raw.equals(expected.subarray(0, len))).toBe(true);
    }
    expect(lines(r)).toEqual(Array.from({ length: n }, (_, i) => `line ${i}`));
    expect(r.events[5].time.t).toBe('int');
    expect(r.connections).toBe(1);
    await waitFor(() => sink.stats().sent === n, 'sent count');
  });

  it('works over a unix socket', async () => {
    const sockPath = path.join(await fs.promises.mkdtemp(path.join(os.tmpdir(), 'fluentd-unix-')), 'fluent.sock');
    const r = await receiver({}, { path: sockPath });
    const sink = makeSink({ 'fluentd-address': `unix://${sockPath}` });
    for (let i = 0; i < 10; i++) sink.write(entry(i));
    sink.flush();
    await r.waitFor(10);
    expect(lines(r)[9]).toBe('line 9');
  });

  it('queues while fluentd is down at start and delivers once it is up', async () => {
    const port = await freePort();
    const calls: LogCall[] = [];
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${port}` }, {}, calls);
    for (let i = 0; i < 100; i++) sink.write(entry(i));
    sink.flush();
    await waitFor(() => sink.stats().connectFailures >= 3, 'a few failed connects');
    const r = await receiver({}, { port });
    await r.waitFor(100);
    expect(lines(r)).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    const warns = calls.filter((c) => c.level === 'warn');
    expect(warns[0]).toMatchObject({ msg: 'fluentd connect failed', fields: { container: ID.slice(0, 12), sink: 'fluentd' } });
    expect(typeof warns[0].fields.error).toBe('string');
    // rate limit: at most one line a second
    expect(warns.length).toBeLessThanOrEqual(1 + Math.ceil(sink.stats().connectFailures / 2));
  });

  it('with request-ack, resends what was not acknowledged after fluentd went away and came back', async () => {
    const port = await freePort();
    let r = await receiver({ ack: true }, { port });
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${port}`, 'fluentd-request-ack': 'true' });
    for (let i = 0; i < 10; i++) sink.write(entry(i));
    sink.flush();
    await waitFor(() => sink.stats().acked === 10, 'first acks');
    await r.close();
    await waitFor(() => sink.stats().disconnects === 1, 'disconnect noticed');
    for (let i = 10; i < 30; i++) sink.write(entry(i));
    sink.flush();
    r = await receiver({ ack: true }, { port });
    await waitFor(() => sink.stats().acked === 30, 'all acked');
    expect(lines(r)).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 10}`));
    expect(sink.stats()).toMatchObject({ dropped: 0, inflight: 0, queued: 0 });
  });

  it('with request-ack, resends on a new connection when no ack comes in time', async () => {
    const r = await receiver({ ack: true, ackLimit: 0 });
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${r.port}`, 'fluentd-request-ack': 'true' }, { ackTimeoutMs: 300, closeDeadlineMs: 300 });
    for (let i = 0; i < 5; i++) sink.write(entry(i));
    sink.flush();
    await r.waitUntil(() => r.connections >= 2 && r.events.length >= 10, 'a resend on a second connection');
    expect(sink.stats().ackTimeouts).toBeGreaterThanOrEqual(1);
    expect(sink.stats().resent).toBeGreaterThanOrEqual(5);
    const second = r.events.filter((e) => e.connection === 2).map((e) => e.record.get('log')!.toString());
    expect(second).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    // the same chunk ids are resent
    expect(r.events.filter((e) => e.connection === 2).map((e) => e.chunk)).toEqual(r.events.filter((e) => e.connection === 1).map((e) => e.chunk));
  });

  it('bounds the queue in bytes and in fluentd-buffer-limit events, counting drops, and close() gives up at the deadline', async () => {
    const port = await freePort();
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${port}` }, { queueBytes: 100 * 150, closeDeadlineMs: 500 });
    for (let i = 0; i < 1000; i++) sink.write(entry(i));
    sink.flush();
    const s = sink.stats();
    expect(s.queued).toBeGreaterThan(50);
    expect(s.queued).toBeLessThan(150);
    expect(s.dropped).toBe(1000 - s.queued);
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(sink.stats()).toMatchObject({ droppedAtClose: s.queued, dropped: 1000, queued: 0 });

    const limited = makeSink({ 'fluentd-address': `127.0.0.1:${port}`, 'fluentd-buffer-limit': '10' }, { closeDeadlineMs: 100 });
    for (let i = 0; i < 25; i++) limited.write(entry(i));
    expect(limited.stats()).toMatchObject({ queued: 10, droppedQueueFull: 15 });
  });

  it('at the close deadline lets the write under way finish, so spool=disk hands on the rest with nothing lost or sent twice', async () => {
    const peer = await stallingPeer();
    const first = await fillAndStall(peer);
    // The server reads again 600 ms after the 200 ms deadline: within the final flush.
    setTimeout(() => peer.resumeFirst(), 600);
    await first.close();
    expect(first.stats()).toMatchObject({ dropped: 0, finalFlushTimeouts: 0 });
    expect(first.stats().spooledAtClose).toBeGreaterThan(0);
    await expect(sendRestAndCollect(peer)).resolves.toEqual(Array.from({ length: STALL_TOTAL }, (_, i) => i));
  }, 40_000);

  it('when the write under way does not finish in the final flush either, what the kernel took counts as sent and the rest goes to the spool: once, in order', async () => {
    const peer = await stallingPeer();
    const sink = await fillAndStall(peer);
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(200 + 2000 + 1500);
    const s = sink.stats();
    expect(s).toMatchObject({ finalFlushTimeouts: 1, dropped: 0 });
    expect(s.resent).toBeGreaterThan(0);
    expect(s.sent + s.spooledAtClose).toBe(STALL_TOTAL);
    // The server reads what the kernel holds (ending in a torn event), then the spool comes.
    peer.resumeFirst();
    await expect(sendRestAndCollect(peer)).resolves.toEqual(Array.from({ length: STALL_TOTAL }, (_, i) => i));
  }, 40_000);

  it('close() resolves only once its spool is closed: a sink opened on that spool right after sends nothing twice', async () => {
    const port = await freePort();
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluentd-close-spool-'));
    cleanups.push(() => fs.rmSync(spoolDir, { recursive: true, force: true }));
    const spool = { dir: spoolDir, maxDiskBytes: 64 * 1024 * 1024 };
    const options = { 'fluentd-address': `127.0.0.1:${port}` };
    const total = 20_000;
    const first = makeSink(options, { spool, queueBytes: 64 * 1024 });
    await first.spoolReady();
    for (let i = 0; i < total; i++) first.write(entry(i));
    first.flush();
    // Nobody listens yet: most of it goes to disk, in segment files.
    await waitFor(() => first.stats().connectFailures >= 1, 'a failed connect');
    expect(first.stats().spoolMessages).toBeGreaterThan(0);
    const r = await receiver({}, { port });
    await r.waitFor(total);
    await waitFor(() => first.pendingBytes === 0, 'everything written');
    await first.close();
    // What the spool drainer does when a container ended: the next sink on the same spool.
    const second = makeSink(options, { spool, queueBytes: 64 * 1024 });
    await second.spoolReady();
    await new Promise((res) => setTimeout(res, 1000));
    expect(second.stats().sent).toBe(0);
    expect(r.events.length).toBe(total);
  });

  it('close() flushes what is queued when fluentd is up', async () => {
    const r = await receiver({ ack: true });
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${r.port}`, 'fluentd-request-ack': 'true' });
    for (let i = 0; i < 500; i++) sink.write(entry(i));
    await sink.close();
    expect(r.events.length).toBe(500);
    expect(sink.stats()).toMatchObject({ acked: 500, dropped: 0 });
  });

  it('reconnects on fluentd-async-reconnect-interval', async () => {
    const r = await receiver();
    const sink = makeSink({ 'fluentd-address': `127.0.0.1:${r.port}`, 'fluentd-async-reconnect-interval': '100ms' });
    sink.write(entry(0));
    sink.flush();
    await r.waitFor(1);
    await new Promise((res) => setTimeout(res, 300));
    sink.write(entry(1));
    sink.flush();
    await r.waitFor(2);
    await waitFor(() => r.connections >= 2, 'second connection');
    expect(lines(r)).toEqual(['line 0', 'line 1']);
  });

  it('factory validates options with the option named and renders the default tag', async () => {
    const info: ContainerInfo = {
      Config: {}, ContainerID: ID, ContainerName: '/box', ContainerEntrypoint: 'sh', ContainerArgs: [], ContainerImageID: 'sha256:' + 'b'.repeat(64),
      ContainerImageName: 'img', ContainerCreated: '', ContainerEnv: ['A=1'], ContainerLabels: { l: 'v' }, LogPath: '', DaemonName: 'docker',
    };
    const ctx = (options: Record<string, string>) => ({ info, options, logger: fakeLogger() });
    expect(() => fluentdSinkFactory.validate(ctx({ 'fluentd-address': 'udp://x' }))).toThrow(/fluentd-address.*unsupported scheme: 'udp'/);
    expect(() => fluentdSinkFactory.validate(ctx({ tag: '{{.Nope}}' }))).toThrow(/log opt tag=/);
    const r = await receiver();
    const sink = (await fluentdSinkFactory.create(ctx({ 'fluentd-address': `127.0.0.1:${r.port}`, labels: 'l', env: 'A' }))) as FluentdSink;
    cleanups.push(() => sink.close());
    sink.write(entry(1));
    sink.flush();
    await r.waitFor(1);
    expect(r.events[0].tag.toString()).toBe(ID.slice(0, 12));
    expect(r.events[0].record.get('l')!.toString()).toBe('v');
    expect(r.events[0].record.get('A')!.toString()).toBe('1');
    expect(sink.blocking).toBe(false);
  });
});
