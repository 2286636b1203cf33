/**
 * Differential tests of the fluentd sink against the real daemon: the same container through
 * Docker's built-in fluentd driver and through logfan (sinks=json-file,fluentd) must deliver the
 * same Forward-protocol events to a raw receiver: same tag, same record keys and value bytes, same
 * msgpack encodings, same time type; only the container id/name, the partial id and the time
 * values differ, and those are checked for form. Then what Docker's driver does not do: start
 * while fluentd is down, survive it going away, and never hold up `docker stop`.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMAGE,
  docker,
  removeContainers,
  requireDocker,
  runToCompletion,
  startLogfan,
  type LogfanProcess,
  uniqueDriver,
} from './harness.js';
import { ForwardReceiver, canonicalEvent, type ForwardEvent } from '../sinks/fluentd/forward-receiver.js';
import { freePort } from '../net-helpers.js';

const DRIVER = uniqueDriver('logfan-e2e-fluentd');
let logfan: LogfanProcess;
let tmp: string;
const containers: string[] = [];
const receivers: ForwardReceiver[] = [];

beforeAll(async () => {
  await requireDocker();
  logfan = await startLogfan(DRIVER);
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-fluentd-e2e-'));
  await fs.promises.chmod(tmp, 0o755);
}, 120_000);

afterAll(async () => {
  await removeContainers(containers);
  for (const r of receivers) await r.close();
  await logfan?.stop();
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

async function receiver(opts: ConstructorParameters<typeof ForwardReceiver>[0] = {}, at: { port?: number; path?: string } = {}): Promise<ForwardReceiver> {
  const r = new ForwardReceiver(opts);
  await r.listen(at);
  receivers.push(r);
  return r;
}

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const MASK = ['container_id', 'container_name', 'partial_id'];

async function containerName(id: string): Promise<string> {
  return (await docker(['inspect', '--format', '{{.Name}}', id])).stdout.trim();
}

/** Checks the values masked out of the comparison: ids, names, partial ids and times. */
async function checkMasked(events: ForwardEvent[], id: string, window: { from: number; to: number }, subSecond: boolean): Promise<void> {
  const name = await containerName(id);
  const partialIds = new Map<string, number[]>();
  for (const ev of events) {
    expect(ev.record.get('container_id')!.toString()).toBe(id);
    expect(ev.record.get('container_name')!.toString()).toBe(name);
    expect(name.startsWith('/')).toBe(true);
    expect(ev.sec).toBeGreaterThanOrEqual(window.from - 2);
    expect(ev.sec).toBeLessThanOrEqual(window.to + 2);
    if (subSecond) {
      expect(ev.time.t).toBe('ext');
      expect(ev.nsec).toBeLessThan(1e9);
    } else {
      expect(ev.time.raw[0]).toBe(0xd2);
    }
    const pid = ev.record.get('partial_id');
    if (pid) {
      expect(pid.toString()).toMatch(/^[0-9a-f]{64}$/);
      const list = partialIds.get(pid.toString()) ?? [];
      list.push(Number(ev.record.get('partial_ordinal')!.toString()));
      partialIds.set(pid.toString(), list);
    }
  }
  for (const ordinals of partialIds.values()) expect(ordinals).toEqual(ordinals.map((_, i) => i + 1));
}

function bySource(events: ForwardEvent[], mask: readonly string[], maskTag = false): Record<string, string[]> {
  const out: Record<string, string[]> = { stdout: [], stderr: [] };
  for (const ev of events) out[ev.record.get('source')!.toString()].push(canonicalEvent(ev, mask, maskTag));
  return out;
}

function specials(prefix: string): Buffer {
  const parts = [
    Buffer.from(`${prefix} tab\there\tand\ttabs`),
    Buffer.from('<a href="x?a=1&b=2">quote " backslash \\ </a>'),
    Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x7a]),
    Buffer.from(''),
    Buffer.from('utf8 é 日本語 😀 \ufffd ok'),
    Buffer.from('carriage\rreturn\r'),
    Buffer.from('x'.repeat(31)),
    Buffer.from('y'.repeat(32)),
    Buffer.from('z'.repeat(256)),
  ];
  const out: Buffer[] = [];
  for (const p of parts) out.push(p, Buffer.from('\n'));
  for (let i = 0; i < 200; i++) out.push(Buffer.from(`${prefix} line ${i} lorem ipsum\n`));
  return Buffer.concat(out);
}

