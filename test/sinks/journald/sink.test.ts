import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DgramSocket } from 'node-unix-socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogEntry, type LogEntryInput } from '../../../src/docker/log-entry.js';
import { JournaldEncoder, containerVars } from '../../../src/sinks/journald/encoder.js';
import { JournaldSink, type JournaldSinkOptions } from '../../../src/sinks/journald/index.js';
import type { Logger } from '../../../src/log.js';
import { fieldsObject, parseNative } from './native-protocol.js';
import { info } from './fixtures.js';

interface LogCall {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLogger(calls: LogCall[]): Logger {
  const mk = (level: string) => (fields: Record<string, unknown>, msg: string) => calls.push({ level, fields, msg });
  return { warn: mk('warn'), info: mk('info'), error: mk('error'), debug: mk('debug') } as unknown as Logger;
}

function entry(line: string, extra: Partial<LogEntryInput> = {}): LogEntry {
  return LogEntry.of({ source: 'stdout', timeSec: 1764403200, timeNsec: 0, line: Buffer.from(line), ...extra });
}

async function waitFor(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A datagram receiver standing in for journald. */
class Receiver {
  readonly socket = new DgramSocket();
  readonly datagrams: Buffer[] = [];
  constructor(readonly path: string) {
    this.socket.on('data', (buf: Buffer) => this.datagrams.push(buf));
    this.socket.bind(path);
  }
  messages(): string[] {
    return this.datagrams.map((d) => fieldsObject(parseNative(d))['MESSAGE']);
  }
  close(): void {
    this.socket.close();
  }
}

/** A bound socket that reads only when told, so its queue fills (net.unix.max_dgram_qlen). */
class StalledReceiver {
  private readonly fd: number;
  private readonly recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  private readonly closeFd: (fd: number) => number;
  readonly datagrams: Buffer[] = [];
  constructor(readonly path: string) {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as { load(n: string): { func(s: string): (...a: unknown[]) => unknown } };
    const libc = koffi.load('libc.so.6');
    const socket = libc.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
    const bind = libc.func('int bind(int, const void *, uint32)') as (fd: number, addr: Buffer, len: number) => number;
    this.recv = libc.func('intptr_t recv(int, void *, size_t, int)') as StalledReceiver['recv'];
    this.closeFd = libc.func('int close(int)') as StalledReceiver['closeFd'];
    this.fd = socket(1, 2 | 0o2000000, 0);
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(1, 0);
    const n = addr.write(path, 2);
    if (bind(this.fd, addr, 2 + n + 1) !== 0) throw new Error('bind failed');
  }
  /** Reads everything queued now (non-blocking). */
  drain(): number {
    const buf = Buffer.alloc(256 * 1024);
    let n = 0;
    for (;;) {
      const r = Number(this.recv(this.fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */));
      if (r < 0) return n;
      this.datagrams.push(Buffer.from(buf.subarray(0, r)));
      n++;
    }
  }
  close(): void {
    this.closeFd(this.fd);
  }
}

let dir: string;
const sinks: JournaldSink[] = [];
const closers: Array<() => void> = [];

beforeEach(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-journald-'));
});

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const c of closers.splice(0)) c();
  await fs.promises.rm(dir, { recursive: true, force: true });
});

function makeSink(socketPath: string, opts: Partial<JournaldSinkOptions> = {}, calls: LogCall[] = []): JournaldSink {
  const enc = new JournaldEncoder(containerVars(info(), 'mytag', { multi: 'a\nb' }));
  const sink = new JournaldSink(enc, { socketPath, containerId: info().ContainerID, logger: recordingLogger(calls), ...opts });
  sinks.push(sink);
  return sink;
}

