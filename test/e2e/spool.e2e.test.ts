/**
 * The disk spool against the real daemon: a fluentd server that is away for a long time while
 * containers log (SPOOL_OUTAGE_S, default 60 s, with 10 containers at ~1,000 lines/s each), and a
 * logfan restart while lines wait in the spool. Nothing may be lost or reordered per container,
 * the containers must not be slowed, and logfan's memory must stay bounded (the spool keeps 1 MiB
 * per container and sink in memory; the rest is on disk).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, sleep, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';
import { Incomplete, decodeValue, parseEvent } from '../sinks/fluentd/forward-receiver.js';
import { freePort } from '../net-helpers.js';

const OUTAGE_S = Number(process.env.SPOOL_OUTAGE_S ?? 60);
const CONTAINERS = Number(process.env.SPOOL_CONTAINERS ?? 10);
/** Lines per container per second: 10 per loop turn, 10 ms apart. */
const RATE = 1000;
const containers: string[] = [];
const logfans: LogfanProcess[] = [];
const receivers: NumberReceiver[] = [];

/**
 * A forward receiver that keeps only what these tests check — per container, the numbers of the
 * lines in arrival order — so that 750,000 events fit in a test worker's memory.
 */
class NumberReceiver {
  readonly byContainer = new Map<string, number[]>();
  count = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  /** Stalled: reads nothing until release(), then one connection at a time, in the order they came. */
  private readonly serial: boolean;
  private gateOpen: boolean;
  private readonly waiting: net.Socket[] = [];
  private reading: net.Socket | null = null;

  constructor(stalled = false) {
    this.serial = stalled;
    this.gateOpen = !stalled;
  }

  release(): void {
    this.gateOpen = true;
    this.readNext();
  }

  private readNext(): void {
    if (!this.gateOpen || this.reading) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.reading = next;
    next.resume();
  }