async function writePayload(): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(tmp, 'payload-'));
  await fs.promises.chmod(dir, 0o755);
  const long = Buffer.alloc(40_000, 'L');
  long.write('begin-of-long-line', 0);
  long.write('end', 40_000 - 3);
  await fs.promises.writeFile(path.join(dir, 'out.bin'), Buffer.concat([specials('out'), long, Buffer.from('\n'), Buffer.from('stdout without final newline')]));
  await fs.promises.writeFile(path.join(dir, 'err.bin'), Buffer.concat([specials('err'), Buffer.from('stderr without final newline')]));
  return dir;
}

const ATTRS = [
  '--label', 'app=web',
  '--label', 'quote=a"b<c>&d',
  '--label', 'unused=1',
  '-e', 'FOO=bar',
  '-e', 'TRACE_ID=t\u00e9',
  '--log-opt', 'labels=app,quote,missing',
  '--log-opt', 'env=FOO',
  '--log-opt', 'env-regex=^TRACE',
  '--log-opt', 'tag=docker.{{.ImageName}}|{{upper .DaemonName}}',
];

// stdout: 9 specials + 200 lines + 3 pieces of the long line + the unterminated line; stderr: 9 + 200 + 1.
const STDOUT_EVENTS = 9 + 200 + 3 + 1;
const STDERR_EVENTS = 9 + 200 + 1;

interface Pair {
  builtinEvents: ForwardEvent[];
  oursEvents: ForwardEvent[];
  builtin: string;
  ours: string;
  window: { from: number; to: number };
}

