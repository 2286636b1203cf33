import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { LogEntry } from '../../../src/docker/log-entry.js';
import type { Logger } from '../../../src/log.js';
import { GelfEncoder, TcpGelfSink, UdpGelfSink, gelfSinkFactory } from '../../../src/sinks/gelf/index.js';
import { parseGelfOptions } from '../../../src/sinks/gelf/options.js';
import { CompressPool } from '../../../src/sinks/gelf/compress-pool.js';
import type { Sink } from '../../../src/sinks/sink.js';
import { freeTcpPort, startTcpReceiver, startUdpReceiver } from './receiver.js';

const INFO: ContainerInfo = {
  Config: {},
  ContainerID: 'f'.repeat(64),
  ContainerName: '/unit',
  ContainerEntrypoint: 'sh',
  ContainerArgs: [],
  ContainerImageID: 'sha256:' + '1'.repeat(64),
  ContainerImageName: 'img',
  ContainerCreated: '2024-05-01T12:00:00Z',
  ContainerEnv: [],
  ContainerLabels: {},
  LogPath: '',
  DaemonName: 'docker',
};

interface LogCall { level: string; fields: Record<string, unknown>; msg: string }
function testLogger(): { logger: Logger; calls: LogCall[] } {
  const calls: LogCall[] = [];
  const mk = (level: string) => (fields: Record<string, unknown>, msg: string) => calls.push({ level, fields, msg });
  const logger = { warn: mk('warn'), error: mk('error'), info: mk('info'), debug: mk('debug') } as unknown as Logger;
  return { logger, calls };
}

function entries(lines: Buffer[], source = 'stdout'): LogEntry[] {
  return lines.map((line, i) => LogEntry.of({ source: i % 3 === 2 ? 'stderr' : source, timeSec: 1714564800 + i, timeNsec: 5_000_000, line }));
}

function lines(): Buffer[] {
  return [
    Buffer.from('plain'),
    Buffer.from('tab\tquote" <&> \u2028 é'),
    Buffer.from([0x61, 0xff, 0x62]),
    Buffer.from(crypto.randomBytes(20_000).toString('hex')), // 40,000 bytes: chunked even when gzipped
    Buffer.from('x'.repeat(16384)),
    Buffer.from('last'),
  ];
}

function expected(raw: Record<string, string>, es: LogEntry[], terminator?: Buffer): string[] {
  const enc = GelfEncoder.forContainer(INFO, raw, terminator);
  return es.map((e) => enc.encodeToBuffer(e).toString('latin1'));
}

async function createSink(raw: Record<string, string>, logger: Logger): Promise<Sink> {
  const ctx = { info: INFO, options: raw, logger };
  gelfSinkFactory.validate(ctx);
  return gelfSinkFactory.create(ctx);
}

function writeAll(sink: Sink, es: LogEntry[]): void {
  for (const e of es) sink.write(e);
  sink.flush();
}

