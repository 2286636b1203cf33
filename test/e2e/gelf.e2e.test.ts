/**
 * Differential tests against the real daemon: the same container through Docker's built-in gelf
 * driver and through logfan (sinks=json-file,gelf) must send the same GELF messages, byte for byte
 * once the values that differ between two runs (timestamp, _container_id, _container_name,
 * _created) are masked and checked to be well formed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, runToCompletion, startLogfan, type LogfanProcess, uniqueDriver } from './harness.js';
import { freeTcpPort, startTcpReceiver, startUdpReceiver, type GelfReceiver } from '../sinks/gelf/receiver.js';

const DRIVER = uniqueDriver('logfan-e2e-gelf');
let logfan: LogfanProcess;
let dir: string;
const containers: string[] = [];
let seq = 0;

beforeAll(async () => {
  await requireDocker();
  // The test CA lives in a temporary directory: allow it (by default only DATA_ROOT/tls).
  logfan = await startLogfan(DRIVER, {}, undefined, ['--tls-dir', os.tmpdir()]);
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-gelf-payload-'));
  const specials: Buffer[] = [
    Buffer.from('tab\there\tand "quotes" and \\backslash\\'),
    Buffer.from('<a href="x?a=1&b=2">html</a>'),
    Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x7a]),
    Buffer.from('separators \u2028 and \u2029 end'),
    Buffer.from(''),
    Buffer.from('controls \x01\x02\x08\x0c\x1b[31mred\x1b[0m \x7f del'),
    Buffer.from('carriage\rreturn\r'),
    Buffer.from('utf8 é 日本語 😀 \ufffd ok'),
    Buffer.from('{"json":"inside","n":1}'),
    Buffer.from('   leading and trailing spaces   '),
  ];
  const longLine = Buffer.alloc(40_000);
  // Pseudo-random letters: even gzipped, each 16 KiB piece needs several chunks.
  let x = 12345;
  for (let i = 0; i < longLine.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    longLine[i] = 0x41 + (x >>> 16) % 26;
  }
  longLine.write('begin-of-long-line', 0);
  const parts: Buffer[] = [];
  for (let i = 0; i < 60; i++) parts.push(i < specials.length ? specials[i] : Buffer.from(`out line ${i} lorem ipsum`), Buffer.from('\n'));
  parts.push(longLine, Buffer.from('\n'), Buffer.from('stdout without final newline'));
  await fs.promises.writeFile(path.join(dir, 'out.bin'), Buffer.concat(parts));
  const err: Buffer[] = [];
  for (let i = 0; i < 20; i++) err.push(Buffer.from(i === 3 ? '' : `err line ${i} <&>`), Buffer.from('\n'));
  err.push(Buffer.from('stderr without final newline'));
  await fs.promises.writeFile(path.join(dir, 'err.bin'), Buffer.concat(err));
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
  if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
});

// stdout: 60 lines minus 1 empty, 3 pieces of the long line, 1 unterminated; stderr: 19 + 1.
const EXPECTED_STDOUT = 59 + 3 + 1;
const EXPECTED_STDERR = 20;

const PAYLOAD_CMD = [IMAGE, 'sh', '-c', 'cat /data/out.bin; cat /data/err.bin >&2'];

/** Same-length names for both runs, so lengths (and chunk counts) can be compared too. */
function names(): [string, string] {
  seq++;
  const base = `gelf-e2e-${process.pid}-${seq}`;
  return [`${base}-d`, `${base}-l`];
}

interface Run {
  id: string;
  name: string;
  rx: GelfReceiver;
  started: number;
  ended: number;
}