/** Runs `args` once with Docker's fluentd driver and once with logfan, each to its own receiver. */
async function runBoth(
  extraOpts: string[],
  cmd: string[],
  expected: number,
  target: (which: 'builtin' | 'ours') => Promise<{ r: ForwardReceiver; address: string }>,
): Promise<Pair> {
  const from = Math.floor(Date.now() / 1000);
  const a = await target('builtin');
  const b = await target('ours');
  const builtin = await runToCompletion(['--log-driver', 'fluentd', '--log-opt', `fluentd-address=${a.address}`, ...extraOpts, ...cmd]);
  containers.push(builtin);
  const ours = await runToCompletion(['--log-driver', DRIVER, '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=${b.address}`, ...extraOpts, ...cmd]);
  containers.push(ours);
  await a.r.waitFor(expected, 60_000);
  await logfan.waitForStopped(ours);
  await b.r.waitFor(expected, 60_000);
  const to = Math.ceil(Date.now() / 1000);
  expect(a.r.errors).toEqual([]);
  expect(b.r.errors).toEqual([]);
  return { builtinEvents: a.r.events, oursEvents: b.r.events, builtin, ours, window: { from, to } };
}

function expectSameEvents(pair: Pair, mask: readonly string[] = MASK, maskTag = false): void {
  const e = bySource(pair.builtinEvents, mask, maskTag);
  const a = bySource(pair.oursEvents, mask, maskTag);
  for (const stream of ['stdout', 'stderr'] as const) {
    expect(a[stream].length, stream).toBe(e[stream].length);
    for (let i = 0; i < e[stream].length; i++) {
      if (a[stream][i] !== e[stream][i]) expect.fail(`${stream} event ${i} differs:\n docker: ${e[stream][i].slice(0, 400)}\n logfan: ${a[stream][i].slice(0, 400)}`);
    }
  }
}

describe('fluentd, differential against Docker\'s fluentd driver', () => {
  it('sends the same events for hostile output, a 40,000-byte line, tag, labels and env', async () => {
    const dir = await writePayload();
    const pair = await runBoth(
      ATTRS,
      ['-v', `${dir}:/data:ro`, IMAGE, 'sh', '-c', 'cat /data/out.bin; cat /data/err.bin >&2'],
      STDOUT_EVENTS + STDERR_EVENTS,
      async () => {
        const r = await receiver();
        return { r, address: `127.0.0.1:${r.port}` };
      },
    );
    expect(pair.builtinEvents.length).toBe(STDOUT_EVENTS + STDERR_EVENTS);
    expect(pair.oursEvents.length).toBe(STDOUT_EVENTS + STDERR_EVENTS);
    expectSameEvents(pair);
    await checkMasked(pair.builtinEvents, pair.builtin, pair.window, false);
    await checkMasked(pair.oursEvents, pair.ours, pair.window, false);

    // Spot checks on what the comparison covers.
    const ours = pair.oursEvents.filter((e) => e.record.get('source')!.toString() === 'stdout');
    expect(ours[0].tag.toString()).toBe(`docker.${IMAGE}|DOCKER`);
    expect(ours[2].record.get('log')!.equals(Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x7a]))).toBe(true);
    expect(ours[3].record.get('log')!.length).toBe(0);
    expect(Object.fromEntries([...ours[0].record].filter(([k]) => !MASK.includes(k) && k !== 'log').map(([k, v]) => [k, v.toString()]))).toEqual({
      source: 'stdout', app: 'web', quote: 'a"b<c>&d', FOO: 'bar', TRACE_ID: 't\u00e9',
    });
    const pieces = ours.filter((e) => e.record.has('partial_id'));
    expect(pieces.map((e) => e.record.get('log')!.length)).toEqual([16384, 16384, 40_000 - 32768, 'stdout without final newline'.length]);
    expect(pieces.map((e) => e.record.get('partial_last')!.toString())).toEqual(['false', 'false', 'true', 'false']);
    expect(pieces[0].record.get('partial_message')!.toString()).toBe('true');
    // logfan sent several events per write: fewer connections than events, one connection.
    expect(new Set(pair.oursEvents.map((e) => e.connection)).size).toBe(1);
    // and the local store still backs docker logs
    expect(fs.readFileSync(logfan.jsonLogPath(pair.ours), 'utf8')).toContain('stdout without final newline');
  }, 240_000);

  it('matches with fluentd-sub-second-precision and fluentd-request-ack (EventTime, chunk option, acks)', async () => {
    const pair = await runBoth(
      ['--log-opt', 'fluentd-sub-second-precision=true', '--log-opt', 'fluentd-request-ack=true'],
      // stdout only: Docker 20.10.24's driver with request-ack hangs when stdout and stderr log
      // at the same time (both goroutines read acks from one connection; one read swallows both).
      [IMAGE, 'sh', '-c', 'seq 1 300; printf "no newline"'],
      301,
      async () => {
        const r = await receiver({ ack: true });
        return { r, address: `tcp://127.0.0.1:${r.port}` };
      },
    );
    // default tag {{.ID}}: masked here, checked below
    expectSameEvents(pair, MASK, true);
    expect(pair.builtinEvents[0].tag.toString()).toBe(pair.builtin.slice(0, 12));
    expect(pair.oursEvents[0].tag.toString()).toBe(pair.ours.slice(0, 12));
    for (const ev of [...pair.builtinEvents, ...pair.oursEvents]) {
      expect(ev.time.t).toBe('ext');
      expect(ev.time.raw.subarray(0, 2).toString('hex')).toBe('d700');
      expect(ev.chunk).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      // chunk = base64(LE seconds of the event time + 8 random bytes)
      expect(Buffer.from(ev.chunk!, 'base64').readUInt32LE(0)).toBe(ev.sec);
    }
    // nanoseconds are there (not all zero) for both
    expect(pair.oursEvents.some((e) => e.nsec !== 0)).toBe(true);
    expect(pair.builtinEvents.some((e) => e.nsec !== 0)).toBe(true);
    await checkMasked(pair.builtinEvents, pair.builtin, pair.window, true);
    await checkMasked(pair.oursEvents, pair.ours, pair.window, true);
    const chunks = new Set(pair.oursEvents.map((e) => e.chunk));
    expect(chunks.size).toBe(pair.oursEvents.length);
  }, 240_000);

  it('matches over a unix socket address', async () => {
    let n = 0;
    const pair = await runBoth([], [IMAGE, 'sh', '-c', 'seq 1 50; echo err >&2'], 51, async (which) => {
      const p = path.join(tmp, `fluent-${which}-${++n}.sock`);
      const r = await receiver({}, { path: p });
      await fs.promises.chmod(p, 0o777);
      return { r, address: `unix://${p}` };
    });
    // The default tag is {{.ID}}: different per container, so masked and checked apart.
    const e = bySource(pair.builtinEvents, MASK, true);
    const a = bySource(pair.oursEvents, MASK, true);
    expect(a).toEqual(e);
    expect(pair.builtinEvents[0].tag.toString()).toBe(pair.builtin.slice(0, 12));
    expect(pair.oursEvents[0].tag.toString()).toBe(pair.ours.slice(0, 12));
  }, 240_000);
});

