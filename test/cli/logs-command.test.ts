/**
 * `logfan logs` over stores made here: plain, rotated and gzipped files, partial entries, a corrupt
 * line; tail, since/until in every accepted form, -t, container resolution, argument errors, and
 * -f (the built CLI as a child process) across appends, torn writes and rotations.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDockerTime, parseGoDuration, runLogsCommand } from '../../src/cli/logs-command.js';
import { formatRfc3339NanoUtc, parseRfc3339 } from '../../src/docker/timestamp.js';
import { gzipRotatedFile } from '../../src/sinks/json-file/gzip-rotated.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'dist/cli.js');

interface Entry {
  stream: 'stdout' | 'stderr';
  log: string;
  sec: number;
  nsec: number;
}

function jsonLine(e: Entry): string {
  return JSON.stringify({ log: e.log, stream: e.stream, time: formatRfc3339NanoUtc(e.sec, e.nsec) }) + '\n';
}

function fixedTime(e: Entry): string {
  return new Date(e.sec * 1000).toISOString().slice(0, 19) + '.' + String(e.nsec).padStart(9, '0') + 'Z';
}

function expected(entries: Entry[], timestamps = false): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (const e of entries) {
    const text = (timestamps ? fixedTime(e) + ' ' : '') + e.log;
    if (e.stream === 'stdout') stdout += text;
    else stderr += text;
  }
  return { stdout, stderr };
}

class Capture extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runLogsCommand(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

let root: string;
const BASE_SEC = parseRfc3339('2026-11-29T09:41:14Z').sec;

// Container A: .3.gz, .2.gz, .1 (plain) and the live file, 40 entries, 10 a file.
const ID_A = 'a1'.padEnd(64, '0');
const entriesA: Entry[] = [];
// Container B: only a live file, with a corrupt line in the middle.
const ID_B = 'b2'.padEnd(63, '0') + '1';
const ID_B2 = 'b2'.padEnd(63, '0') + '2';
const entriesB: Entry[] = [];
// Container C: entries relative to now, for durations.
const ID_C = 'c3'.padEnd(64, '7');
let entriesC: Entry[] = [];

function containerDir(id: string): string {
  return path.join(root, 'containers', id);
}

for (let i = 0; i < 40; i++) {
  // nsec: 0 for every 10th entry (stored without fraction), trailing zeros trimmed for others.
  const nsec = i % 10 === 0 ? 0 : i * 10_000_000 + 83_050;
  // entries 17 and 18 are two pieces of one long line, so on the same stream
  const stream = i % 3 === 2 && i !== 17 ? 'stderr' : 'stdout';
  let log = `${stream} line ${i} é ✓\n`;
  if (i === 17) log = 'a partial piece without newline ';
  if (i === 18) log = 'and its end\n';
  if (i === 25) log = 'tab\tand "quotes" and \\ backslash\n';
  entriesA.push({ stream, log, sec: BASE_SEC + i, nsec });
}

for (let i = 0; i < 6; i++) entriesB.push({ stream: i % 2 ? 'stderr' : 'stdout', log: `b${i}\n`, sec: BASE_SEC + 100 + i, nsec: 5 });

beforeAll(async () => {
  root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-logs-test-'));
  const dirA = containerDir(ID_A);
  await fs.promises.mkdir(dirA, { recursive: true });
  const live = path.join(dirA, `${ID_A}-json.log`);
  const chunk = (k: number) => entriesA.slice(k * 10, k * 10 + 10).map(jsonLine).join('');
  await fs.promises.writeFile(live + '.3.gz', zlib.gzipSync(chunk(0)));
  await fs.promises.writeFile(live + '.2.gz', zlib.gzipSync(chunk(1)));
  await fs.promises.writeFile(live + '.1', chunk(2));
  await fs.promises.writeFile(live, chunk(3));

  for (const id of [ID_B, ID_B2]) {
    await fs.promises.mkdir(containerDir(id), { recursive: true });
    const lines = entriesB.map(jsonLine);
    lines.splice(3, 0, '{"log":"torn\n');
    await fs.promises.writeFile(path.join(containerDir(id), `${id}-json.log`), lines.join(''));
  }

  const nowSec = Math.floor(Date.now() / 1000);
  entriesC = [
    { stream: 'stdout', log: 'two hours ago\n', sec: nowSec - 7200, nsec: 0 },
    { stream: 'stdout', log: 'eighty minutes ago\n', sec: nowSec - 4800, nsec: 0 },
    { stream: 'stderr', log: 'thirty minutes ago\n', sec: nowSec - 1800, nsec: 0 },
    { stream: 'stdout', log: 'five minutes ago\n', sec: nowSec - 300, nsec: 0 },
    { stream: 'stdout', log: 'ten seconds ago\n', sec: nowSec - 10, nsec: 0 },
  ];
  await fs.promises.mkdir(containerDir(ID_C), { recursive: true });
  await fs.promises.writeFile(path.join(containerDir(ID_C), `${ID_C}-json.log`), entriesC.map(jsonLine).join(''));
});

afterAll(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

describe('history', () => {
  it('prints every entry, stdout and stderr apart, byte for byte, across gzipped and plain rotated files', async () => {
    const r = await run([ID_A, '--data-root', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected(entriesA).stdout);
    expect(r.stderr).toBe(expected(entriesA).stderr);
    expect(r.stdout).toContain('a partial piece without newline and its end\n');
  });

  it('defaults --data-root to $LOGFAN_DATA_ROOT', async () => {
    const saved = process.env.LOGFAN_DATA_ROOT;
    process.env.LOGFAN_DATA_ROOT = root;
    try {
      const r = await run([ID_A.slice(0, 6)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected(entriesA).stdout);
    } finally {
      if (saved === undefined) delete process.env.LOGFAN_DATA_ROOT;
      else process.env.LOGFAN_DATA_ROOT = saved;
    }
  });

  for (const n of [0, 1, 5, 10, 11, 25, 39, 40, 41, 1000]) {
    it(`--tail ${n}: the last ${n} stored lines, counted across files`, async () => {
      const r = await run([ID_A, '--data-root', root, '--tail', String(n)]);
      const want = expected(n === 0 ? [] : entriesA.slice(-n));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(want.stdout);
      expect(r.stderr).toBe(want.stderr);
    });
  }

  it('--tail all, -n and negative tails mean everything', async () => {
    for (const args of [['--tail', 'all'], ['--tail=-1'], ['-n', '3'], ['-n=-5']]) {
      const r = await run([ID_A, '--data-root', root, ...args]);
      const want = expected(args[0] === '-n' ? entriesA.slice(-3) : entriesA);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(want.stdout);
      expect(r.stderr, args.join(' ')).toBe(want.stderr);
    }
  });

  it('-t prefixes each entry with its time, always with 9 fraction digits', async () => {
    const r = await run([ID_A, '--data-root', root, '-t']);
    expect(r.stdout).toBe(expected(entriesA, true).stdout);
    expect(r.stderr).toBe(expected(entriesA, true).stderr);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('2026-11-29T09:41:14.000000000Z stdout line 0 é ✓');
    expect(lines[1]).toBe('2026-11-29T09:41:15.010083050Z stdout line 1 é ✓');
    for (const line of lines.filter((l) => l !== '')) {
      expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z /);
    }
    const tail = await run([ID_A, '--data-root', root, '--timestamps', '--tail', '2']);
    expect(tail.stdout).toBe('2026-11-29T09:41:53.390083050Z stdout line 39 é ✓\n');
    expect(tail.stderr).toBe('2026-11-29T09:41:52.380083050Z stderr line 38 é ✓\n');
  });

  const t = (i: number) => entriesA[i];
  const sinceCases: Array<[string, string, number]> = [
    // [description, value, index of the first entry shown]
    ['RFC 3339 with Z', '2026-11-29T09:41:34Z', 20],
    ['RFC 3339 with a fraction, exactly an entry', formatRfc3339NanoUtc(t(21).sec, t(21).nsec), 21],
    ['RFC 3339 with a fraction, 1 ns after an entry', `2026-11-29T09:41:35.210083051Z`, 22],
    ['RFC 3339 with an offset', '2026-11-29T10:41:44+01:00', 30],
    ['RFC 3339 with a fraction and an offset', '2026-11-29T04:41:50.5-05:00', 37],
    ['Unix seconds', String(BASE_SEC + 12), 12],
    ['Unix seconds with a fraction', `${BASE_SEC + 12}.13`, 13],
    ['Unix seconds with 9 fraction digits', `${BASE_SEC + 13}.130083050`, 13],
    ['a date (local midnight, always before these entries)', '2026-11-28', 0],
  ];
  for (const [what, value, first] of sinceCases) {
    it(`--since ${what} (${value})`, async () => {
      const r = await run([ID_A, '--data-root', root, '--since', value]);
      const want = expected(entriesA.slice(first));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(want.stdout);
      expect(r.stderr).toBe(want.stderr);
    });
  }

  const untilCases: Array<[string, string, number]> = [
    // [description, value, index of the last entry shown]
    ['RFC 3339 with Z', '2026-11-29T09:41:34Z', 20],
    ['RFC 3339 with a fraction, 1 ns before an entry', `2026-11-29T09:41:35.210083049Z`, 20],
    ['RFC 3339 with an offset', '2026-11-29T11:41:30+02:00', 15],
    ['Unix seconds with a fraction', `${BASE_SEC + 30}.5`, 30],
    ['a date (local midnight, always after these entries)', '2026-12-01', 39],
  ];
  for (const [what, value, last] of untilCases) {
    it(`--until ${what} (${value})`, async () => {
      const r = await run([ID_A, '--data-root', root, '--until', value]);
      const want = expected(entriesA.slice(0, last + 1));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(want.stdout);
      expect(r.stderr).toBe(want.stderr);
    });
  }

  it('--since and --until together, with --tail and -t', async () => {
    const r = await run([ID_A, '--data-root', root, '--since', '2026-11-29T09:41:20Z', '--until', `${BASE_SEC + 34}`, '--tail', '12', '-t']);
    // --tail picks the last 12 stored lines (28..39) first; since/until then keep 28..33.
    const want = expected(entriesA.slice(28, 34), true);
    expect(r.stdout).toBe(want.stdout);
    expect(r.stderr).toBe(want.stderr);
  });

  it('--until 0 means no limit; --since 0 means from the epoch', async () => {
    const r = await run([ID_A, '--data-root', root, '--until', '0', '--since', '0']);
    expect(r.stdout).toBe(expected(entriesA).stdout);
  });

  it('durations are relative to now', async () => {
    const cases: Array<[string[], Entry[]]> = [
      [['--since', '1h'], entriesC.slice(2)],
      [['--since', '1h30m'], entriesC.slice(1)],
      [['--since', '1.5h'], entriesC.slice(1)],
      [['--since', '42s'], entriesC.slice(4)],
      [['--since', '10m'], entriesC.slice(3)],
      [['--until', '10m'], entriesC.slice(0, 3)],
      [['--since', '3h', '--until', '1h'], entriesC.slice(0, 2)],
    ];
    for (const [args, want] of cases) {
      const r = await run([ID_C, '--data-root', root, ...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(expected(want).stdout);
      expect(r.stderr, args.join(' ')).toBe(expected(want).stderr);
    }
  });

  it('skips a line that is not a json-file entry and says so on stderr', async () => {
    const r = await run([ID_B, '--data-root', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected(entriesB).stdout);
    const offset = Buffer.byteLength(entriesB.slice(0, 3).map(jsonLine).join(''));
    expect(r.stderr).toBe(`b1\nb3\nb5\nlogfan logs: skipped a line that is not a json-file entry (${path.join(containerDir(ID_B), `${ID_B}-json.log`)} at byte ${offset})\n`);
  });
});

describe('finding the container', () => {
  it('takes a unique ID prefix, the container directory, or its -json.log file', async () => {
    const want = expected(entriesA);
    for (const arg of ['a', 'a1', ID_A.slice(0, 12), containerDir(ID_A), path.join(containerDir(ID_A), `${ID_A}-json.log`), path.join(containerDir(ID_A), `${ID_A}-json.log.1`)]) {
      const r = await run([arg, '--data-root', root]);
      expect(r.code, arg).toBe(0);
      expect(r.stdout, arg).toBe(want.stdout);
      expect(r.stderr, arg).toBe(want.stderr);
    }
  });

  it('a relative directory path', async () => {
    const cwd = process.cwd();
    process.chdir(path.join(root, 'containers'));
    try {
      const r = await run([`./${ID_A}`, '--data-root', '/nonexistent']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected(entriesA).stdout);
    } finally {
      process.chdir(cwd);
    }
  });

  it('an ambiguous prefix is an error listing the candidates', async () => {
    const r = await run(['b2', '--data-root', root]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("'b2' is ambiguous");
    expect(r.stderr).toContain(ID_B);
    expect(r.stderr).toContain(ID_B2);
  });

  it('a full ID wins even when it prefixes nothing else', async () => {
    const r = await run([ID_B2, '--data-root', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected(entriesB).stdout);
  });

  it('no match is a missing container: exit 1', async () => {
    for (const [arg, dataRoot] of [
      ['ffff', root],
      ['a1', path.join(root, 'nope')],
      ['my-container-name', root],
      [path.join(root, 'containers', 'not-there'), root],
    ]) {
      const r = await run([arg, '--data-root', dataRoot]);
      expect(r.code, arg).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr, arg).toMatch(/^logfan logs: no such container: /);
    }
  });
});

describe('bad arguments: exit 2 with a message', () => {
  const cases: string[][] = [
    [],
    [ID_A, ID_B],
    [ID_A, '--tail', 'ten'],
    [ID_A, '--tail', '1.5'],
    [ID_A, '--since', 'yesterday'],
    [ID_A, '--since', '2026-13-01'],
    [ID_A, '--since', '2026-02-30T00:00:00Z'],
    [ID_A, '--since', '2026-11-29T25:00:00Z'],
    [ID_A, '--since', '2026-11-29T09:41:14z'],
    [ID_A, '--since', '10x'],
    [ID_A, '--until', '.5'],
    [ID_A, '--until', '-5'],
    [ID_A, '--until=-5'],
    [ID_A, '--since=2026-11-29T09:41:14.Z'],
    [ID_A, '--details'],
    [ID_A, '--tail'],
  ];
  for (const args of cases) {
    it(`logfan logs ${args.join(' ')}`, async () => {
      const r = await run(['--data-root', root, ...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^logfan logs: \S/);
      expect(r.stderr).toContain("logfan logs --help");
    });
  }

  it('--help prints the usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--since T');
  });
});

describe('time arguments as the docker CLI reads them', () => {
  const NOW = Date.UTC(2026, 10, 29, 12, 0, 0, 750); // 2026-11-29T12:00:00.750Z
  const at = (text: string) => parseRfc3339(text);
  const cases: Array<[string, { sec: number; nsec: number }, number?]> = [
    ['2026-11-29T09:41:14Z', at('2026-11-29T09:41:14Z')],
    ['2026-11-29T09:41:14.157083050Z', at('2026-11-29T09:41:14.157083050Z')],
    ['2026-11-29T09:41:14.1234567891Z', { sec: at('2026-11-29T09:41:14Z').sec, nsec: 123456789 }],
    ['2026-11-29T10:41:14.5+01:00', at('2026-11-29T09:41:14.5Z')],
    ['2026-11-29T04:41:14-05:00', at('2026-11-29T09:41:14Z')],
    ['2026-11-29T09:41Z', at('2026-11-29T09:41:00Z')],
    ['2026-11-29T09Z', at('2026-11-29T09:00:00Z')],
    ['2026-11-29Z', at('2026-11-29T00:00:00Z')],
    ['2026-11-29+02:00', at('2026-11-28T22:00:00Z')],
    // Without an offset: the local zone (given here as UTC+1 and UTC-5).
    ['2026-11-29', at('2026-11-28T23:00:00Z'), 3600],
    ['2026-11-29', at('2026-11-29T05:00:00Z'), -5 * 3600],
    ['2026-11-29T09:41:14', at('2026-11-29T14:41:14Z'), -5 * 3600],
    ['2026-11-29T09:41:14.25', at('2026-11-29T08:41:14.25Z'), 3600],
    ['2026-11-29T09:41', at('2026-11-29T09:41:00Z'), 0],
    ['2026-11-29T09', at('2026-11-29T09:00:00Z'), 0],
    ['1764403200', { sec: 1764403200, nsec: 0 }],
    ['1764403200.5', { sec: 1764403200, nsec: 500_000_000 }],
    ['1764403200.000000001', { sec: 1764403200, nsec: 1 }],
    ['1764403200.1234567891', { sec: 1764403200, nsec: 123456789 }],
    ['0', { sec: 0, nsec: 0 }],
    // Durations: whole seconds before now, floored.
    ['10m', { sec: Math.floor(NOW / 1000) - 600, nsec: 0 }],
    ['1h30m', { sec: Math.floor(NOW / 1000) - 5400, nsec: 0 }],
    ['1.5h', { sec: Math.floor(NOW / 1000) - 5400, nsec: 0 }],
    ['42s', { sec: Math.floor(NOW / 1000) - 42, nsec: 0 }],
    ['500ms', { sec: Math.floor(NOW / 1000), nsec: 0 }],
    ['1500ms', { sec: Math.floor(NOW / 1000) - 1, nsec: 0 }],
    ['-1m', { sec: Math.floor(NOW / 1000) + 60, nsec: 0 }],
  ];
  for (const [value, want, offset] of cases) {
    it(`${value}${offset !== undefined ? ` (local offset ${offset}s)` : ''}`, () => {
      expect(parseDockerTime(value, NOW, offset ?? 0)).toEqual(want);
    });
  }

  it('rejects what the docker CLI rejects', () => {
    for (const value of ['', 'yesterday', '2026-13-01', '2026-11-31', '2026-11-29T24:00:00Z', '2026-11-29T09:60Z', '2026-11-29 09:41:14Z', '26-11-29', '10x', '.5', '5.', 'h', '2026-11-29T09:41:14z']) {
      expect(() => parseDockerTime(value, NOW, 0), value).toThrow(/invalid time/);
    }
  });

  it('Go durations', () => {
    expect(parseGoDuration('1h30m')).toBe(5400_000_000_000n);
    expect(parseGoDuration('1.5h')).toBe(5400_000_000_000n);
    expect(parseGoDuration('.5s')).toBe(500_000_000n);
    expect(parseGoDuration('1.s')).toBe(1_000_000_000n);
    expect(parseGoDuration('2h45m30.5s')).toBe(9930_500_000_000n);
    expect(parseGoDuration('1µs')).toBe(1000n);
    expect(parseGoDuration('-3ns')).toBe(-3n);
    expect(parseGoDuration('0')).toBe(0n);
    for (const bad of ['', '1', '.s', '1d', '3e5s', '9999999999999999999h']) expect(() => parseGoDuration(bad), bad).toThrow();
  });
});

describe('-f (the built CLI as a child process)', () => {
  const ID = 'f0'.padEnd(64, 'e');
  let dir: string;
  let live: string;
  let child: ChildProcess | null = null;
  let out = '';
  let err = '';
  let n = 0;
  const all: Entry[] = [];

  function next(stream: 'stdout' | 'stderr' = 'stdout'): Entry {
    const e: Entry = { stream, log: `follow ${n} ${'x'.repeat(n % 7)}\n`, sec: BASE_SEC + 1000 + n, nsec: (n * 7919) % 1_000_000_000 };
    n++;
    all.push(e);
    return e;
  }

  function lines(count: number, stream?: 'stdout' | 'stderr'): string {
    let s = '';
    for (let i = 0; i < count; i++) s += jsonLine(next(stream ?? (n % 4 === 3 ? 'stderr' : 'stdout')));
    return s;
  }

  async function waitFor(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stdout so far:\n${out}\nstderr so far:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const want = () => expected(all);
  const caughtUp = () => out === want().stdout && err === want().stderr;

  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
    dir = containerDir(ID);
    live = path.join(dir, `${ID}-json.log`);
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.writeFile(live + '.1', lines(5));
    await fs.promises.writeFile(live, lines(5));
  });

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints the history, then appended lines, torn writes whole, across rotations, until SIGTERM', async () => {
    child = spawn(process.execPath, [CLI, 'logs', '-f', ID.slice(0, 10), '--data-root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    await waitFor(caughtUp, 'the history');

    // Appends.
    await fs.promises.appendFile(live, lines(3));
    await waitFor(caughtUp, 'appended lines');

    // A line written in two parts, 400 ms apart (more than a poll).
    const torn = jsonLine(next('stderr'));
    await fs.promises.appendFile(live, torn.slice(0, 20));
    await new Promise((r) => setTimeout(r, 400));
    expect(err).not.toContain('follow ' + (n - 1));
    await fs.promises.appendFile(live, torn.slice(20));
    await waitFor(caughtUp, 'the torn line');

    // A rotation as the writer does it: shift, rename, new live file.
    await fs.promises.appendFile(live, lines(2)); // may or may not be read before the rename
    await fs.promises.rename(live + '.1', live + '.2');
    await fs.promises.rename(live, live + '.1');
    await fs.promises.writeFile(live, lines(4));
    await waitFor(caughtUp, 'the first rotation');

    // Two rotations between two polls, the first file then gzipped: the one in the middle must
    // not be skipped.
    await fs.promises.appendFile(live, lines(2));
    const lastOfOld = all[all.length - 1];
    await fs.promises.rm(live + '.2');
    await fs.promises.rename(live + '.1', live + '.2');
    await fs.promises.rename(live, live + '.1');
    await fs.promises.writeFile(live, lines(3));
    await gzipRotatedFile(live + '.1', formatRfc3339NanoUtc(lastOfOld.sec, lastOfOld.nsec));
    const lastOfMiddle = all[all.length - 1];
    await fs.promises.rm(live + '.2');
    await fs.promises.rename(live + '.1.gz', live + '.2.gz');
    await fs.promises.rename(live, live + '.1');
    await fs.promises.writeFile(live, lines(2));
    await gzipRotatedFile(live + '.1', formatRfc3339NanoUtc(lastOfMiddle.sec, lastOfMiddle.nsec));
    await fs.promises.appendFile(live, lines(2));
    await waitFor(caughtUp, 'two quick rotations');

    // And the same with plain rotated files.
    await fs.promises.rename(live + '.1.gz', live + '.2.gz');
    await fs.promises.rename(live, live + '.1');
    await fs.promises.writeFile(live, lines(3));
    await fs.promises.rm(live + '.2.gz');
    await fs.promises.rename(live + '.1', live + '.2');
    await fs.promises.rename(live, live + '.1');
    await fs.promises.writeFile(live, lines(3));
    await waitFor(caughtUp, 'two quick plain rotations');

    await new Promise((r) => setTimeout(r, 600));
    expect(out).toBe(want().stdout);
    expect(err).toBe(want().stderr);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toBe(want().stdout);
    expect(err).toBe(want().stderr);
  });

  it('-f --tail 2 -t prints the last two lines, then follows; SIGINT stops it', async () => {
    let o = '';
    const c = spawn(process.execPath, [CLI, 'logs', '-f', '--tail', '2', '-t', live, '--data-root', '/nonexistent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.setEncoding('utf8').on('data', (s: string) => (o += s));
    const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
    const tail = all.slice(-2);
    const before = n;
    const want1 = expected(tail, true).stdout;
    const end = Date.now() + 10_000;
    while (o !== want1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(o).toBe(want1);
    await fs.promises.appendFile(live, lines(3, 'stdout'));
    const want2 = want1 + expected(all.slice(before), true).stdout;
    while (o !== want2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(o).toBe(want2);
    c.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  for (const [what, until, last] of [
    ['a line after it is in the history', '2026-11-29T09:41:20Z', 5],
    ['the whole history is before it', `${BASE_SEC + 100}`, 39],
  ] as const) {
    it(`-f --until in the past (${what}) prints the history and stops`, async () => {
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [CLI, 'logs', '-f', '--until', until, ID_A, '--data-root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
        let o = '';
        let e = '';
        c.stdout!.setEncoding('utf8').on('data', (s: string) => (o += s));
        c.stderr!.setEncoding('utf8').on('data', (s: string) => (e += s));
        c.once('exit', (code) => resolve({ code, stdout: o, stderr: e }));
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected(entriesA.slice(0, last + 1)).stdout);
      expect(r.stderr).toBe(expected(entriesA.slice(0, last + 1)).stderr);
    });
  }
});
