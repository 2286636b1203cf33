/**
 * Differential tests for the journald sink against a real systemd-journald and the real daemon:
 * the same container through Docker's built-in `--log-driver journald` and through logfan with
 * `sinks=json-file,journald` must leave the same fields in the journal (container id and name
 * aside, which differ between two containers and are checked to be well formed).
 *
 * journald: these machines have no systemd as PID 1, but /lib/systemd/systemd-journald runs
 * standalone. `ensureJournald` starts it (once, under a file lock) when its socket is not served;
 * it then keeps running like a system service. The "journald down" tests use a *namespaced*
 * journald (`systemd-journald <ns>`, socket /run/systemd/journal.<ns>/socket, read back with
 * `journalctl --namespace=<ns>`) that the test starts and kills itself, so the shared instance the
 * daemon logs to is never disturbed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, dockerLogs, removeContainers, requireDocker, runToCompletion, sleep, startLogfan, type LogfanProcess, uniqueDriver } from './harness.js';
import { JOURNALD, JOURNAL_SOCKET, ensureJournald } from './journald-peer.js';

const run = promisify(execFile);

type JournalValue = string | number[] | null | Array<string | number[] | null>;
type JournalEntry = Record<string, JournalValue>;

/** `journalctl -o json -a` for one container; only the fields a client sends (no `_`/`__` ones). */
async function journalEntries(id: string, namespace?: string): Promise<JournalEntry[]> {
  const args = ['-o', 'json', '-a', '--no-pager', ...(namespace ? [`--namespace=${namespace}`] : []), `CONTAINER_ID_FULL=${id}`];
  let stdout: string;
  try {
    ({ stdout } = await run('journalctl', args, { maxBuffer: 256 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    // journalctl exits 1 with "-- No entries --" on stdout and nothing on stderr for none
    if (e.stdout !== undefined && !e.stderr) stdout = e.stdout;
    else throw err;
  }
  const out: JournalEntry[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const all = JSON.parse(line) as JournalEntry;
    const user: JournalEntry = {};
    for (const [k, v] of Object.entries(all)) if (!k.startsWith('_')) user[k] = v;
    out.push(user);
  }
  return out;
}

async function waitForEntries(id: string, count: number, namespace?: string, timeoutMs = 60_000): Promise<JournalEntry[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const entries = await journalEntries(id, namespace);
    if (entries.length >= count) return entries;
    if (Date.now() > end) throw new Error(`journal has ${entries.length} of ${count} entries for ${id.slice(0, 12)}`);
    await sleep(200);
  }
}

/** A journal value as bytes (journalctl prints values that are not printable UTF-8 as byte arrays). */
function bytesOf(v: JournalValue | undefined): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Buffer.from(v as number[]);
  throw new Error(`not a single value: ${JSON.stringify(v)?.slice(0, 200)}`);
}

/** Checks and masks what legitimately differs between two containers. */
function normalize(entries: JournalEntry[], id: string, name: string): JournalEntry[] {
  const partialIds = new Map<string, string>();
  return entries.map((e) => {
    expect(e['CONTAINER_ID_FULL']).toBe(id);
    expect(e['CONTAINER_ID']).toBe(id.slice(0, 12));
    expect(e['CONTAINER_NAME']).toBe(name);
    const o: JournalEntry = { ...e, CONTAINER_ID_FULL: '<id>', CONTAINER_ID: '<id12>', CONTAINER_NAME: '<name>' };
    for (const k of ['CONTAINER_TAG', 'SYSLOG_IDENTIFIER']) {
      if (typeof o[k] === 'string') o[k] = (o[k] as string).replaceAll(id.slice(0, 12), '<id12>').replaceAll(name, '<name>');
    }
    const pid = e['CONTAINER_PARTIAL_ID'];
    if (pid !== undefined) {
      expect(pid).toMatch(/^[0-9a-f]{64}$/);
      if (!partialIds.has(pid as string)) partialIds.set(pid as string, `<partial-${partialIds.size + 1}>`);
      o['CONTAINER_PARTIAL_ID'] = partialIds.get(pid as string)!;
    }
    return o;
  });
}

function byPriority(entries: JournalEntry[]): Record<string, JournalEntry[]> {
  const out: Record<string, JournalEntry[]> = {};
  for (const e of entries) (out[String(e['PRIORITY'])] ??= []).push(e);
  return out;
}

async function containerName(id: string): Promise<string> {
  const { stdout } = await docker(['inspect', '--format', '{{.Name}}', id]);
  return stdout.trim().replace(/^\//, '');
}

const DRIVER = uniqueDriver('logfan-e2e-journald');
let logfan: LogfanProcess;
let payloadDir: string;
const containers: string[] = [];

const BIG = 40_000;
const STDOUT_LINES: Buffer[] = [
  Buffer.from('tab\there\tand\ttabs'),
  Buffer.from('<a href="x?a=1&b=2">quote " backslash \\ </a>'),
  Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0x7a]),
  Buffer.from(''),
  Buffer.from('utf8 é 日本語 😀 ok'),
  Buffer.from('key=value == equals'),
  Buffer.from('controls \x01\x1b[31mred\x1b[0m \x7f carriage\rreturn'),
  Buffer.from('x'.repeat(BIG - 10) + '0123456789'),
  Buffer.from('after the big one'),
];
const STDOUT_TAIL = Buffer.from('no final newline');
const STDERR_LINES: Buffer[] = [Buffer.from('to stderr 1'), Buffer.from(''), Buffer.from('to stderr 2 \xff')];
/** 16 KiB pieces: the 40,000-byte line is three entries. */
const EXPECTED_STDOUT = STDOUT_LINES.length + 2 + 1;
const EXPECTED = EXPECTED_STDOUT + STDERR_LINES.length;