  async listen(port: number): Promise<void> {
    const server = net.createServer((sock) => {
      this.sockets.add(sock);
      if (this.serial) {
        sock.pause();
        this.waiting.push(sock);
        this.readNext();
      }
      let pending = Buffer.alloc(0);
      sock.on('data', (data: Buffer) => {
        pending = pending.length > 0 ? Buffer.concat([pending, data]) : data;
        let pos = 0;
        for (;;) {
          let r;
          try {
            r = decodeValue(pending, pos);
          } catch (err) {
            if (err instanceof Incomplete) break;
            throw err;
          }
          const ev = parseEvent(r.value, pending.subarray(pos, r.end));
          const id = ev.record.get('container_id')!.toString();
          const n = Number(/-(\d+)$/.exec(ev.record.get('log')!.toString())![1]);
          let list = this.byContainer.get(id);
          if (!list) this.byContainer.set(id, (list = []));
          list.push(n);
          this.count++;
          pos = r.end;
        }
        pending = Buffer.from(pending.subarray(pos));
      });
      sock.on('error', () => undefined);
      sock.on('close', () => {
        this.sockets.delete(sock);
        if (this.reading === sock) {
          this.reading = null;
          this.readNext();
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async waitFor(n: number, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.count < n) {
      if (Date.now() > end) throw new Error(`expected ${n} events, got ${this.count} within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

beforeAll(async () => {
  await requireDocker();
});

afterAll(async () => {
  await removeContainers(containers);
  for (const r of receivers) await r.close().catch(() => undefined);
  for (const l of logfans) await l.stop();
});

async function receiverOn(port: number, stalled = false): Promise<NumberReceiver> {
  const r = new NumberReceiver(stalled);
  await r.listen(port);
  receivers.push(r);
  return r;
}

/** `seconds` of numbered lines at ~RATE/s: 10 lines every 10 ms. */
function script(prefix: string, seconds: number): string {
  const turns = (seconds * RATE) / 10;
  return `t=0; while [ $t -lt ${turns} ]; do t=$((t+1)); for k in 0 1 2 3 4 5 6 7 8 9; do echo ${prefix}-$((t*10+k-10)); done; usleep 10000; done`;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The line numbers in a container's json-file store (every file, oldest first). */
function storedNumbers(dataRoot: string, id: string): number[] {
  const dir = path.join(dataRoot, 'containers', id);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.includes('-json.log')).sort().reverse() : [];
  const out: number[] = [];
  for (const f of files) for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/"log":"s-(\d+)\\n"/g)) out.push(Number(m[1]));
  return out;
}

/** logfan's last 30 log lines about one container (its sinks, its spool), for a failure report. */
function logfanSaid(logfan: LogfanProcess, id: string): string {
  return JSON.stringify(logfan.logLines.filter((l) => l.container === id.slice(0, 12) || String(l.spool ?? '').includes(id)).slice(-30));
}

/** Arrival order as runs of consecutive numbers ("0-41999, 40000-74999"): shows what came twice. */
function describeRuns(list: number[]): string {
  const runs: string[] = [];
  let start = 0;
  for (let i = 1; i <= list.length; i++) {
    if (i === list.length || list[i] !== list[i - 1] + 1) {
      runs.push(`${list[start]}-${list[i - 1]}`);
      start = i;
    }
  }
  return `${list.length} events in ${runs.length} runs: ${runs.slice(0, 20).join(', ')}`;
}

function expectAllInOrder(got: number[] | undefined, count: number, what: string): void {
  expect(got, what).toBeDefined();
  expect(got!.length, what).toBe(count);
  for (let k = 0; k < count; k++) if (got![k] !== k) expect(`${what}: line ${k} is ${got![k]}`).toBe(`${what}: line ${k} is ${k}`);
}

describe('spool=disk', () => {
  it(`${CONTAINERS} containers logging ~${RATE} lines/s through a ${OUTAGE_S} s fluentd outage: no stall, bounded memory, every line once and in order`, async () => {
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-spool'));
    logfans.push(logfan);
    const port = await freePort();
    const seconds = OUTAGE_S + 15;
    const lines = seconds * RATE;
    const started = Date.now();
    for (let i = 0; i < CONTAINERS; i++) {
      const { stdout } = await docker([
        'run', '-d', '--network', 'none', '--log-driver', logfan.driver,
        '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`,
        '--log-opt', 'spool=disk', IMAGE, 'sh', '-c', script('s', seconds),
      ]);
      containers.push(stdout.trim());
    }
    const ids = containers.slice(-CONTAINERS);
    // A twin that logs the same, at the same time, to the local store only: the pace to keep.
    const { stdout: twinOut } = await docker(['run', '-d', '--network', 'none', '--log-driver', logfan.driver, IMAGE, 'sh', '-c', script('s', seconds)]);
    const twin = twinOut.trim();
    containers.push(twin);
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(logfan.child.pid!))), 500);
    try {
      await sleep(OUTAGE_S * 1000);
      // What waited meanwhile is on disk, not in memory.
      const spoolDir = path.join(logfan.dataRoot, 'spool');
      expect(fs.readdirSync(spoolDir).length).toBe(CONTAINERS);
      const fluentd = await receiverOn(port);
      await docker(['wait', twin]);
      const twinElapsed = (Date.now() - started) / 1000;
      for (const id of ids) await docker(['wait', id]);
      const elapsed = (Date.now() - started) / 1000;
      await fluentd.waitFor(CONTAINERS * lines, 180_000);
      await sleep(1000);
      const got = fluentd.byContainer;
      for (const id of ids) {
        const list = got.get(id) ?? [];
        if (list.length !== lines) console.log(`[spool] container ${id.slice(0, 12)}: ${describeRuns(list)}; json-file: ${describeRuns(storedNumbers(logfan.dataRoot, id))}; logfan said: ${logfanSaid(logfan, id)}`);
      }
      for (const id of ids) expectAllInOrder(got.get(id), lines, `container ${id.slice(0, 12)}`);
      console.log(`[spool] ${CONTAINERS} × ${lines} lines, outage ${OUTAGE_S} s: containers done in ${elapsed.toFixed(1)} s, the json-file-only twin in ${twinElapsed.toFixed(1)} s (nominal ${seconds} s), peak RSS ${peakRss.toFixed(1)} MB`);
      // Held back by their sink, the spooling containers would end long after the twin.
      expect(elapsed).toBeLessThan(twinElapsed * 1.2 + 5);
      // 1 MiB per spooled queue in memory, the rest on disk: far from the 10 × 16 MiB of memory queues.
      expect(peakRss).toBeLessThan(200);
    } finally {
      clearInterval(sampler);
    }
  }, (OUTAGE_S + 300) * 1000);