/** Masks the values that differ between two runs after checking each is well formed. */
function mask(payload: Buffer, run: Run): string {
  const text = payload.toString('latin1');
  const obj = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  expect(obj._container_id).toBe(run.id);
  expect(obj._container_name).toBe(run.name);
  expect(String(obj._created)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?(Z|[+-]\d{2}:\d{2})$/);
  const ts = obj.timestamp as number;
  expect(typeof ts).toBe('number');
  expect(ts * 1000).toBeGreaterThanOrEqual(run.started - 5000);
  expect(ts * 1000).toBeLessThanOrEqual(run.ended + 5000);
  // Go prints whole milliseconds divided by 1000: at most 3 decimals.
  expect(text).toMatch(/"timestamp":\d+(\.\d{1,3})?,/);
  expect(obj.host).toBe(os.hostname());
  return text
    .replace(/"timestamp":[0-9.]+,/, '"timestamp":<T>,')
    .replace(`"_container_id":"${run.id}"`, '"_container_id":<ID>')
    .replace(`"_container_name":"${run.name}"`, '"_container_name":<NAME>')
    .replace(/"_created":"[^"]*"/, '"_created":<CREATED>')
    // The default tag is {{.ID}}: differs between runs, but must be this container's.
    .replace(`"_tag":"${run.id.slice(0, 12)}"`, '"_tag":<ID12>');
}

function byLevel(payloads: Buffer[], run: Run): Record<number, string[]> {
  const out: Record<number, string[]> = { 6: [], 3: [] };
  for (const p of payloads) {
    const level = (JSON.parse(p.toString('utf8')) as { level: number }).level;
    out[level].push(mask(p, run));
  }
  return out;
}

async function runBoth(
  makeReceiver: () => Promise<GelfReceiver>,
  scheme: 'udp' | 'tcp',
  opts: string[],
  ours: { receiver?: () => Promise<GelfReceiver>; address?: (port: number) => string; opts?: string[] } = {},
): Promise<[Run, Run]> {
  const expectedCount = EXPECTED_STDOUT + EXPECTED_STDERR;
  const [nameD, nameL] = names();
  const rxD = await makeReceiver();
  const rxL = await (ours.receiver ?? makeReceiver)();
  const common = ['-v', `${dir}:/data:ro`, ...opts, ...PAYLOAD_CMD];
  const ourAddress = ours.address ? ours.address(rxL.port) : `${scheme}://127.0.0.1:${rxL.port}`;
  const t0 = Date.now();
  const idD = await runToCompletion(['--name', nameD, '--log-driver', 'gelf', '--log-opt', `gelf-address=${scheme}://127.0.0.1:${rxD.port}`, ...common]);
  const t1 = Date.now();
  const idL = await runToCompletion([
    '--name', nameL, '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,gelf', '--log-opt', `gelf-address=${ourAddress}`, ...(ours.opts ?? []), ...common,
  ]);
  containers.push(idD, idL);
  await logfan.waitForStopped(idL);
  const t2 = Date.now();
  await rxD.waitFor(expectedCount, 60_000);
  await rxL.waitFor(expectedCount, 60_000);
  return [
    { id: idD, name: nameD, rx: rxD, started: t0, ended: t1 },
    { id: idL, name: nameL, rx: rxL, started: t1, ended: t2 },
  ];
}

function compare(d: Run, l: Run): void {
  expect(l.rx.payloads.length).toBe(d.rx.payloads.length);
  const e = byLevel(d.rx.payloads, d);
  const a = byLevel(l.rx.payloads, l);
  expect(e[6].length).toBe(EXPECTED_STDOUT);
  expect(e[3].length).toBe(EXPECTED_STDERR);
  for (const level of [6, 3]) {
    expect(a[level].length).toBe(e[level].length);
    for (let i = 0; i < e[level].length; i++) {
      if (a[level][i] !== e[level][i]) {
        expect.fail(`level ${level} message ${i} differs:\n docker: ${e[level][i].slice(0, 400)}\n logfan: ${a[level][i].slice(0, 400)}`);
      }
    }
  }
}

const ATTR_OPTS = [
  '--label', 'app=web',
  '--label', 'quote=a"b<c>&d',
  '--label', 'unused=1',
  '-e', 'FOO=bar',
  '-e', 'TRACE_ID=t\u00e9',
  '--log-opt', 'labels=app,quote,missing',
  '--log-opt', 'env=FOO',
  '--log-opt', 'env-regex=^TRACE',
  '--log-opt', 'tag={{.ImageName}}|{{upper .DaemonName}}|{{.Command}}',
];

