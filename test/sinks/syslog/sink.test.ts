/**
 * The syslog sink against in-process servers on every transport: the bytes that arrive, framing,
 * reconnects with the queue kept while the server is away, the queue bound and the close deadline.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { DgramSocket } from 'node-unix-socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogEntry } from '../../../src/docker/log-entry.js';
import type { Logger } from '../../../src/log.js';
import { SyslogSink, type SyslogSinkSettings } from '../../../src/sinks/syslog/index.js';
import { parseSyslogOptions } from '../../../src/sinks/syslog/options.js';
import { freePort } from '../../net-helpers.js';

let dir: string;
const cleanups: Array<() => void> = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-syslog-sink-'));
  const q = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test CA']);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  q(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-key.pem', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other']);
});

afterAll(() => {
  for (const c of cleanups.splice(0)) c();
  fs.rmSync(dir, { recursive: true, force: true });
});

const INFO = {
  Config: {},
  ContainerID: 'c'.repeat(64),
  ContainerName: '/n',
  ContainerEntrypoint: 'sh',
  ContainerArgs: [],
  ContainerImageID: '',
  ContainerImageName: '',
  ContainerCreated: '',
  ContainerEnv: [],
  ContainerLabels: {},
  LogPath: '',
  DaemonName: 'docker',
};

function fakeLogger(): Logger & { lines: unknown[] } {
  const lines: unknown[] = [];
  const l = { lines, warn: (...a: unknown[]) => lines.push(a), error: (...a: unknown[]) => lines.push(a), info: () => undefined, debug: () => undefined };
  return l as unknown as Logger & { lines: unknown[] };
}

function makeSink(options: Record<string, string>, settings: SyslogSinkSettings = {}): SyslogSink {
  const sink = new SyslogSink(parseSyslogOptions(options), 'TAG', INFO, fakeLogger(), settings);
  sink.start();
  cleanups.push(() => void sink.close());
  return sink;
}

function entry(line: string | Buffer, source = 'stdout'): LogEntry {
  return LogEntry.of({ source, timeSec: 1, timeNsec: 0, line: typeof line === 'string' ? Buffer.from(line) : line });
}

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const HEADER = new RegExp(`^<(\\d+)>(\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d) TAG\\[${process.pid}\\]: `);

/** A TCP (or unix stream) server that keeps every byte received per connection. */
async function streamServer(listen: (s: net.Server) => Promise<void>, tlsOpts?: tls.TlsOptions) {
  const conns: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const onConn = (c: net.Socket) => {
    const chunks: Buffer[] = [];
    conns.push(chunks);
    sockets.add(c);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => undefined);
    c.on('close', () => sockets.delete(c));
  };
  const server = tlsOpts ? tls.createServer(tlsOpts, onConn) : net.createServer(onConn);
  server.on('tlsClientError', () => undefined);
  await listen(server);
  const stop = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  cleanups.push(stop);
  return { server, conns, text: () => conns.map((c) => Buffer.concat(c).toString('latin1')).join(''), stop, sockets };
}

const listenTcp = (port = 0) => (s: net.Server) => new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

describe('tcp', () => {
  it('sends newline-framed messages, skips empty lines, counts', async () => {
    const srv = await streamServer(listenTcp());
    const sink = makeSink({ 'syslog-address': `tcp://127.0.0.1:${portOf(srv.server)}` });
    sink.write(entry('first'));
    sink.write(entry(''));
    sink.write(entry('second\tline', 'stderr'));
    sink.flush();
    await waitFor(() => srv.text().split('\n').length >= 3);
    const lines = srv.text().split('\n');
    expect(lines[0]).toMatch(HEADER);
    expect(lines[0].replace(HEADER, '<$1>')).toBe('<30>first');
    expect(lines[1].replace(HEADER, '<$1>')).toBe('<27>second\tline');
    expect(lines[2]).toBe('');
    await sink.close();
    expect(sink.stats()).toMatchObject({ sent: 2, dropped: 0, emptyLinesSkipped: 1, connects: 1 });
  });

  it('keeps what is written while the server is down and delivers it once the server is up', async () => {
    const port = await freePort();
    const sink = makeSink({ 'syslog-address': `tcp://127.0.0.1:${port}`, 'syslog-format': 'rfc5424' });
    for (let i = 0; i < 100; i++) sink.write(entry(`queued ${i}`));
    sink.flush();
    await waitFor(() => sink.stats().connectFailures >= 2);
    expect(sink.stats().queued).toBe(100);
    const srv = await streamServer(listenTcp(port));
    await waitFor(() => srv.text().split('\n').length > 100);
    const lines = srv.text().trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/^.* - /, ''))).toEqual(Array.from({ length: 100 }, (_, i) => `queued ${i}`));
    // When the server drops the connection, the sink reconnects and goes on.
    srv.stop();
    await waitFor(() => srv.sockets.size === 0);
    const srv2 = await streamServer(listenTcp(port));
    await new Promise((r) => setTimeout(r, 300));
    sink.write(entry('after restart'));
    sink.flush();
    await waitFor(() => srv2.text().includes('after restart'));
    await sink.close();
    expect(sink.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(sink.stats().dropped).toBe(0);
  });

  it('drops the newest when the queue is full, and counts', async () => {
    const port = await freePort();
    const sink = makeSink({ 'syslog-address': `tcp://127.0.0.1:${port}` }, { queueBytes: 1000, closeDeadlineMs: 200 });
    for (let i = 0; i < 100; i++) sink.write(entry('x'.repeat(50)));
    const s = sink.stats();
    expect(s.queued).toBeLessThan(100);
    expect(s.droppedQueueFull).toBe(100 - s.queued);
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(sink.stats().dropped).toBe(100);
  });

  it('close gives up after its deadline when the server never comes', async () => {
    const port = await freePort();
    const sink = makeSink({ 'syslog-address': `tcp://127.0.0.1:${port}` }, { closeDeadlineMs: 500 });
    sink.write(entry('lost'));
    sink.flush();
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(sink.stats()).toMatchObject({ sent: 0, droppedAtClose: 1, dropped: 1 });
  });
});

