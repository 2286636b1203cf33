/**
 * The journald and syslog sinks from inside the managed plugin (`node plugin/build.mjs --install`,
 * as `npm run plugin:install` does): a real container logs through the plugin to the standalone
 * systemd-journald (the plugin bind-mounts the host's /run/systemd/journal, see config.json) and,
 * over tcp, to a private rsyslogd. The entries must carry the fields Docker's own journald driver
 * writes, checked against that driver for the same container command. The sidecar side of the
 * same sinks is covered by journald.e2e.test.ts and syslog.e2e.test.ts.
 *
 * Nothing is skipped: no daemon, no journald or no rsyslogd makes the tests fail.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, REPO, docker, removeContainers, requireDocker, runToCompletion, sleep, uniqueDriver } from './harness.js';
import { freePort, canConnect } from '../net-helpers.js';
import { JOURNALD, JOURNAL_SOCKET, ensureJournald } from './journald-peer.js';

const run = promisify(execFile);
const RSYSLOGD = '/usr/sbin/rsyslogd';
const NAME = uniqueDriver('logfan-e2e-managed-journald');

let dir: string;
let rsyslog: ChildProcess | null = null;
let rsyslogPort = 0;
let pluginInstalled = false;
const containers: string[] = [];

type JournalValue = string | number[] | null | Array<string | number[] | null>;
type JournalEntry = Record<string, JournalValue>;

/** `journalctl -o json -a` for some matches; only the fields a client sends (no `_`/`__` ones). */
async function journalEntries(matches: string[]): Promise<JournalEntry[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('journalctl', ['-o', 'json', '-a', '--no-pager', ...matches], { maxBuffer: 256 * 1024 * 1024 }));
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

async function waitForEntries(id: string, count: number, timeoutMs = 60_000): Promise<JournalEntry[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const entries = await journalEntries([`CONTAINER_ID_FULL=${id}`]);
    if (entries.length >= count) return entries;
    if (Date.now() > end) throw new Error(`journal has ${entries.length} of ${count} entries for ${id.slice(0, 12)}`);
    await sleep(200);
  }
}

/** Fails unless journald takes an entry on its socket and journalctl shows it. */
async function requireJournald(): Promise<void> {
  await ensureJournald();
  const probe = `logfan-e2e-probe-${crypto.randomBytes(6).toString('hex')}`;
  await run('systemd-cat', ['-t', probe, 'echo', 'probe']);
  const end = Date.now() + 30_000;
  while ((await journalEntries([`SYSLOG_IDENTIFIER=${probe}`])).length === 0) {
    if (Date.now() > end) throw new Error(`systemd-journald is not reachable: an entry sent to ${JOURNAL_SOCKET} never showed in journalctl`);
    await sleep(200);
  }
}

