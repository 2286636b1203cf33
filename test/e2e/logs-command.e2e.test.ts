/**
 * `logfan logs` (reading the store directly, no daemon involved) against `docker logs` (the
 * daemon asking logfan's ReadLogs, cache-disabled=true) for the same container: the same bytes on
 * stdout and on stderr, with rotated files, for no options, --tail, -t and --since; and -f
 * following a running container through rotations made by logfan's own writer.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, IMAGE, docker, dockerLogs, removeContainers, requireDocker, runToCompletion, sleep, startLogfan, type LogfanProcess } from './harness.js';

const run = promisify(execFile);
const DRIVER = 'logfan-e2e-logscmd';
let logfan: LogfanProcess;
const containers: string[] = [];

beforeAll(async () => {
  await requireDocker();
  logfan = await startLogfan(DRIVER);
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
});

async function logfanLogs(args: string[]): Promise<{ stdout: Buffer; stderr: Buffer }> {
  const { stdout, stderr } = await run(process.execPath, [CLI, 'logs', ...args, '--data-root', logfan.dataRoot], { maxBuffer: 256 * 1024 * 1024, encoding: 'buffer' });
  return { stdout, stderr };
}

async function expectSame(id: string, args: string[]): Promise<void> {
  const [theirs, ours] = await Promise.all([dockerLogs([...args, id]), logfanLogs([...args, id])]);
  const label = `logs ${args.join(' ')}`;
  expect(ours.stdout.toString('latin1'), `${label} (stdout: ${ours.stdout.length} vs ${theirs.stdout.length} bytes)`).toBe(theirs.stdout.toString('latin1'));
  expect(ours.stderr.toString('latin1'), `${label} (stderr: ${ours.stderr.length} vs ${theirs.stderr.length} bytes)`).toBe(theirs.stderr.toString('latin1'));
}

// A few hundred lines on stdout, some on stderr, a line the daemon splits into 16 KiB pieces,
// escapes, and a last line without a newline.
const SCRIPT = [
  'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "out line $i"; [ $((i % 25)) -eq 0 ] && echo "err line $i" >&2; done',
  'sleep 0.2',
  'seq 1 40 >&2',
  'sleep 0.2',
  'seq 301 360',
  'sleep 0.2',
  "head -c 20000 /dev/zero | tr '\\0' y; echo",
  "printf 'tab\\there <&> \\\\ \"q\" \\303\\251\\n'",
  'sleep 0.2',
  'seq 41 70 >&2',
  'sleep 0.2',
  "printf 'no final newline'",
].join('; ');

describe('logfan logs = docker logs (max-size=5k max-file=3)', () => {
  let id: string;
  let times: string[];

  beforeAll(async () => {
    id = await runToCompletion(['--log-driver', DRIVER, '--log-opt', 'cache-disabled=true', '--log-opt', 'max-size=5k', '--log-opt', 'max-file=3', IMAGE, 'sh', '-c', SCRIPT]);
    containers.push(id);
    await logfan.waitForStopped(id);
    const t = await dockerLogs(['-t', id]);
    times = t.stdout
      .toString('latin1')
      .split('\n')
      .filter((l) => /^\d{4}-/.test(l))
      .map((l) => l.slice(0, l.indexOf(' ')));
  });

  it('no options', async () => {
    await expectSame(id, []);
    // The store did rotate, and what is left is not trivial: the split line, the last line.
    expect(fs.readdirSync(path.dirname(logfan.jsonLogPath(id))).length).toBe(3);
    const both = await logfanLogs([id]);
    expect(both.stderr.toString('utf8')).toContain('\n70\n');
    const ours = both.stdout.toString('utf8');
    expect(ours).toContain('y'.repeat(20000) + '\n');
    expect(ours).toContain('tab\there <&> \\ "q" é\n');
    expect(ours.endsWith('\nno final newline')).toBe(true);
  });

  it('--tail 5', async () => {
    await expectSame(id, ['--tail', '5']);
  });

  it('-t --tail 3', async () => {
    await expectSame(id, ['-t', '--tail', '3']);
  });

  it('--since <time of a stored line>', async () => {
    expect(times.length).toBeGreaterThan(20);
    for (const since of [times[Math.floor(times.length / 2)], times[3], times[times.length - 2]]) {
      await expectSame(id, ['--since', since]);
    }
  });

  it('a 12-character ID prefix, and more options together', async () => {
    const short = id.slice(0, 12);
    const [theirs, ours] = await Promise.all([dockerLogs(['-t', '--tail', '40', '--until', times[times.length - 5], id]), logfanLogs(['-t', '--tail', '40', '--until', times[times.length - 5], short])]);
    expect(ours.stdout.toString('latin1')).toBe(theirs.stdout.toString('latin1'));
    expect(ours.stderr.toString('latin1')).toBe(theirs.stderr.toString('latin1'));
  });
});

describe('logfan logs -f on a running container', () => {
  it('prints what docker logs prints once the container is done, across rotations, no line lost or repeated', async () => {
    const { stdout } = await docker(['run', '-d', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'cache-disabled=true', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=5',
      IMAGE, 'sh', '-c', 'sleep 1; i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line-$i; [ $((i % 10)) -eq 0 ] && echo err-$i >&2; [ $((i % 40)) -eq 0 ] && sleep 0.1; done']);
    const id = stdout.trim();
    containers.push(id);
    // The container's directory appears when logging starts.
    const follower = spawn(process.execPath, [CLI, 'logs', '-f', id, '--data-root', logfan.dataRoot], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    follower.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    follower.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const exited = new Promise<number | null>((resolve) => follower.once('exit', (code) => resolve(code)));
    await docker(['wait', id]);
    await logfan.waitForStopped(id);
    await sleep(1000);
    follower.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out.trim().split('\n')).toEqual(Array.from({ length: 400 }, (_, i) => `line-${i + 1}`));
    expect(err.trim().split('\n')).toEqual(Array.from({ length: 40 }, (_, i) => `err-${(i + 1) * 10}`));
  });
});
