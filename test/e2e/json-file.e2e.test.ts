/**
 * Differential tests against the real daemon: the same container command through Docker's
 * built-in json-file driver and through logfan must leave the same bytes on disk (time values
 * aside), the same rotated file names, and the same refusals for bad options.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMAGE,
  docker,
  dockerDataRoot,
  normalizeTimes,
  removeContainers,
  requireDocker,
  runToCompletion,
  startLogfan,
  type LogfanProcess,
  uniqueDriver,
} from './harness.js';

const DRIVER = uniqueDriver('logfan-e2e');
let logfan: LogfanProcess;
let dockerRoot: string;
const containers: string[] = [];

beforeAll(async () => {
  await requireDocker();
  dockerRoot = await dockerDataRoot();
  logfan = await startLogfan(DRIVER);
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
});

function dockerJsonLog(id: string): string {
  return path.join(dockerRoot, 'containers', id, `${id}-json.log`);
}

/** Lines that exercise every escaping rule, in a payload of `total` lines. */
function payload(total: number, tagPrefix: string): Buffer {
  const specials: Buffer[] = [
    Buffer.from('tab\there\tand\ttabs'),
    Buffer.from('<a href="x?a=1&b=2">quote " backslash \\ </a>'),
    Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x7a]),
    Buffer.from('separators \u2028 and \u2029 end'),
    Buffer.from(''),
    Buffer.from('controls \x01\x02\x08\x0c\x1b[31mred\x1b[0m \x7f del'),
    Buffer.from('carriage\rreturn\r'),
    Buffer.from('utf8 é 日本語 😀 \ufffd ok'),
    Buffer.from(''),
    Buffer.from('{"json":"inside","n":1}'),
  ];
  const parts: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    if (i % 1000 < specials.length) parts.push(specials[i % 1000]);
    else parts.push(Buffer.from(`${tagPrefix} line ${i} lorem ipsum dolor sit amet`));
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

function byStream(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = { stdout: [], stderr: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /"stream":"(stdout|stderr)"/.exec(line);
    if (!m) throw new Error(`line without stream: ${line.slice(0, 200)}`);
    out[m[1]].push(line);
  }
  return out;
}