describe('journald sink: delivery', () => {
  it('sends one datagram per entry, in order, with the exact fields', async () => {
    const sockPath = path.join(dir, 'socket');
    const rx = new Receiver(sockPath);
    closers.push(() => rx.close());
    const sink = makeSink(sockPath);
    expect(sink.blocking).toBe(false);
    for (let i = 0; i < 500; i++) sink.write(entry(`line ${i}`, { source: i % 2 ? 'stderr' : 'stdout' }));
    sink.write(entry('tail', { partial: true, partialId: 'f'.repeat(64), partialOrdinal: 1 }));
    sink.flush();
    await waitFor(() => rx.datagrams.length === 501, 15_000, '501 datagrams');
    expect(rx.messages().slice(0, 3)).toEqual(['line 0', 'line 1', 'line 2']);
    const f = fieldsObject(parseNative(rx.datagrams[1]));
    expect(f).toMatchObject({ PRIORITY: '3', MESSAGE: 'line 1', CONTAINER_TAG: 'mytag', SYSLOG_IDENTIFIER: 'mytag', CONTAINER_NAME: 'web-1', MULTI: 'a\nb' });
    expect(fieldsObject(parseNative(rx.datagrams[500]))).toMatchObject({ CONTAINER_PARTIAL_LAST: 'false', CONTAINER_PARTIAL_MESSAGE: 'true', CONTAINER_PARTIAL_ORDINAL: '1' });
    await sink.close();
    expect(sink.stats()).toMatchObject({ sent: 501, dropped: 0, queued: 0, sendErrors: 0 });
  });

  it('journald missing at start: nothing throws, entries wait and go through once it is there', async () => {
    const sockPath = path.join(dir, 'later.socket');
    const calls: LogCall[] = [];
    const sink = makeSink(sockPath, {}, calls);
    for (let i = 0; i < 50; i++) sink.write(entry(`queued ${i}`));
    sink.flush();
    await waitFor(() => sink.stats().sendErrors >= 2, 10_000, 'retries');
    expect(sink.stats()).toMatchObject({ sent: 0, queued: 50, dropped: 0 });
    // logged once per second at most, never per line, with the structured fields
    const warns = calls.filter((c) => c.level === 'warn');
    expect(warns.length).toBeGreaterThanOrEqual(1);
    expect(warns.length).toBeLessThanOrEqual(2);
    expect(warns[0].fields).toMatchObject({ container: '0123456789ab', sink: 'journald' });
    expect(String(warns[0].fields['error'])).toMatch(/ENOENT: no such file/);
    const rx = new Receiver(sockPath);
    closers.push(() => rx.close());
    for (let i = 50; i < 60; i++) sink.write(entry(`queued ${i}`));
    sink.flush();
    await waitFor(() => rx.datagrams.length === 60, 15_000, 'queued entries after journald appeared');
    expect(rx.messages()).toEqual(Array.from({ length: 60 }, (_, i) => `queued ${i}`));
    expect(sink.stats()).toMatchObject({ sent: 60, reconnects: 1, dropped: 0 });
    expect(calls.some((c) => c.msg === 'journald reachable again')).toBe(true);
  });

  it('a socket nobody listens on (journald stopped) is retried too (ECONNREFUSED)', async () => {
    const sockPath = path.join(dir, 'dead.socket');
    const dead = new Receiver(sockPath);
    dead.close(); // leaves the socket file behind, like a killed journald
    expect(fs.existsSync(sockPath)).toBe(true);
    const calls: LogCall[] = [];
    const sink = makeSink(sockPath, {}, calls);
    sink.write(entry('a'));
    sink.flush();
    await waitFor(() => sink.stats().sendErrors >= 1, 10_000, 'a send error');
    expect(String(calls.find((c) => c.level === 'warn')?.fields['error'])).toMatch(/refused/i);
    fs.rmSync(sockPath);
    const rx = new Receiver(sockPath);
    closers.push(() => rx.close());
    await waitFor(() => rx.datagrams.length === 1, 15_000, 'the entry');
  });

  it('the queue is bounded: when full it drops the newest and counts them', async () => {
    const sink = makeSink(path.join(dir, 'nowhere'), { maxQueueBytes: 10_000, closeDeadlineMs: 100 });
    for (let i = 0; i < 1000; i++) sink.write(entry(`entry number ${i}`));
    sink.flush();
    const s = sink.stats();
    expect(s.queuedBytes).toBeLessThanOrEqual(10_000);
    expect(s.queued + s.droppedQueueFull).toBe(1000);
    expect(s.droppedQueueFull).toBeGreaterThan(900);
    expect(s.dropped).toBe(s.droppedQueueFull);
  });

  it('close() gives up after its deadline and counts what was left', async () => {
    const sink = makeSink(path.join(dir, 'nowhere'), { closeDeadlineMs: 300 });
    for (let i = 0; i < 20; i++) sink.write(entry(`x${i}`));
    sink.flush();
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(sink.stats()).toMatchObject({ droppedAtClose: 20, dropped: 20, queued: 0, sent: 0 });
    sink.write(entry('after close'));
    expect(sink.stats().dropped).toBe(21);
  });

  it('close() delivers what is queued when journald is there', async () => {
    const sockPath = path.join(dir, 'socket');
    const rx = new Receiver(sockPath);
    closers.push(() => rx.close());
    const sink = makeSink(sockPath);
    for (let i = 0; i < 2000; i++) sink.write(entry(`c${i}`));
    await sink.close(); // no flush before: close flushes
    await waitFor(() => rx.datagrams.length === 2000, 15_000, 'all datagrams');
    expect(sink.stats()).toMatchObject({ sent: 2000, dropped: 0 });
  });

  it("journald's queue full (EAGAIN): waits without blocking, resumes in order, and does not spin afterwards", async () => {
    const sockPath = path.join(dir, 'stalled.socket');
    const rx = new StalledReceiver(sockPath);
    closers.push(() => rx.close());
    const sink = makeSink(sockPath);
    for (let i = 0; i < 200; i++) sink.write(entry(`s${i}`));
    sink.flush();
    await waitFor(() => sink.stats().eagain >= 1, 10_000, 'EAGAIN');
    const stalledAt = sink.stats().sent;
    expect(stalledAt).toBeLessThan(200);
    // read until everything came through
    await waitFor(() => {
      rx.drain();
      return rx.datagrams.length === 200;
    }, 20_000, 'all 200 after draining');
    expect(rx.datagrams.map((d) => fieldsObject(parseNative(d))['MESSAGE'])).toEqual(Array.from({ length: 200 }, (_, i) => `s${i}`));
    await waitFor(() => sink.stats().sent === 200 && sink.stats().queued === 0, 5_000, 'sent=200');
    // Nothing left to wait for: measure CPU over an idle second.
    await new Promise((r) => setTimeout(r, 100));
    const before = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 1000));
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1000).toBeLessThan(600);
  });
});