describe('udp', () => {
  it('sends one datagram per message', async () => {
    const got: Buffer[] = [];
    const srv = dgram.createSocket('udp4');
    srv.on('message', (m) => got.push(m));
    await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => srv.close());
    const sink = makeSink({ 'syslog-address': `udp://127.0.0.1:${srv.address().port}`, 'syslog-facility': 'local3', 'syslog-format': 'rfc3164' });
    const big = Buffer.alloc(16384, 'y');
    sink.write(entry('one'));
    sink.write(entry(big));
    sink.write(entry('three', 'stderr'));
    sink.flush();
    await waitFor(() => got.length === 3);
    const host = os.hostname();
    expect(got[0].toString()).toMatch(new RegExp(`^<158>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ${host} TAG\\[${process.pid}\\]: one\\n$`));
    expect(got[1].length).toBeGreaterThan(16384);
    expect(got[1].subarray(got[1].length - 16385).toString()).toBe('y'.repeat(16384) + '\n');
    expect(got[2].toString()).toMatch(/^<155>.* three\n$/);
    await sink.close();
    expect(sink.stats().sent).toBe(3);
  });
});

describe('unix stream and unixgram', () => {
  it('unix:// writes a stream', async () => {
    const p = path.join(dir, 'stream.sock');
    const srv = await streamServer((s) => new Promise<void>((r) => s.listen(p, () => r())));
    const sink = makeSink({ 'syslog-address': `unix://${p}` });
    sink.write(entry('over unix'));
    sink.flush();
    await waitFor(() => srv.text().endsWith('\n'));
    expect(srv.text()).toMatch(/^<30>.* TAG\[\d+\]: over unix\n$/);
    await sink.close();
  });

  it('unixgram:// sends datagrams, and keeps them while nobody listens', async () => {
    const p = path.join(dir, 'dgram.sock');
    const got: string[] = [];
    let rx = new DgramSocket();
    rx.on('data', (b: Buffer) => got.push(b.toString()));
    rx.bind(p);
    const sink = makeSink({ 'syslog-address': `unixgram://${p}`, 'syslog-format': 'rfc5424micro' });
    sink.write(entry('dgram 1'));
    sink.flush();
    await waitFor(() => got.length === 1);
    expect(got[0]).toMatch(new RegExp(`^<30>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}(Z|[+-]\\d\\d:\\d\\d) ${os.hostname()} TAG ${process.pid} TAG - dgram 1\\n$`));
    rx.close();
    fs.rmSync(p, { force: true });
    for (let i = 0; i < 20; i++) sink.write(entry(`while away ${i}`));
    sink.flush();
    await waitFor(() => sink.stats().connects >= 2 || sink.stats().queued === 20);
    await new Promise((r) => setTimeout(r, 300));
    rx = new DgramSocket();
    rx.on('data', (b: Buffer) => got.push(b.toString()));
    rx.bind(p);
    cleanups.push(() => rx.close());
    await waitFor(() => got.length === 21);
    expect(got.slice(1).map((m) => m.replace(/^.* - /, ''))).toEqual(Array.from({ length: 20 }, (_, i) => `while away ${i}\n`));
    await sink.close();
    expect(sink.stats().dropped).toBe(0);
  });

  it('no address: the first datagram socket among the local paths, else a stream one', async () => {
    const none = path.join(dir, 'none.sock');
    const st = path.join(dir, 'local-stream.sock');
    const dg = path.join(dir, 'local-dgram.sock');
    const srv = await streamServer((s) => new Promise<void>((r) => s.listen(st, () => r())));
    const got: string[] = [];
    const rx = new DgramSocket();
    rx.on('data', (b: Buffer) => got.push(b.toString()));
    rx.bind(dg);
    cleanups.push(() => rx.close());
    const a = new SyslogSink(parseSyslogOptions({}), 'TAG', INFO, fakeLogger(), { localPaths: [none, st, dg] });
    a.start();
    a.write(entry('to dgram'));
    a.flush();
    await waitFor(() => got.length === 1);
    expect(got[0]).toMatch(/^<30>.* TAG\[\d+\]: to dgram\n$/);
    await a.close();
    const b = new SyslogSink(parseSyslogOptions({}), 'TAG', INFO, fakeLogger(), { localPaths: [none, st] });
    b.start();
    b.write(entry('to stream'));
    b.flush();
    await waitFor(() => srv.text().includes('to stream'));
    await b.close();
  });
});