function checkChunkLayout(rx: GelfReceiver): void {
  for (const info of rx.infos) {
    if (!info.chunked) {
      expect(info.sizes[0]).toBeLessThanOrEqual(1420);
      continue;
    }
    const n = info.counts[0];
    expect(info.counts.every((c) => c === n)).toBe(true);
    expect(info.sizes.slice(0, -1).every((s) => s === 1420)).toBe(true);
    const dataLen = info.sizes.reduce((s, x) => s + x - 12, 0);
    expect(n).toBe(Math.floor(dataLen / 1408) + 1);
  }
}

describe('gelf, differential against Docker', () => {
  it('UDP with Docker\'s default gzip: same messages, with tag, labels and env', async () => {
    const [d, l] = await runBoth(startUdpReceiver, 'udp', ATTR_OPTS);
    compare(d, l);
    expect(d.rx.infos.every((i) => i.compression === 'gzip')).toBe(true);
    expect(l.rx.infos.every((i) => i.compression === 'gzip')).toBe(true);
    const parsed = JSON.parse(l.rx.payloads[0].toString()) as Record<string, string>;
    expect(parsed._tag).toBe(`${IMAGE}|DOCKER|sh -c cat /data/out.bin; cat /data/err.bin >&2`);
    expect(parsed._quote).toBe('a"b<c>&d');
    expect(parsed._TRACE_ID).toBe('t\u00e9');
    expect(l.rx.infos.some((i) => i.chunked)).toBe(true);
  });

  it('UDP with gelf-compression-type=none: the same datagram payloads byte for byte, chunked the same way', async () => {
    const [d, l] = await runBoth(startUdpReceiver, 'udp', ['--log-opt', 'gelf-compression-type=none']);
    compare(d, l);
    for (const run of [d, l]) {
      expect(run.rx.infos.every((i) => i.compression === 'none')).toBe(true);
      checkChunkLayout(run.rx);
    }
    // The 16 KiB pieces of the long line are sent as 12 chunks each, by both.
    const counts = (r: Run) => r.rx.infos.filter((i) => i.chunked).map((i) => i.counts[0]);
    expect(counts(l)).toEqual(counts(d));
  });

  it('UDP with gelf-compression-type=zlib gelf-compression-level=9', async () => {
    const [d, l] = await runBoth(startUdpReceiver, 'udp', ['--log-opt', 'gelf-compression-type=zlib', '--log-opt', 'gelf-compression-level=9']);
    compare(d, l);
    expect(l.rx.infos.every((i) => i.compression === 'zlib')).toBe(true);
    expect(d.rx.infos.every((i) => i.compression === 'zlib')).toBe(true);
  });

  it('TCP: the same NUL-framed JSON, with the default {{.ID}} tag', async () => {
    const [d, l] = await runBoth(startTcpReceiver, 'tcp', ['--label', 'app=web', '--log-opt', 'labels=app']);
    compare(d, l);
    for (const run of [d, l]) {
      for (const p of run.rx.payloads) expect((JSON.parse(p.toString()) as { _tag: string })._tag).toBe(run.id.slice(0, 12));
    }
  });
});

describe('gelf over TLS (beyond Docker)', () => {
  it('tls:// with gelf-tls-ca-cert sends what Docker sends over tcp://', async () => {
    const certs = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-gelf-tls-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });
    sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=logfan gelf e2e CA']);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    fs.writeFileSync(path.join(certs, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    sh(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
    const key = fs.readFileSync(path.join(certs, 'server.key'));
    const cert = fs.readFileSync(path.join(certs, 'server.pem'));
    const [d, l] = await runBoth(startTcpReceiver, 'tcp', ['--log-opt', 'tag=tls-test'], {
      receiver: () => startTcpReceiver({ tls: { key, cert } }),
      address: (port) => `tls://localhost:${port}`,
      opts: ['--log-opt', `gelf-tls-ca-cert=${path.join(certs, 'ca.pem')}`],
    });
    compare(d, l);
    await fs.promises.rm(certs, { recursive: true, force: true });
  });
});