describe('journald sink: a stalled journald', () => {
  it('is waited on in timer steps, not in a busy loop, and everything goes through once it reads again', async () => {
    const sockPath = path.join(dir, 'stalled.socket');
    const rx = new StalledReceiver(sockPath);
    closers.push(() => rx.close());
    const sink = makeSink(sockPath);
    for (let i = 0; i < 500; i++) sink.write(entry(`t${i}`));
    sink.flush();
    await waitFor(() => sink.stats().eagain >= 1, 10_000, 'EAGAIN');
    await new Promise((r) => setTimeout(r, 200));
    const before = process.cpuUsage();
    const eagainBefore = sink.stats().eagain;
    await new Promise((r) => setTimeout(r, 1000));
    const used = process.cpuUsage(before);
    // 50 µs room waits for the first ~2 ms, then 1 → 50 ms timers: ~20 tries a second.
    expect(sink.stats().eagain - eagainBefore).toBeLessThan(100);
    expect((used.user + used.system) / 1000).toBeLessThan(300);
    await waitFor(() => {
      rx.drain();
      return rx.datagrams.length === 500;
    }, 20_000, 'all 500 after draining');
    expect(rx.datagrams.map((d) => fieldsObject(parseNative(d))['MESSAGE'])).toEqual(Array.from({ length: 500 }, (_, i) => `t${i}`));
    expect(sink.stats()).toMatchObject({ sent: 500, queued: 0, dropped: 0 });
  });
});

/** Receives one datagram with SCM_RIGHTS and returns what the passed file holds. */
function recvPassedFile(path: string): { receive(): Buffer | null; close(): void } {
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as {
    load(n: string): { func(s: string): (...a: unknown[]) => unknown };
    struct(n: string, d: Record<string, string>): unknown;
  };
  const libc = koffi.load('libc.so.6');
  koffi.struct('test_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  koffi.struct('test_msghdr', { msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'test_iovec *', msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' });
  const socket = libc.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = libc.func('int bind(int, const void *, uint32)') as (fd: number, addr: Buffer, len: number) => number;
  const recvmsg = libc.func('intptr_t recvmsg(int, _Inout_ test_msghdr *, int)') as (fd: number, m: Record<string, unknown>, f: number) => number;
  const closeFd = libc.func('int close(int)') as (fd: number) => number;
  const fd = socket(1, 2 | 0o2000000, 0);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1, 0);
  const n = addr.write(path, 2);
  if (bind(fd, addr, 2 + n + 1) !== 0) throw new Error('bind failed');
  return {
    receive() {
      const data = Buffer.alloc(16);
      const control = Buffer.alloc(64);
      const msg: Record<string, unknown> = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: 16 }], msg_iovlen: 1, msg_control: control, msg_controllen: 64, msg_flags: 0 };
      const r = Number(recvmsg(fd, msg, 0x40));
      if (r < 0) return null;
      if (r !== 0) throw new Error(`expected an empty datagram, got ${r} bytes`);
      expect(control.readInt32LE(8)).toBe(1); // SOL_SOCKET
      expect(control.readInt32LE(12)).toBe(1); // SCM_RIGHTS
      const passed = control.readInt32LE(16);
      const st = fs.fstatSync(passed);
      const content = Buffer.alloc(st.size);
      fs.readSync(passed, content, 0, st.size, 0);
      expect(fs.readlinkSync(`/proc/self/fd/${passed}`)).toMatch(/^\/dev\/shm\/journal\.XXXXX\d+ \(deleted\)$/);
      fs.closeSync(passed);
      return content;
    },
    close: () => void closeFd(fd),
  };
}

describe('journald sink: entries too large for a datagram', () => {
  it('go through an unlinked /dev/shm file passed with SCM_RIGHTS, in order with the datagrams', async () => {
    const sockPath = path.join(dir, 'fd.socket');
    const rx = recvPassedFile(sockPath);
    closers.push(() => rx.close());
    const sink = makeSink(sockPath, { maxDatagramBytes: 1000 });
    const big = 'B'.repeat(5000);
    sink.write(entry(big));
    sink.flush();
    let content: Buffer | null = null;
    await waitFor(() => (content = rx.receive()) !== null, 10_000, 'the passed file');
    const f = fieldsObject(parseNative(content!));
    expect(f).toMatchObject({ PRIORITY: '6', MESSAGE: big, CONTAINER_TAG: 'mytag', MULTI: 'a\nb' });
    await waitFor(() => sink.stats().fdPassed === 1, 5_000, 'fdPassed');
    expect(sink.stats()).toMatchObject({ sent: 1, fdPassed: 1, dropped: 0 });
  });
});