describe('gelf sink over UDP', () => {
  for (const compression of ['gzip', 'zlib', 'none'] as const) {
    it(`delivers every message with ${compression}, chunked above 1420 bytes`, async () => {
      const rx = await startUdpReceiver();
      const raw = { 'gelf-address': `udp://127.0.0.1:${rx.port}`, 'gelf-compression-type': compression };
      const { logger } = testLogger();
      const sink = await createSink(raw, logger);
      const es = entries(lines());
      writeAll(sink, [...es, LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: Buffer.alloc(0) })]);
      await rx.waitFor(es.length);
      await sink.close();
      expect(rx.payloads.map((p) => p.toString('latin1'))).toEqual(expected(raw, es));
      expect(rx.infos.every((i) => i.compression === compression)).toBe(true);
      expect(rx.infos[3].chunked).toBe(true);
      for (const i of rx.infos.filter((x) => x.chunked)) {
        expect(i.sizes.slice(0, -1).every((s) => s === 1420)).toBe(true);
        expect(new Set(i.counts).size).toBe(1);
      }
      const st = sink.stats();
      expect(st.sent).toBe(es.length);
      expect(st.emptyLinesSkipped).toBe(1);
      expect(st.dropped).toBe(0);
      // gzip / zlib ran on the worker pool (the compiled worker in dist/).
      expect(st.compressedInWorker).toBe(compression === 'none' ? 0 : es.length);
      expect(st.compressFallbacks).toBe(0);
      await rx.close();
    });
  }

  for (const mode of ['no worker', 'worker dies'] as const) {
    it(`compresses inline when the pool is unavailable (${mode}), in order and counted`, async () => {
      const rx = await startUdpReceiver();
      const raw = { 'gelf-address': `udp://127.0.0.1:${rx.port}`, 'gelf-compression-type': 'gzip' };
      const pool = new CompressPool({ size: 1, workerUrl: mode === 'no worker' ? null : undefined });
      const sink = new UdpGelfSink({ info: INFO, options: parseGelfOptions(raw), encoder: GelfEncoder.forContainer(INFO, raw), logger: testLogger().logger, compressPool: pool });
      sink.start();
      const es = entries(Array.from({ length: 3000 }, (_, i) => Buffer.from(`line ${i} `.repeat(1 + (i % 30)))));
      writeAll(sink, es.slice(0, 1500));
      if (mode === 'worker dies') {
        // Batches are at the worker (or about to be): kill it; they come back compressed inline.
        while (sink.stats().compressedInWorker === 0 && sink.stats().compressFallbacks === 0 && sink.stats().compressedInline === 0) await new Promise((r) => setTimeout(r, 1));
        await pool.terminate();
      }
      writeAll(sink, es.slice(1500));
      await rx.waitFor(es.length);
      await sink.close();
      expect(rx.payloads.map((p) => p.toString('latin1'))).toEqual(expected(raw, es));
      const st = sink.stats();
      expect(st.sent).toBe(es.length);
      expect(st.compressedInWorker + st.compressedInline).toBe(es.length);
      expect(st.compressedInline).toBeGreaterThan(0);
      if (mode === 'no worker') expect(st.compressedInWorker).toBe(0);
      await pool.terminate();
      await rx.close();
    });
  }

  it('drops a message above 128 chunks and counts it', async () => {
    const rx = await startUdpReceiver();
    const { logger, calls } = testLogger();
    const sink = await createSink({ 'gelf-address': `udp://127.0.0.1:${rx.port}`, 'gelf-compression-type': 'none' }, logger);
    writeAll(sink, entries([Buffer.alloc(200_000, 0x61), Buffer.from('after')]));
    await rx.waitFor(1);
    await sink.close();
    expect(JSON.parse(rx.payloads[0].toString()).short_message).toBe('after');
    expect(sink.stats().tooLarge).toBe(1);
    expect(calls.some((c) => String(c.fields.error).includes('msg too large, would need 143 chunks'))).toBe(true);
    await rx.close();
  });

  it('starts while the name does not resolve, and closes promptly', async () => {
    const { logger, calls } = testLogger();
    const sink = await createSink({ 'gelf-address': 'udp://no-such-host.invalid:12201' }, logger);
    writeAll(sink, entries([Buffer.from('a')]));
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(7_000);
    expect(sink.stats().droppedAtClose).toBe(1);
    expect(calls.some((c) => c.fields.sink === 'gelf' && typeof c.fields.error === 'string' && c.fields.container === INFO.ContainerID)).toBe(true);
  });
});