  it('a fluentd that stops reading: containers end with lines queued; what the kernel took counts as sent, the rest goes out from their spools: every line once, in order', async () => {
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-spool-stall'));
    logfans.push(logfan);
    const port = await freePort();
    // Up, accepting, reading nothing: the kernel's socket buffers (~4 MB) fill, then the sinks queue.
    const fluentd = await receiverOn(port, true);
    const count = 2;
    const seconds = 10;
    const lines = seconds * RATE;
    const padding = 'p'.repeat(1000); // ~10 MB per container: well past what the kernel buffers
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { stdout } = await docker([
        'run', '-d', '--network', 'none', '--log-driver', logfan.driver,
        '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`,
        '--log-opt', 'spool=disk', IMAGE, 'sh', '-c', script(padding, seconds),
      ]);
      ids.push(stdout.trim());
      containers.push(stdout.trim());
    }
    for (const id of ids) await docker(['wait', id]);
    // Close deadline (5 s), then the final flush of the write under way (2 s) gives up.
    const spooled = (): number => logfan.logLines.filter((l) => String(l.msg).includes('stay in the disk spool')).length;
    const end = Date.now() + 30_000;
    while (spooled() < count && Date.now() < end) await sleep(200);
    expect(spooled()).toBe(count);
    fluentd.release();
    await fluentd.waitFor(count * lines, 120_000).catch((err: Error) => {
      for (const id of ids) console.log(`[spool-stall] ${id.slice(0, 12)}: ${describeRuns(fluentd.byContainer.get(id) ?? [])}`);
      throw err;
    });
    await sleep(1000);
    for (const id of ids) {
      const list = fluentd.byContainer.get(id) ?? [];
      if (list.length !== lines) console.log(`[spool-stall] container ${id.slice(0, 12)}: ${describeRuns(list)}; logfan said: ${logfanSaid(logfan, id)}`);
    }
    for (const id of ids) expectAllInOrder(fluentd.byContainer.get(id), lines, `container ${id.slice(0, 12)}`);
  }, 240_000);

  it('survives a logfan restart: spooled lines are sent by the next logfan, in order, none lost', async () => {
    const driver = uniqueDriver('logfan-e2e-spool-restart');
    const first = await startLogfan(driver);
    logfans.push(first);
    const port = await freePort();
    const seconds = 12;
    const lines = seconds * RATE;
    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', driver,
      '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`,
      '--log-opt', 'spool=disk', IMAGE, 'sh', '-c', script('r', seconds),
    ]);
    const id = stdout.trim();
    containers.push(id);
    await sleep(5000);
    // logfan goes away (and comes back) while fluentd is still down and lines wait in the spool.
    const stopAt = Date.now();
    await first.stop();
    console.log(`[spool-restart] first logfan stopped in ${Date.now() - stopAt} ms; its last words: ${JSON.stringify(first.logLines.slice(-4))}`);
    const second = await startLogfan(driver, {}, first.dataRoot);
    logfans.push(second);
    await sleep(2000);
    const fluentd = await receiverOn(port);
    await docker(['wait', id]);
    await fluentd.waitFor(lines, 60_000).catch((err: Error) => {
      const got = fluentd.byContainer.get(id) ?? [];
      const seen = new Set(got);
      const missing: number[] = [];
      for (let k = 0; k < lines; k++) if (!seen.has(k)) missing.push(k);
      console.log(`[spool-restart] missing ${missing.length}: first ${missing.slice(0, 5)} last ${missing.slice(-5)}; spool: ${JSON.stringify(second.logLines.filter((l) => String(l.msg).includes('spool')).slice(0, 5))}`);
      throw err;
    });
    await sleep(500);
    expectAllInOrder(fluentd.byContainer.get(id), lines, 'after restart');
  }, 120_000);

  it('a container that ended during the outage: its spooled lines go out when fluentd is back, then the spool is removed', async () => {
    const driver = uniqueDriver('logfan-e2e-spool-orphan');
    const logfan = await startLogfan(driver);
    logfans.push(logfan);
    const port = await freePort();
    const seconds = 4;
    const lines = seconds * RATE;
    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', driver,
      '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`,
      '--log-opt', 'spool=disk', IMAGE, 'sh', '-c', script('o', seconds),
    ]);
    const id = stdout.trim();
    containers.push(id);
    await docker(['wait', id]);
    await logfan.waitForStopped(id);
    // The container is gone from logfan's view; its lines wait in the spool.
    const spoolDir = path.join(logfan.dataRoot, 'spool', id);
    expect(fs.existsSync(spoolDir)).toBe(true);
    const fluentd = await receiverOn(port);
    await fluentd.waitFor(lines, 60_000);
    await sleep(500);
    expectAllInOrder(fluentd.byContainer.get(id), lines, 'from the left-over spool');
    const end = Date.now() + 10_000;
    while (fs.existsSync(spoolDir) && Date.now() < end) await sleep(200);
    expect(fs.existsSync(spoolDir), 'spool removed once drained').toBe(false);
    expect(logfan.logLines.some((l) => l.msg === 'left-over spool drained')).toBe(true);
  }, 120_000);
});