/** A private rsyslogd: one imptcp input, every message's raw bytes into <dir>/syslog.log. */
async function startRsyslog(): Promise<void> {
  const work = path.join(dir, 'rsyslog-work');
  fs.mkdirSync(work, { recursive: true });
  rsyslogPort = await freePort();
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(
    conf,
    [
      `global(workDirectory="${work}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")`,
      'module(load="imptcp")',
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `ruleset(name="r") { action(type="omfile" file="${path.join(dir, 'syslog.log')}" template="raw") }`,
      `input(type="imptcp" address="127.0.0.1" port="${rsyslogPort}" ruleset="r")`,
    ].join('\n') + '\n',
  );
  let output = '';
  const child = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  rsyslog = child;
  const end = Date.now() + 30_000;
  while (!(await canConnect(rsyslogPort))) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}: ${output}`);
    if (Date.now() > end) throw new Error(`rsyslogd is not listening on ${rsyslogPort}: ${output}`);
    await sleep(100);
  }
}

function syslogLines(): string[] {
  const file = path.join(dir, 'syslog.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function removePlugin(): Promise<void> {
  await docker(['plugin', 'disable', '-f', NAME], { allowFail: true });
  await docker(['plugin', 'rm', '-f', NAME], { allowFail: true });
}

async function containerName(id: string): Promise<string> {
  const { stdout } = await docker(['inspect', '--format', '{{.Name}}', id]);
  return stdout.trim().replace(/^\//, '');
}

/** Checks and masks what legitimately differs between two containers. */
function normalize(entries: JournalEntry[], id: string, name: string): JournalEntry[] {
  return entries.map((e) => {
    expect(e['CONTAINER_ID_FULL']).toBe(id);
    expect(e['CONTAINER_ID']).toBe(id.slice(0, 12));
    expect(e['CONTAINER_NAME']).toBe(name);
    const o: JournalEntry = { ...e, CONTAINER_ID_FULL: '<id>', CONTAINER_ID: '<id12>', CONTAINER_NAME: '<name>' };
    for (const k of ['CONTAINER_TAG', 'SYSLOG_IDENTIFIER']) {
      if (typeof o[k] === 'string') o[k] = (o[k] as string).replaceAll(id.slice(0, 12), '<id12>');
    }
    return o;
  });
}

function byPriority(entries: JournalEntry[]): Record<string, JournalEntry[]> {
  const out: Record<string, JournalEntry[]> = {};
  for (const e of entries) (out[String(e['PRIORITY'])] ??= []).push(e);
  return out;
}

beforeAll(async () => {
  await requireDocker();
  await requireJournald();
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-managed-journald-'));
  await startRsyslog();
  await removePlugin();
  // journald's socket directory must be there before enable: the plugin bind-mounts it
  await run(process.execPath, [path.join(REPO, 'plugin/build.mjs'), '--install', '--name', NAME, '--data-root', path.join(dir, 'data'), '--out', path.join(dir, 'bundle')]);
  pluginInstalled = true;
}, 300_000);

afterAll(async () => {
  await removeContainers(containers);
  if (pluginInstalled) await removePlugin();
  if (rsyslog && rsyslog.exitCode === null) {
    const r = rsyslog;
    const exited = new Promise<void>((resolve) => r.once('exit', () => resolve()));
    r.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
  }
  if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
  const left = await docker(['plugin', 'ls', '--format', '{{.Name}}'], { allowFail: true });
  expect(left.stdout.split('\n')).not.toContain(`${NAME}:latest`);
}, 60_000);

describe('journald and syslog sinks in the managed plugin', () => {
  it('the plugin is enabled and sees the host journal socket through its mount', async () => {
    const { stdout } = await docker(['plugin', 'inspect', '--format', '{{.Enabled}} {{range .Config.Mounts}}{{.Source}}:{{.Destination}} {{end}}', NAME]);
    expect(stdout.trim()).toMatch(/^true /);
    expect(stdout).toContain('/run/systemd/journal:/run/systemd/journal');
  });

  it('sinks=journald,syslog: the same journal fields as Docker\'s journald driver, and the lines in rsyslog over tcp', async () => {
    const marker = `managed-${process.pid}-${Date.now()}`;
    const command = ['sh', '-c', `echo "${marker} out 1"; echo "${marker} err" >&2; echo "${marker} out 2"`];
    const common = ['--label', 'team=core', '-e', 'APP_MODE=prod', '--log-opt', 'labels=team', '--log-opt', 'env=APP_MODE'];
    const ours = await runToCompletion([
      '--log-driver', NAME,
      '--log-opt', 'sinks=journald,syslog',
      '--log-opt', `syslog-address=tcp://127.0.0.1:${rsyslogPort}`,
      ...common,
      IMAGE, ...command,
    ]);
    containers.push(ours);
    const theirs = await runToCompletion(['--log-driver', 'journald', ...common, IMAGE, ...command]);
    containers.push(theirs);

    const entries = await waitForEntries(ours, 3);
    expect(entries.length).toBe(3);
    const o = byPriority(entries);
    expect(o['6'].map((e) => e['MESSAGE'])).toEqual([`${marker} out 1`, `${marker} out 2`]);
    expect(o['3'].map((e) => e['MESSAGE'])).toEqual([`${marker} err`]);
    expect(o['6'][0]).toMatchObject({
      PRIORITY: '6',
      CONTAINER_ID: ours.slice(0, 12),
      CONTAINER_ID_FULL: ours,
      CONTAINER_NAME: await containerName(ours),
      CONTAINER_TAG: ours.slice(0, 12),
      SYSLOG_IDENTIFIER: ours.slice(0, 12),
      IMAGE_NAME: IMAGE,
      TEAM: 'core',
      APP_MODE: 'prod',
    });
    // the same entries as Docker's own driver wrote for the same container command
    const reference = await waitForEntries(theirs, 3);
    expect(byPriority(normalize(entries, ours, await containerName(ours)))).toEqual(byPriority(normalize(reference, theirs, await containerName(theirs))));

    // syslog, Docker's default format (facility daemon: <30> stdout, <27> stderr), tag = short ID
    const end = Date.now() + 30_000;
    while (syslogLines().filter((l) => l.includes(marker)).length < 3) {
      if (Date.now() > end) throw new Error(`rsyslog got: ${JSON.stringify(syslogLines())}`);
      await sleep(100);
    }
    const lines = syslogLines().filter((l) => l.includes(marker));
    const id12 = ours.slice(0, 12);
    expect(lines).toHaveLength(3);
    const re = (pri: number, msg: string) => new RegExp(`^<${pri}>\\w{3} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} ${id12}\\[\\d+\\]: ${msg}$`);
    expect(lines.find((l) => l.endsWith('out 1'))).toMatch(re(30, `${marker} out 1`));
    expect(lines.find((l) => l.endsWith('out 2'))).toMatch(re(30, `${marker} out 2`));
    expect(lines.find((l) => l.endsWith(' err'))).toMatch(re(27, `${marker} err`));
  });

  it('5,000 lines arrive whole and in order in the journal (journald\'s queue fills and drains)', async () => {
    const n = 5000;
    const id = await runToCompletion(['--log-driver', NAME, '--log-opt', 'sinks=journald', '--log-opt', 'tag=managed-bulk', IMAGE, 'sh', '-c', `seq 1 ${n} | sed 's/^/bulk line /'`]);
    containers.push(id);
    const entries = await waitForEntries(id, n);
    expect(entries.length).toBe(n);
    expect(entries.map((e) => e['MESSAGE'])).toEqual(Array.from({ length: n }, (_, i) => `bulk line ${i + 1}`));
    expect(new Set(entries.map((e) => `${e['CONTAINER_TAG']} ${e['SYSLOG_IDENTIFIER']} ${e['PRIORITY']}`))).toEqual(new Set(['managed-bulk managed-bulk 6']));
  });
});