describe('gelf sink over TCP', () => {
  it('sends the JSON with a NUL after each message', async () => {
    const rx = await startTcpReceiver();
    const raw = { 'gelf-address': `tcp://127.0.0.1:${rx.port}` };
    const sink = await createSink(raw, testLogger().logger);
    const es = entries(lines());
    writeAll(sink, es);
    await rx.waitFor(es.length);
    await sink.close();
    expect(rx.payloads.map((p) => p.toString('latin1') + '\0')).toEqual(expected(raw, es, Buffer.from([0])));
    expect(sink.stats().sent).toBe(es.length);
    await rx.close();
  });

  it('queues while the server is down at start, then delivers everything in order', async () => {
    const port = await freeTcpPort();
    const raw = { 'gelf-address': `tcp://127.0.0.1:${port}` };
    const { logger, calls } = testLogger();
    const sink = await createSink(raw, logger);
    const es = entries(Array.from({ length: 500 }, (_, i) => Buffer.from(`line ${i}`)));
    writeAll(sink, es.slice(0, 250));
    // Let a few dials fail first.
    await new Promise((r) => setTimeout(r, 400));
    expect(sink.stats().connectErrors).toBeGreaterThan(0);
    const rx = await startTcpReceiver({ port });
    writeAll(sink, es.slice(250));
    await rx.waitFor(500, 30_000);
    await sink.close();
    expect(rx.payloads.map((p) => JSON.parse(p.toString()).short_message)).toEqual(es.map((e) => e.line.toString()));
    // At most one log line per second about it.
    const warns = calls.filter((c) => c.msg === 'gelf: log server problem');
    expect(warns.length).toBeLessThanOrEqual(2);
    await rx.close();
  });

  it('reconnects after the server drops the connection', async () => {
    const rx = await startTcpReceiver();
    const sink = await createSink({ 'gelf-address': `tcp://127.0.0.1:${rx.port}` }, testLogger().logger);
    writeAll(sink, entries([Buffer.from('one')]));
    await rx.waitFor(1);
    rx.dropConnections();
    // The first write after a peer reset may be lost by TCP itself (as with Docker); keep writing until one arrives.
    const end = Date.now() + 30_000;
    let i = 0;
    while (rx.payloads.length < 2 && Date.now() < end) {
      writeAll(sink, entries([Buffer.from(`again ${i++}`)]));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rx.payloads.length).toBeGreaterThanOrEqual(2);
    expect(rx.connections).toBeGreaterThanOrEqual(2);
    expect(sink.stats().reconnects).toBeGreaterThanOrEqual(1);
    await sink.close();
    await rx.close();
  });

  it('never blocks: with the server down the queue bound drops the newest and counts them; close gives up at its deadline', async () => {
    const port = await freeTcpPort();
    const { logger } = testLogger();
    const options = parseGelfOptions({ 'gelf-address': `tcp://127.0.0.1:${port}` });
    const sink = new TcpGelfSink({ info: INFO, options, logger, encoder: GelfEncoder.forContainer(INFO, {}, Buffer.from([0])), queueBytes: 64 * 1024, closeDeadlineMs: 1000 });
    sink.start();
    const es = entries(Array.from({ length: 2000 }, (_, i) => Buffer.from(`message number ${i} `.repeat(4))));
    const t0 = Date.now();
    writeAll(sink, es);
    expect(Date.now() - t0).toBeLessThan(1000);
    const st = sink.stats();
    expect(st.droppedQueueFull).toBeGreaterThan(0);
    expect(st.accepted + st.droppedQueueFull).toBe(2000);
    expect(sink.pendingBytes).toBeLessThanOrEqual(64 * 1024);
    const t1 = Date.now();
    await sink.close();
    expect(Date.now() - t1).toBeLessThan(3000);
    expect(sink.stats().droppedAtClose).toBe(st.accepted);
    expect(sink.stats().dropped).toBe(2000);
  });
});