describe('fluentd options and failures', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--log-opt', 'fluentd-address=udp://127.0.0.1:1'], /fluentd-address.*unsupported scheme: 'udp'/],
    [['--log-opt', 'fluentd-retry-wait=1000'], /fluentd-retry-wait.*missing unit in duration "1000"/],
    [['--log-opt', 'fluentd-request-ack=sure'], /fluentd-request-ack.*ParseBool/],
    [['--log-opt', 'fluentd-async-reconnect-interval=1h'], /fluentd-async-reconnect-interval.*must be between 100ms and 10s/],
  ];
  for (const [opts, message] of bad) {
    it(`refuses ${opts[1]}`, async () => {
      const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,fluentd', ...opts, IMAGE, 'true'], { allowFail: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }, 60_000);
  }

  it('refuses fluentd options when the fluentd sink is not selected', async () => {
    const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'fluentd-async=true', IMAGE, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/fluentd-async.*fluentd sink/);
  }, 60_000);

  it('starts with fluentd down (Docker\'s driver refuses), survives it going away, delivers what was queued, and docker stop stays quick', async () => {
    const port = await freePort();
    // Docker's own driver in its default (sync) mode cannot start the container at all.
    const refused = await docker(['run', '--rm', '--network', 'none', '--log-driver', 'fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`, IMAGE, 'true'], { allowFail: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/connection refused/);

    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', DRIVER,
      '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`, '--log-opt', 'fluentd-request-ack=true',
      IMAGE, 'sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done',
    ]);
    const id = stdout.trim();
    containers.push(id);
    const short = id.slice(0, 12);
    const state = async () => (await docker(['inspect', '--format', '{{.State.Running}}', id])).stdout.trim();
    expect(await state()).toBe('true');
    await waitFor(() => logfan.logLines.some((l) => l.msg === 'fluentd connect failed' && l.container === short && typeof l.error === 'string' && l.sink === 'fluentd'), 'the connect failure to be logged');

    // Another container keeps logging meanwhile.
    const other = await runToCompletion(['--log-driver', DRIVER, IMAGE, 'sh', '-c', 'echo other container']);
    containers.push(other);
    await logfan.waitForStopped(other);
    expect(fs.readFileSync(logfan.jsonLogPath(other), 'utf8')).toContain('other container');

    const ticks = (r: ForwardReceiver): Set<number> => new Set(r.events.map((e) => Number(/^tick (\d+)$/.exec(e.record.get('log')!.toString())![1])));
    // fluentd comes up: everything from tick 0 arrives.
    let r = await receiver({ ack: true }, { port });
    await r.waitUntil(() => ticks(r).size >= 40, '40 ticks');
    const first = ticks(r);
    const highFirst = Math.max(...first);
    for (let i = 0; i <= highFirst; i++) expect(first.has(i), `tick ${i}`).toBe(true);

    // fluentd goes away: the container runs on; lines from the gap arrive when it is back.
    await r.close();
    await waitFor(() => logfan.logLines.some((l) => l.msg === 'fluentd connection lost' && l.container === short), 'the disconnect to be logged');
    const json = () => fs.readFileSync(logfan.jsonLogPath(id), 'utf8');
    const countTicks = () => (json().match(/tick \d+/g) ?? []).length;
    const during = countTicks();
    await waitFor(() => countTicks() >= during + 20, '20 more ticks in the local store while fluentd is away');
    expect(await state()).toBe('true');
    r = await receiver({ ack: true }, { port });
    await waitFor(() => ticks(r).size > 0 && Math.max(...ticks(r)) >= during + 25, 'ticks after fluentd is back');
    const all = new Set([...first, ...ticks(r)]);
    const high = Math.max(...ticks(r));
    for (let i = 0; i <= high; i++) expect(all.has(i), `tick ${i} (at least once)`).toBe(true);

    // fluentd goes away again; docker stop returns within a few seconds anyway.
    await r.close();
    const t0 = Date.now();
    await docker(['stop', '-t', '1', id]);
    const stopMs = Date.now() - t0;
    expect(stopMs).toBeLessThan(8_000);
    await logfan.waitForStopped(id, 30_000);
    const stopped = logfan.logLines.find((l) => l.msg === 'logging stopped' && l.container === short) as { sinks?: Record<string, Record<string, number>> };
    const stats = stopped.sinks!['fluentd'];
    expect(stats.connects).toBeGreaterThanOrEqual(2);
    expect(stats.connectFailures).toBeGreaterThanOrEqual(1);
    expect(stats.acked).toBeGreaterThanOrEqual(high);
    console.log(`docker stop with fluentd away: ${stopMs} ms; sink stats ${JSON.stringify(stats)}`);
  }, 300_000);
});