describe('json-file, differential against Docker', () => {
  it('writes the same bytes as Docker for 100,000 lines of hostile output', async () => {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-payload-'));
    const longLine = Buffer.alloc(40_000, 'x');
    longLine.write('begin-of-long-line', 0);
    longLine.write('end', 40_000 - 3);
    const out = Buffer.concat([payload(90_000, 'out'), longLine, Buffer.from('\n'), Buffer.from('stdout without final newline')]);
    const err = Buffer.concat([payload(9_998, 'err'), Buffer.from('stderr without final newline')]);
    await fs.promises.writeFile(path.join(dir, 'out.bin'), out);
    await fs.promises.writeFile(path.join(dir, 'err.bin'), err);

    const common = [
      '-v', `${dir}:/data:ro`,
      '--label', 'app=web',
      '--label', 'quote=a"b<c>&d',
      '--label', 'unused=1',
      '-e', 'FOO=bar',
      '-e', 'TRACE_ID=t\u00e9',
      '--log-opt', 'labels=app,quote,missing',
      '--log-opt', 'env=FOO',
      '--log-opt', 'env-regex=^TRACE',
      '--log-opt', 'tag={{.ImageName}}|{{upper .DaemonName}}|{{.Command}}',
      // ~30 MB with these attrs: above logfan's default rotation, so set one size for both.
      '--log-opt', 'max-size=1g',
      IMAGE, 'sh', '-c', 'cat /data/out.bin; cat /data/err.bin >&2',
    ];
    const builtin = await runToCompletion(['--log-driver', 'json-file', ...common]);
    const ours = await runToCompletion(['--log-driver', DRIVER, ...common]);
    containers.push(builtin, ours);
    await logfan.waitForStopped(ours);

    const expected = normalizeTimes(await fs.promises.readFile(dockerJsonLog(builtin), 'utf8'));
    const actual = normalizeTimes(await fs.promises.readFile(logfan.jsonLogPath(ours), 'utf8'));
    const e = byStream(expected);
    const a = byStream(actual);
    // 90,000 + 3 pieces of the long line + the unterminated line on stdout.
    expect(e.stdout.length).toBe(90_000 + 3 + 1);
    expect(e.stderr.length).toBe(9_998 + 1);
    expect(a.stdout.length).toBe(e.stdout.length);
    expect(a.stderr.length).toBe(e.stderr.length);
    for (const stream of ['stdout', 'stderr'] as const) {
      for (let i = 0; i < e[stream].length; i++) {
        if (a[stream][i] !== e[stream][i]) {
          expect.fail(`${stream} line ${i} differs:\n docker: ${e[stream][i].slice(0, 300)}\n logfan: ${a[stream][i].slice(0, 300)}`);
        }
      }
    }
    // And the raw files, byte for byte, once times are masked and streams are in the same order.
    expect(Buffer.byteLength(actual)).toBe(Buffer.byteLength(expected));
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('rotates with max-size=10k max-file=3 compress=true into the same file names, losing and repeating nothing', async () => {
    const opts = ['--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true'];
    const cmd = [IMAGE, 'sh', '-c', 'seq 1 3000'];
    const builtin = await runToCompletion(['--log-driver', 'json-file', ...opts, ...cmd]);
    const ours = await runToCompletion(['--log-driver', DRIVER, ...opts, ...cmd]);
    containers.push(builtin, ours);
    await logfan.waitForStopped(ours);

    const dockerDir = path.dirname(dockerJsonLog(builtin));
    const ourDir = path.dirname(logfan.jsonLogPath(ours));
    // Docker compresses in the background too: wait until neither has an uncompressed .1 left.
    await waitFor(() => !fs.existsSync(path.join(dockerDir, `${builtin}-json.log.1`)) && !fs.existsSync(path.join(ourDir, `${ours}-json.log.1`)));
    const names = (dir: string, id: string) =>
      fs.readdirSync(dir).filter((n) => n.startsWith(id)).map((n) => n.replace(id, 'ID')).sort();
    expect(names(ourDir, ours)).toEqual(names(dockerDir, builtin));
    expect(names(ourDir, ours)).toEqual(['ID-json.log', 'ID-json.log.1.gz', 'ID-json.log.2.gz']);

    for (const [dir, id] of [[dockerDir, builtin], [ourDir, ours]] as const) {
      const base = path.join(dir, `${id}-json.log`);
      const text = [zlib.gunzipSync(fs.readFileSync(base + '.2.gz')), zlib.gunzipSync(fs.readFileSync(base + '.1.gz')), fs.readFileSync(base)]
        .map((b) => b.toString('utf8'))
        .join('');
      const numbers = text.split('\n').filter(Boolean).map((l) => Number((JSON.parse(l) as { log: string }).log.trim()));
      // The newest lines, in order, none lost or repeated at a rotation.
      expect(numbers[numbers.length - 1]).toBe(3000);
      for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe(numbers[i - 1] + 1);
      expect(numbers.length).toBeGreaterThan(200);
    }

    // The gzip member carries Docker's header: FEXTRA with {"lastTime": ...}, MTIME 0, OS 255.
    const header = (file: string) => {
      const b = fs.readFileSync(file);
      const xlen = b.readUInt16LE(10);
      return { fixed: b.subarray(0, 10).toString('hex'), extraKeys: Object.keys(JSON.parse(b.subarray(12, 12 + xlen).toString())) };
    };
    expect(header(path.join(ourDir, `${ours}-json.log.1.gz`))).toEqual(header(path.join(dockerDir, `${builtin}-json.log.1.gz`)));
  });

  it('names files like Docker with max-file=1', async () => {
    const opts = ['--log-opt', 'max-size=2k', '--log-opt', 'max-file=1'];
    const cmd = [IMAGE, 'sh', '-c', 'seq 1 500'];
    const builtin = await runToCompletion(['--log-driver', 'json-file', ...opts, ...cmd]);
    // The daemon's dual-logging cache would read max-file=1 too and refuse it with its own
    // compress default (moby#45668): keep the cache out of this comparison.
    const ours = await runToCompletion(['--log-driver', DRIVER, '--log-opt', 'cache-disabled=true', ...opts, ...cmd]);
    containers.push(builtin, ours);
    await logfan.waitForStopped(ours);
    const names = (dir: string, id: string) =>
      fs.readdirSync(dir).filter((n) => n.startsWith(id)).map((n) => n.replace(id, 'ID')).sort();
    expect(names(path.dirname(logfan.jsonLogPath(ours)), ours)).toEqual(names(path.dirname(dockerJsonLog(builtin)), builtin));
    const last = fs.readFileSync(logfan.jsonLogPath(ours), 'utf8').trim().split('\n').pop()!;
    expect(JSON.parse(last).log).toBe('500\n');
  });
});

describe('bad options fail docker run with logfan\'s message', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--log-opt', 'max-size=abc'], /max-size.*invalid size: 'abc'/],
    [['--log-opt', 'max-file=0'], /max-file.*cannot be less than 1/],
    [['--log-opt', 'compress=maybe'], /compress.*ParseBool/],
    [['--log-opt', 'max-file=1', '--log-opt', 'max-size=1m', '--log-opt', 'compress=true'], /compress cannot be true/],
    [['--log-opt', 'no-such-option=1'], /unknown log opt 'no-such-option'/],
    [['--log-opt', 'tag={{.Nope}}'], /Nope/],
    [['--log-opt', 'labels-regex=(unclosed'], /labels-regex/],
  ];
  for (const [opts, message] of cases) {
    it(`refuses ${opts.filter((o) => o !== '--log-opt').join(' ')}`, async () => {
      const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'cache-disabled=true', ...opts, IMAGE, 'true'], {
        allowFail: true,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    });
  }

  it('still logs other containers after refusing one', async () => {
    const id = await runToCompletion(['--log-driver', DRIVER, IMAGE, 'echo', 'after-refusal']);
    containers.push(id);
    await logfan.waitForStopped(id);
    expect(fs.readFileSync(logfan.jsonLogPath(id), 'utf8')).toContain('"log":"after-refusal\\n"');
  });
});

describe('many containers at once', () => {
  it('50 containers logging at once: every line arrives, in order, in each container\'s file', async () => {
    const lines = 2000;
    const ids = await Promise.all(
      Array.from({ length: 50 }, async (_, n) => {
        const { stdout } = await docker(['run', '-d', '--network', 'none', '--log-driver', DRIVER, IMAGE, 'sh', '-c', `seq 1 ${lines} | sed 's/^/c${n}-/'`]);
        return stdout.trim();
      }),
    );
    containers.push(...ids);
    await Promise.all(ids.map((id) => docker(['wait', id])));
    await Promise.all(ids.map((id) => logfan.waitForStopped(id)));
    ids.forEach((id, n) => {
      const got = fs.readFileSync(logfan.jsonLogPath(id), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { log: string }).log);
      expect(got.length).toBe(lines);
      for (let i = 0; i < lines; i++) {
        if (got[i] !== `c${n}-${i + 1}\n`) expect.fail(`container ${n} line ${i}: ${got[i]}`);
      }
    });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