describe('gelf sink over TLS', () => {
  let dir: string;
  let ca: Buffer;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gelf-tls-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gelf test CA']);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    sh(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
    ca = fs.readFileSync(path.join(dir, 'ca.pem'));
    key = fs.readFileSync(path.join(dir, 'server.key'));
    cert = fs.readFileSync(path.join(dir, 'server.pem'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('verifies the server against gelf-tls-ca-cert and delivers', async () => {
    const rx = await startTcpReceiver({ tls: { key, cert } });
    const raw = { 'gelf-address': `tls://localhost:${rx.port}`, 'gelf-tls-ca-cert': path.join(dir, 'ca.pem') };
    const sink = await createSink(raw, testLogger().logger);
    const es = entries(lines());
    writeAll(sink, es);
    await rx.waitFor(es.length);
    await sink.close();
    expect(rx.payloads.map((p) => p.toString('latin1') + '\0')).toEqual(expected(raw, es, Buffer.from([0])));
    await rx.close();
    void ca;
  });

  it('refuses a server it cannot verify, unless gelf-tls-skip-verify', async () => {
    const rx = await startTcpReceiver({ tls: { key, cert } });
    const { logger, calls } = testLogger();
    const options = parseGelfOptions({ 'gelf-address': `tls://localhost:${rx.port}` });
    const sink = new TcpGelfSink({ info: INFO, options, logger, encoder: GelfEncoder.forContainer(INFO, {}, Buffer.from([0])), closeDeadlineMs: 1500 });
    sink.start();
    writeAll(sink, entries([Buffer.from('secret')]));
    await sink.close();
    expect(rx.payloads).toHaveLength(0);
    expect(sink.stats().connectErrors).toBeGreaterThan(0);
    expect(calls.some((c) => /certificate/i.test(String(c.fields.error)))).toBe(true);

    const skip = await createSink({ 'gelf-address': `tls://localhost:${rx.port}`, 'gelf-tls-skip-verify': 'true' }, testLogger().logger);
    writeAll(skip, entries([Buffer.from('ok')]));
    await rx.waitFor(1);
    await skip.close();
    await rx.close();
  });
});

describe('throughput (informative)', () => {
  it('encodes and sends 50,000 lines over UDP with gzip, and with none', async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const rx = await startUdpReceiver();
      const sink = await createSink({ 'gelf-address': `udp://127.0.0.1:${rx.port}`, 'gelf-compression-type': compression }, testLogger().logger);
      const e = LogEntry.of({ source: 'stdout', timeSec: 1714564800, timeNsec: 0, line: Buffer.from('x'.repeat(100) + ' a typical log line with some words in it') });
      const n = 50_000;
      const t0 = process.hrtime.bigint();
      let writeNs = 0n;
      for (let i = 0; i < n; i += 100) {
        const w0 = process.hrtime.bigint();
        for (let k = 0; k < 100; k++) sink.write(e);
        sink.flush();
        writeNs += process.hrtime.bigint() - w0;
        // Paced like a FIFO reader: never let the queue reach its bound, so the rate is the sustained one.
        while (sink.pendingBytes > 1024 * 1024) await new Promise((r) => setImmediate(r));
      }
      await sink.close();
      const tAll = Number(process.hrtime.bigint() - t0) / 1e6;
      console.log(`gelf udp ${compression}: write() ${Math.round((n / Number(writeNs)) * 1e9)} lines/s, sustained through the socket ${Math.round((n / tAll) * 1000)} lines/s; sent=${sink.stats().sent} dropped=${sink.stats().dropped}`);
      expect(sink.stats().sent).toBe(n);
      await rx.close();
    }
  }, 60_000);
});

describe('gelf spool=disk (tcp)', () => {
  it('keeps what the server missed on disk across a close and sends it, in order, from the next sink', async () => {
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gelf-spool-'));
    const port = await freeTcpPort();
    const { logger } = testLogger();
    const options = parseGelfOptions({ 'gelf-address': `tcp://127.0.0.1:${port}` });
    const spool = { dir: spoolDir, maxDiskBytes: 64 * 1024 * 1024 };
    const make = () => new TcpGelfSink({ info: INFO, options, logger, encoder: GelfEncoder.forContainer(INFO, {}, Buffer.from([0])), queueBytes: 64 * 1024, spool, closeDeadlineMs: 300 });
    const first = make();
    first.start();
    writeAll(first, entries(Array.from({ length: 2000 }, (_, i) => Buffer.from(`spooled ${i}`))));
    await first.close();
    expect(first.stats()).toMatchObject({ sent: 0, dropped: 0, spooledAtClose: 2000 });

    const rx = await startTcpReceiver({ port });
    const second = make();
    second.start();
    writeAll(second, entries([Buffer.from('after restart')]));
    const end = Date.now() + 20_000;
    while (rx.payloads.length < 2001 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const got = rx.payloads.map((p) => (JSON.parse(p.toString()) as { short_message: string }).short_message);
    expect(got).toEqual([...Array.from({ length: 2000 }, (_, i) => `spooled ${i}`), 'after restart']);
    await second.close();
    await rx.close();
    fs.rmSync(spoolDir, { recursive: true, force: true });
  });

  it('refuses gelf-spool=disk for udp, naming the option', () => {
    const ctx = { info: INFO, options: { 'gelf-address': 'udp://127.0.0.1:12201', 'gelf-spool': 'disk' }, logger: testLogger().logger, queue: { policy: 'drop-newest', maxBytes: 1 << 20, spool: true, spoolMaxBytes: 1 << 30 } };
    expect(() => gelfSinkFactory.validate(ctx as never)).toThrow(/gelf-spool=disk.*udp/);
  });
});