beforeAll(async () => {
  await requireDocker();
  await ensureJournald();
  logfan = await startLogfan(DRIVER);
  payloadDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-journald-payload-'));
  const join = (lines: Buffer[]) => Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
  await fs.promises.writeFile(path.join(payloadDir, 'out'), Buffer.concat([join(STDOUT_LINES), STDOUT_TAIL]));
  await fs.promises.writeFile(path.join(payloadDir, 'err'), join(STDERR_LINES));
  // four labels of 60,000 bytes: ~240 KB of fields, more than one datagram can carry
  const big = ['big1', 'big2', 'big3', 'big4'].map((k, i) => `${k}=${String.fromCharCode(0x61 + i).repeat(60_000)}`).join('\n') + '\n';
  await fs.promises.writeFile(path.join(payloadDir, 'big-labels'), big);
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
  if (payloadDir) await fs.promises.rm(payloadDir, { recursive: true, force: true });
});

/** Docker's journald driver and logfan's journald sink, same container command and options. */
async function runBoth(opts: string[], containerArgs: string[], command: string[]): Promise<{ docker: string; logfan: string }> {
  const dockerId = await runToCompletion(['--log-driver', 'journald', ...opts, ...containerArgs, IMAGE, ...command]);
  containers.push(dockerId);
  const ours = await runToCompletion(['--log-driver', DRIVER, '--log-opt', 'sinks=json-file,journald', ...opts, ...containerArgs, IMAGE, ...command]);
  containers.push(ours);
  await logfan.waitForStopped(ours);
  return { docker: dockerId, logfan: ours };
}