describe('tcp+tls', () => {
  const serverTls = () => ({ key: fs.readFileSync(path.join(dir, 'server-key.pem')), cert: fs.readFileSync(path.join(dir, 'server.pem')) });

  it('verifies the server with the CA and uses octet counting for rfc5424', async () => {
    const srv = await streamServer(listenTcp(), serverTls());
    const sink = makeSink({
      'syslog-address': `tcp+tls://127.0.0.1:${portOf(srv.server)}`,
      'syslog-tls-ca-cert': path.join(dir, 'ca.pem'),
      'syslog-format': 'rfc5424',
    });
    sink.write(entry('secure'));
    sink.write(entry('two'));
    sink.flush();
    await waitFor(() => srv.text().includes('two'));
    const text = srv.text();
    const m = /^(\d+) (<30>1 [^\n]* - secure\n)(\d+) (<30>1 [^\n]* - two\n)$/.exec(text);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Buffer.byteLength(m![2]));
    expect(Number(m![3])).toBe(Buffer.byteLength(m![4]));
    await sink.close();
  });

  it('the Unix format over tls stays newline-framed', async () => {
    const srv = await streamServer(listenTcp(), serverTls());
    const sink = makeSink({ 'syslog-address': `tcp+tls://localhost:${portOf(srv.server)}`, 'syslog-tls-ca-cert': path.join(dir, 'ca.pem') });
    sink.write(entry('plain'));
    sink.flush();
    await waitFor(() => srv.text().endsWith('\n'));
    expect(srv.text()).toMatch(/^<30>\w{3} .* TAG\[\d+\]: plain\n$/);
    await sink.close();
  });

  it('refuses an untrusted server (nothing sent, failures counted), unless skip-verify is set', async () => {
    const srv = await streamServer(listenTcp(), serverTls());
    const port = portOf(srv.server);
    const bad = makeSink({ 'syslog-address': `tcp+tls://127.0.0.1:${port}`, 'syslog-tls-ca-cert': path.join(dir, 'other.pem') }, { closeDeadlineMs: 300 });
    bad.write(entry('must not arrive'));
    bad.flush();
    await waitFor(() => bad.stats().connectFailures >= 1);
    await bad.close();
    expect(srv.text()).toBe('');
    expect(bad.stats()).toMatchObject({ sent: 0, dropped: 1 });

    const ok = makeSink({ 'syslog-address': `tcp+tls://127.0.0.1:${port}`, 'syslog-tls-skip-verify': 'false' });
    ok.write(entry('skip verify'));
    ok.flush();
    await waitFor(() => srv.text().includes('skip verify'));
    await ok.close();
  });
});

describe('spool=disk (tcp)', () => {
  it('keeps what the server missed on disk across a close and sends it, in order, from the next sink', async () => {
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syslog-spool-'));
    cleanups.push(() => fs.rmSync(spoolDir, { recursive: true, force: true }));
    const port = await freePort();
    const address = { 'syslog-address': `tcp://127.0.0.1:${port}` };
    // 64 KiB in memory, the rest of 3,000 messages goes to segment files.
    const spool = { dir: spoolDir, maxDiskBytes: 64 * 1024 * 1024 };
    const first = makeSink(address, { queueBytes: 64 * 1024, spool, closeDeadlineMs: 300 });
    for (let i = 0; i < 3000; i++) first.write(entry(`spooled ${i} ${'x'.repeat(60)}`));
    first.flush();
    await first.close();
    expect(first.stats()).toMatchObject({ sent: 0, dropped: 0, spooledAtClose: 3000 });
    expect(first.stats().spooledTotal).toBeGreaterThan(0);

    const srv = await streamServer(listenTcp(port));
    const second = makeSink(address, { queueBytes: 64 * 1024, spool });
    second.write(entry('after restart'));
    second.flush();
    await waitFor(() => srv.text().split('\n').length - 1 === 3001);
    const got = srv.text().split('\n').slice(0, -1).map((l) => l.replace(HEADER, ''));
    expect(got).toEqual([...Array.from({ length: 3000 }, (_, i) => `spooled ${i} ${'x'.repeat(60)}`), 'after restart']);
    await waitFor(() => second.stats().queued === 0);
  });

  it('refuses syslog-spool=disk for a datagram address, naming the option', async () => {
    const { syslogSinkFactory } = await import('../../../src/sinks/syslog/index.js');
    const ctx = { info: INFO, options: { 'syslog-address': 'udp://127.0.0.1:514', 'syslog-spool': 'disk' }, logger: fakeLogger(), queue: { policy: 'drop-newest', maxBytes: 1 << 20, spool: true, spoolMaxBytes: 1 << 30 } };
    expect(() => syslogSinkFactory.validate(ctx as never)).toThrow(/syslog-spool=disk.*udp:\/\/127\.0\.0\.1:514/);
  });
});