describe('gelf: bad options fail docker run with Docker\'s text and the option named', () => {
  const cases: Array<{ opts: string[]; docker: RegExp | null; ours: RegExp }> = [
    { opts: ['gelf-address=udp://127.0.0.1:12201', 'gelf-compression-type=lz4'], docker: /unknown value "lz4" for log opt "gelf-compression-type" for gelf log driver/, ours: /unknown value "lz4" for log opt "gelf-compression-type" for gelf log driver/ },
    { opts: ['gelf-address=tcp://127.0.0.1:12201', 'gelf-compression-level=1'], docker: /compression is only supported on UDP/, ours: /compression is only supported on UDP.*gelf-compression-level/ },
    { opts: ['gelf-address=udp://127.0.0.1:12201', 'gelf-tcp-max-reconnect=2'], docker: /"gelf-tcp-max-reconnect" is only valid for TCP/, ours: /"gelf-tcp-max-reconnect" is only valid for TCP/ },
    { opts: ['gelf-address=udp://127.0.0.1'], docker: /gelf: please provide gelf-address as proto:\/\/host:port/, ours: /gelf: please provide gelf-address as proto:\/\/host:port.*gelf-address/ },
    { opts: [], docker: /gelf-address is a required parameter/, ours: /gelf-address is a required parameter/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.opts.join(' ') || 'no gelf-address'}`, async () => {
      const logOpts = c.opts.flatMap((o) => ['--log-opt', o]);
      const ours = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,gelf', ...logOpts, IMAGE, 'true'], { allowFail: true });
      expect(ours.code).not.toBe(0);
      expect(ours.stderr).toMatch(c.ours);
      if (c.docker) {
        const theirs = await docker(['run', '--rm', '--network', 'none', '--log-driver', 'gelf', ...logOpts, IMAGE, 'true'], { allowFail: true });
        expect(theirs.code).not.toBe(0);
        expect(theirs.stderr).toMatch(c.docker);
      }
    });
  }
});

describe('gelf: log server down', () => {
  it('TCP peer not listening: Docker refuses to start; logfan starts, runs, stops promptly and keeps logging others', async () => {
    const port = await freeTcpPort();
    const address = `gelf-address=tcp://127.0.0.1:${port}`;
    const theirs = await docker(['run', '-d', '--network', 'none', '--log-driver', 'gelf', '--log-opt', address, IMAGE, 'true'], { allowFail: true });
    if (theirs.code === 0) containers.push(theirs.stdout.trim());
    expect(theirs.code).not.toBe(0);
    expect(theirs.stderr).toMatch(/cannot connect to GELF endpoint/);

    const tRun = Date.now();
    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,gelf', '--log-opt', address,
      IMAGE, 'sh', '-c', 'trap "exit 0" TERM; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done',
    ]);
    const id = stdout.trim();
    containers.push(id);
    const running = await docker(['inspect', '-f', '{{.State.Running}}', id]);
    expect(running.stdout.trim()).toBe('true');

    // Another container, json-file only, is logged meanwhile.
    const other = await runToCompletion(['--log-driver', DRIVER, IMAGE, 'sh', '-c', 'echo still-logging']);
    containers.push(other);
    await logfan.waitForStopped(other);
    expect(fs.readFileSync(logfan.jsonLogPath(other), 'utf8')).toContain('still-logging');

    const t0 = Date.now();
    await docker(['stop', '-t', '2', id]);
    expect(Date.now() - t0).toBeLessThan(15_000);
    await logfan.waitForStopped(id, 30_000);
    // The lines are in the local store all the same, and the problem was logged (rate-limited) with its fields.
    expect(fs.readFileSync(logfan.jsonLogPath(id), 'utf8')).toContain('tick 0');
    const problems = logfan.logLines.filter((x) => x.msg === 'gelf: log server problem' && x.container === id);
    expect(problems.length).toBeGreaterThan(0);
    // At most one a second, never one per line.
    expect(problems.length).toBeLessThanOrEqual((Date.now() - tRun) / 1000 + 1);
    expect(problems[0]).toMatchObject({ sink: 'gelf', address: `tcp://127.0.0.1:${port}` });
    expect(String(problems[0].error)).toMatch(/ECONNREFUSED/);
    const stopped = logfan.logLines.find((x) => x.msg === 'logging stopped' && x.container === id.slice(0, 12)) as { sinks?: Record<string, Record<string, number>> };
    expect(stopped.sinks?.gelf?.connectErrors).toBeGreaterThan(0);
    expect(stopped.sinks?.gelf?.sent).toBe(0);
  });
});