describe('journald, differential against Docker', () => {
  it('the same journal fields for hostile output, a 40,000-byte line, labels with newlines and env extras', async () => {
    const opts = [
      '--log-opt', 'tag={{.ImageName}}|{{upper .DaemonName}}',
      '--log-opt', 'labels=multi,com.example.team,absent',
      '--log-opt', 'labels-regex=^lbl\\.',
      '--log-opt', 'env=APP_MODE',
      '--log-opt', 'env-regex=^EXTRA_',
    ];
    const containerArgs = [
      '-v', `${payloadDir}:/p:ro`,
      '--label', 'multi=first line\nsecond line',
      '--label', 'com.example.team=core',
      '--label', 'lbl.x=1',
      '--label', 'lbl.y=latin \xff as UTF-8',
      '-e', 'APP_MODE=prod',
      '-e', 'EXTRA_ONE=1',
      '-e', 'EXTRA_NL=x\ny',
    ];
    const ids = await runBoth(opts, containerArgs, ['sh', '-c', 'cat /p/out; cat /p/err >&2']);
    const theirs = await waitForEntries(ids.docker, EXPECTED);
    const ours = await waitForEntries(ids.logfan, EXPECTED);
    expect(ours.length).toBe(EXPECTED);
    expect(theirs.length).toBe(EXPECTED);
    const t = byPriority(normalize(theirs, ids.docker, await containerName(ids.docker)));
    const o = byPriority(normalize(ours, ids.logfan, await containerName(ids.logfan)));
    expect(o['6']).toEqual(t['6']);
    expect(o['3']).toEqual(t['3']);

    // and what both hold is what the container wrote
    const out = o['6'];
    expect(out.length).toBe(EXPECTED_STDOUT);
    expect(bytesOf(out[2]['MESSAGE'])).toEqual(STDOUT_LINES[2]);
    expect(out[3]['MESSAGE']).toBe('');
    const bigLine = Buffer.concat([7, 8, 9].map((i) => bytesOf(out[i]['MESSAGE'])));
    expect(bigLine).toEqual(STDOUT_LINES[7]);
    expect([7, 8, 9].map((i) => [bytesOf(out[i]['MESSAGE']).length, out[i]['CONTAINER_PARTIAL_ORDINAL'], out[i]['CONTAINER_PARTIAL_LAST'], out[i]['CONTAINER_PARTIAL_MESSAGE']])).toEqual([
      [16384, '1', 'false', 'true'],
      [16384, '2', 'false', 'true'],
      [BIG - 2 * 16384, '3', 'true', undefined],
    ]);
    expect(out[10]['MESSAGE']).toBe('after the big one');
    expect(out[11]).toMatchObject({ MESSAGE: 'no final newline', CONTAINER_PARTIAL_LAST: 'false', CONTAINER_PARTIAL_MESSAGE: 'true', CONTAINER_PARTIAL_ORDINAL: '1' });
    expect(out[0]).toMatchObject({
      PRIORITY: '6',
      MESSAGE: 'tab\there\tand\ttabs',
      CONTAINER_TAG: 'logfan-test/busybox:latest|DOCKER',
      SYSLOG_IDENTIFIER: 'logfan-test/busybox:latest|DOCKER',
      IMAGE_NAME: 'logfan-test/busybox:latest',
      MULTI: 'first line\nsecond line',
      COM_EXAMPLE_TEAM: 'core',
      LBL_X: '1',
      APP_MODE: 'prod',
      EXTRA_ONE: '1',
      EXTRA_NL: 'x\ny',
    });
    expect(o['3'].map((e) => bytesOf(e['MESSAGE']))).toEqual(STDERR_LINES);
  });

  it('the default tag is the short container ID', async () => {
    const ids = await runBoth([], [], ['sh', '-c', 'echo one; echo two >&2']);
    for (const id of [ids.docker, ids.logfan]) {
      const entries = await waitForEntries(id, 2);
      expect(entries.length).toBe(2);
      for (const e of entries) {
        expect(e['CONTAINER_TAG']).toBe(id.slice(0, 12));
        expect(e['SYSLOG_IDENTIFIER']).toBe(id.slice(0, 12));
      }
    }
    const t = byPriority(normalize(await journalEntries(ids.docker), ids.docker, await containerName(ids.docker)));
    const o = byPriority(normalize(await journalEntries(ids.logfan), ids.logfan, await containerName(ids.logfan)));
    expect(o).toEqual(t);
  });

  it('an entry too large for one datagram (4 × 60,000-byte labels) arrives whole, as through Docker', async () => {
    const opts = ['--log-opt', 'labels=big1,big2,big3,big4'];
    const ids = await runBoth(opts, ['--label-file', path.join(payloadDir, 'big-labels')], ['sh', '-c', 'echo large; echo second']);
    const theirs = await waitForEntries(ids.docker, 2);
    const ours = await waitForEntries(ids.logfan, 2);
    expect(ours.length).toBe(2);
    expect(normalize(ours, ids.logfan, await containerName(ids.logfan))).toEqual(normalize(theirs, ids.docker, await containerName(ids.docker)));
    expect((ours[0]['BIG4'] as string).length).toBe(60_000);
    expect(ours.map((e) => e['MESSAGE'])).toEqual(['large', 'second']);
    const stopped = logfan.logLines.find((l) => l.msg === 'logging stopped' && l.container === ids.logfan.slice(0, 12)) as
      | { sinks?: { journald?: Record<string, number> } }
      | undefined;
    expect(stopped?.sinks?.journald).toMatchObject({ sent: 2, fdPassed: 2, dropped: 0 });
  });

  it('a bad option value fails docker run with a message naming the option', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--log-opt', 'local-store=false', '--log-opt', 'tag={{.Nope}}'], /invalid log opt tag=.*Nope/],
      [['--log-opt', 'labels-regex=(unclosed'], /labels-regex/],
      [['--log-opt', 'env-regex=[x'], /env-regex/],
      [['--log-opt', 'journald-socket=/x'], /unknown log opt 'journald-socket'/],
    ];
    for (const [opts, message] of cases) {
      const r = await docker(
        ['run', '--rm', '--network', 'none', '-e', 'A=1', '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,journald', ...opts, IMAGE, 'true'],
        { allowFail: true },
      );
      expect(r.code, opts.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('journald not running', () => {
  const ns = `logfan${process.pid}`;
  const nsSocket = `/run/systemd/journal.${ns}/socket`;
  let downLogfan: LogfanProcess;
  let journald: ChildProcess | null = null;

  async function startNamespacedJournald(): Promise<void> {
    journald = spawn(JOURNALD, [ns], { stdio: 'ignore' });
    const end = Date.now() + 30_000;
    while (!fs.existsSync(nsSocket)) {
      if (journald.exitCode !== null) throw new Error(`systemd-journald ${ns} exited with ${journald.exitCode}`);
      if (Date.now() > end) throw new Error(`systemd-journald ${ns} did not create ${nsSocket}`);
      await sleep(50);
    }
  }

  async function stopNamespacedJournald(): Promise<void> {
    const j = journald;
    journald = null;
    if (!j || j.exitCode !== null) return;
    const exited = new Promise<void>((r) => j.once('exit', () => r()));
    j.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (j.exitCode === null && j.signalCode === null) j.kill('SIGKILL');
  }

  beforeAll(async () => {
    downLogfan = await startLogfan(uniqueDriver('logfan-e2e-journald-down'), { LOGFAN_JOURNAL_SOCKET: nsSocket });
  });

  afterAll(async () => {
    await stopNamespacedJournald();
    await downLogfan?.stop();
    const machine = fs.readFileSync('/etc/machine-id', 'utf8').trim();
    for (const dir of [`/run/systemd/journal.${ns}`, `/var/log/journal/${machine}.${ns}`, `/run/log/journal/${machine}.${ns}`]) {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });

  it('containers start, log to json-file and stop promptly; queued entries reach journald once it is up', async () => {
    const opts = ['--log-driver', downLogfan.driver, '--log-opt', 'sinks=json-file,journald', '--log-opt', 'tag=down'];
    // 1. a long-running container whose 30 lines wait in the queue
    const { stdout } = await docker(['run', '-d', '--network', 'none', ...opts, IMAGE, 'sh', '-c', 'i=0; while [ $i -lt 30 ]; do echo "down $i"; i=$((i+1)); done; exec sleep 600']);
    const c1 = stdout.trim();
    containers.push(c1);
    expect((await docker(['inspect', '--format', '{{.State.Running}}', c1])).stdout.trim()).toBe('true');
    const end = Date.now() + 30_000;
    while (!downLogfan.logLines.some((l) => l.msg === 'journald unreachable; entries are queued' && l.container === c1.slice(0, 12))) {
      if (Date.now() > end) throw new Error('no "journald unreachable" warning');
      await sleep(100);
    }
    const warning = downLogfan.logLines.find((l) => l.msg === 'journald unreachable; entries are queued')!;
    expect(warning).toMatchObject({ sink: 'journald', socket: nsSocket });
    expect(String(warning['error'])).toMatch(/ENOENT: no such file/);

    // 2. meanwhile another container logs (json-file) and finishes: its journald close gives up
    //    after 5 s and counts the entries it could not deliver
    const c2 = await runToCompletion([...opts, IMAGE, 'sh', '-c', 'for i in 1 2 3; do echo "other $i"; done']);
    containers.push(c2);
    await downLogfan.waitForStopped(c2, 30_000);
    expect((await dockerLogs([c2])).stdout.toString()).toBe('other 1\nother 2\nother 3\n');
    const c2Stats = downLogfan.logLines.find((l) => l.msg === 'logging stopped' && l.container === c2.slice(0, 12)) as { sinks: { journald: Record<string, number> } };
    expect(c2Stats.sinks.journald).toMatchObject({ sent: 0, droppedAtClose: 3, dropped: 3 });

    // 3. journald comes up: the queue goes through, in order
    await startNamespacedJournald();
    const entries = await waitForEntries(c1, 30, ns);
    expect(entries.map((e) => e['MESSAGE'])).toEqual(Array.from({ length: 30 }, (_, i) => `down ${i}`));
    expect(entries[0]).toMatchObject({ PRIORITY: '6', CONTAINER_TAG: 'down', SYSLOG_IDENTIFIER: 'down', CONTAINER_ID: c1.slice(0, 12) });
    expect(downLogfan.logLines.some((l) => l.msg === 'journald reachable again' && l.container === c1.slice(0, 12))).toBe(true);
    const t0 = Date.now();
    await docker(['stop', '-t', '1', c1]);
    expect(Date.now() - t0).toBeLessThan(15_000);
    await downLogfan.waitForStopped(c1, 30_000);

    // 4. journald stops again (its socket file stays: ECONNREFUSED): a container still starts and
    //    `docker stop` returns promptly
    await stopNamespacedJournald();
    const { stdout: out3 } = await docker(['run', '-d', '--network', 'none', ...opts, IMAGE, 'sh', '-c', 'echo gone; exec sleep 600']);
    const c3 = out3.trim();
    containers.push(c3);
    expect((await docker(['inspect', '--format', '{{.State.Running}}', c3])).stdout.trim()).toBe('true');
    const t1 = Date.now();
    await docker(['stop', '-t', '1', c3]);
    expect(Date.now() - t1).toBeLessThan(15_000);
    await downLogfan.waitForStopped(c3, 30_000);
    expect((await dockerLogs([c3])).stdout.toString()).toBe('gone\n');
    // the warnings were rate-limited, never one per line or per retry
    const warnings = downLogfan.logLines.filter((l) => l.msg === 'journald unreachable; entries are queued');
    expect(warnings.length).toBeLessThan(40);
  });
});
