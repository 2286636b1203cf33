/**
 * Differential tests of the syslog sink against the real daemon and a real rsyslogd: the same
 * container through Docker's built-in syslog driver and through logfan (sinks=json-file,syslog,
 * same options) must leave the same messages in rsyslog, for every transport and format, once
 * the values that legitimately differ (timestamp, PID, container-id tag) are checked and masked.
 *
 * rsyslogd (Debian's, with rsyslog-gnutls for tcp+tls) runs from the test with a private config:
 * each input has its own ruleset writing %rawmsg% to its own file, one input per transport for
 * Docker and one for logfan.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, runToCompletion, sleep, startLogfan, type LogfanProcess, uniqueDriver } from './harness.js';
import { freePort, canConnect } from '../net-helpers.js';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const DRIVER = uniqueDriver('logfan-e2e-syslog');
let logfan: LogfanProcess;
let dir: string;
const containers: string[] = [];
const rsyslogs: ChildProcess[] = [];
let dockerdPid = '';

interface Input {
  name: string;
  kind: 'udp' | 'tcp' | 'tls' | 'unix' | 'unixgram';
  port?: number;
  path?: string;
}
const inputs: Record<string, Input> = {};

function logFile(name: string): string {
  return path.join(dir, `${name}.log`);
}

function addressOf(input: Input): string {
  switch (input.kind) {
    case 'udp':
      return `udp://127.0.0.1:${input.port}`;
    case 'tcp':
      return `tcp://127.0.0.1:${input.port}`;
    case 'tls':
      return `tcp+tls://127.0.0.1:${input.port}`;
    case 'unix':
      return `unix://${input.path}`;
    case 'unixgram':
      return `unixgram://${input.path}`;
  }
}

/** Starts an rsyslogd with the given inputs; resolves once the stream inputs accept connections. */
async function startRsyslog(tag: string, list: Input[]): Promise<ChildProcess> {
  const conf = path.join(dir, `rsyslog-${tag}.conf`);
  const work = path.join(dir, `work-${tag}`);
  fs.mkdirSync(work, { recursive: true });
  const lines = [
    `global(workDirectory="${work}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off"`,
    `  defaultNetstreamDriverCAFile="${dir}/ca.pem" defaultNetstreamDriverCertFile="${dir}/server.pem" defaultNetstreamDriverKeyFile="${dir}/server-key.pem")`,
    'module(load="imudp")',
    'module(load="imptcp")',
    'module(load="imuxsock" SysSock.Use="off")',
    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
    'template(name="raw" type="string" string="%rawmsg%\\n")',
  ];
  for (const i of list) {
    lines.push(`ruleset(name="r_${i.name}") { action(type="omfile" file="${logFile(i.name)}" template="raw") }`);
    if (i.kind === 'udp') lines.push(`input(type="imudp" address="127.0.0.1" port="${i.port}" ruleset="r_${i.name}")`);
    if (i.kind === 'tcp') lines.push(`input(type="imptcp" address="127.0.0.1" port="${i.port}" ruleset="r_${i.name}")`);
    if (i.kind === 'unix') lines.push(`input(type="imptcp" path="${i.path}" ruleset="r_${i.name}")`);
    if (i.kind === 'unixgram') lines.push(`input(type="imuxsock" Socket="${i.path}" RateLimit.Interval="0" ruleset="r_${i.name}")`);
    if (i.kind === 'tls') lines.push(`input(type="imtcp" address="127.0.0.1" port="${i.port}" ruleset="r_${i.name}")`);
  }
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const child = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, `rsyslog-${tag}.pid`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  rsyslogs.push(child);
  const deadline = Date.now() + 30_000;
  for (const i of list) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`rsyslogd input ${i.name} not ready: ${output}`);
      let ready = false;
      if (i.kind === 'unixgram') ready = fs.existsSync(i.path!);
      else if (i.kind === 'udp') ready = true;
      else ready = await canConnect(i.kind === 'unix' ? { path: i.path! } : { host: '127.0.0.1', port: i.port! });
      if (ready) break;
      await sleep(100);
    }
  }
  // imudp has no handshake: give its thread a moment after the stream inputs are up.
  await sleep(300);
  return child;
}

async function stopRsyslog(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

beforeAll(async () => {
  await requireDocker();
  // rsyslog may still be being installed when the suite starts.
  const end = Date.now() + 300_000;
  while (!fs.existsSync(RSYSLOGD)) {
    if (Date.now() > end) throw new Error(`${RSYSLOGD} is missing: install rsyslog and rsyslog-gnutls`);
    await sleep(1000);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-e2e-syslog-'));
  const q = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=logfan e2e CA']);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  q(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  for (const who of ['docker', 'logfan']) {
    for (const kind of ['udp', 'tcp', 'tls'] as const) inputs[`${kind}-${who}`] = { name: `${kind}-${who}`, kind, port: await freePort() };
    inputs[`unix-${who}`] = { name: `unix-${who}`, kind: 'unix', path: path.join(dir, `unix-${who}.sock`) };
    inputs[`unixgram-${who}`] = { name: `unixgram-${who}`, kind: 'unixgram', path: path.join(dir, `unixgram-${who}.sock`) };
  }
  await startRsyslog('main', Object.values(inputs));
  // The tests' CA and keys live in a temporary directory: allow it (by default only DATA_ROOT/tls).
  logfan = await startLogfan(DRIVER, {}, undefined, ['--tls-dir', os.tmpdir()]);
  dockerdPid = fs.existsSync('/var/run/docker.pid') ? fs.readFileSync('/var/run/docker.pid', 'utf8').trim() : '';
});

afterAll(async () => {
  await removeContainers(containers);
  await logfan?.stop();
  for (const r of rsyslogs) await stopRsyslog(r);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Payload and expectations

const SPECIALS: Buffer[] = [
  Buffer.from('tab\there\tand\ttabs'),
  Buffer.from('<a href="x?a=1&b=2">quote " backslash \\ </a>'),
  Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x41, 0xe2, 0x80, 0x41, 0xc3, 0x20, 0xed, 0xa0, 0x80, 0x7a]),
  Buffer.from(''),
  Buffer.from('utf8 é 日本語 😀 ok'),
  Buffer.from('carriage\rreturn\r'),
  Buffer.from('   leading and trailing spaces   '),
  Buffer.from('{"json":"inside","n":1}'),
];

interface Payload {
  mount: string;
  /** Non-empty messages per stream, as Docker's copier cuts them (16 KiB pieces). */
  expected: { stdout: number; stderr: number };
}

function pieces(lines: Buffer[]): number {
  let n = 0;
  for (const l of lines) if (l.length > 0) n += Math.ceil(l.length / 16384);
  return n;
}

function makePayload(name: string, numbered: number): Payload {
  const mount = path.join(dir, `payload-${name}`);
  fs.mkdirSync(mount, { recursive: true });
  const long = Buffer.alloc(40_000, 'x');
  long.write('begin-of-long-line', 0);
  long.write('end', 40_000 - 3);
  const out: Buffer[] = [...SPECIALS];
  for (let i = 0; i < numbered; i++) out.push(Buffer.from(`out line ${i} lorem ipsum`));
  out.push(long);
  const outTail = Buffer.from('stdout without final newline');
  const err: Buffer[] = [Buffer.from('err\tline <&> "q"'), Buffer.from(''), Buffer.from('err é')];
  for (let i = 0; i < numbered / 4; i++) err.push(Buffer.from(`err line ${i}`));
  const errTail = Buffer.from('stderr without final newline');
  const join = (ls: Buffer[], tail: Buffer) => Buffer.concat([...ls.flatMap((l) => [l, Buffer.from('\n')]), tail]);
  fs.writeFileSync(path.join(mount, 'out.bin'), join(out, outTail));
  fs.writeFileSync(path.join(mount, 'err.bin'), join(err, errTail));
  return { mount, expected: { stdout: pieces(out) + 1, stderr: pieces(err) + 1 } };
}

/** Messages (raw bytes as latin1) that arrived in a file since `offset`. */
function messagesSince(name: string, offset: number): string[] {
  const f = logFile(name);
  if (!fs.existsSync(f)) return [];
  const b = fs.readFileSync(f);
  return b.subarray(offset).toString('latin1').split('\n').filter((l) => l !== '');
}

function sizeOf(name: string): number {
  try {
    return fs.statSync(logFile(name)).size;
  } catch {
    return 0;
  }
}

async function waitForCount(name: string, offset: number, count: number, timeoutMs = 60_000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = messagesSince(name, offset);
    if (m.length >= count) {
      // Let anything unexpected that is still on its way arrive too.
      await sleep(300);
      return messagesSince(name, offset);
    }
    if (Date.now() > end) throw new Error(`${name}: ${m.length} of ${count} messages after ${timeoutMs} ms`);
    await sleep(100);
  }
}

type Format = '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro';
const HOST = os.hostname();
const STAMP = /^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;
const RFC3339_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

interface Parsed {
  pri: number;
  /** Everything but the masked fields. */
  normalized: string;
}

/**
 * Checks a message's header is well formed for the format (timestamp layout and recent,
 * hostname, tag, pid) and returns it with timestamp, tag and pid masked.
 */
function parse(msg: string, format: Format, tag: string, pid: string): Parsed {
  const fail = (why: string): never => {
    throw new Error(`${why}: ${JSON.stringify(msg.slice(0, 200))}`);
  };
  const m = /^<(\d{1,3})>/.exec(msg) ?? fail('no PRI');
  const pri = Number(m[1]);
  let rest = msg.slice(m[0].length);
  let ts: string;
  let body: string;
  if (format === '' || format === 'rfc3164') {
    ts = rest.slice(0, 15);
    if (!STAMP.test(ts)) fail('bad time.Stamp');
    rest = rest.slice(15);
    if (format === 'rfc3164') {
      if (!rest.startsWith(` ${HOST} `)) fail('bad hostname');
      rest = rest.slice(HOST.length + 1);
    }
    const head = ` ${tag}[${pid}]: `;
    if (!rest.startsWith(head)) fail(`expected "${head}"`);
    body = rest.slice(head.length);
    checkRecent(ts, true);
  } else {
    if (!rest.startsWith('1 ')) fail('no version');
    rest = rest.slice(2);
    const sp = rest.indexOf(' ');
    ts = rest.slice(0, sp);
    if (!(format === 'rfc5424' ? RFC3339 : RFC3339_MICRO).test(ts)) fail('bad RFC 3339 time');
    rest = rest.slice(sp);
    const head = ` ${HOST} ${tag} ${pid} ${tag} - `;
    if (!rest.startsWith(head)) fail(`expected "${head}"`);
    body = rest.slice(head.length);
    checkRecent(ts, false);
  }
  return { pri, normalized: `<${pri}>${body}` };
}

/** The timestamp is the send time in the local zone: within a few minutes of now. */
function checkRecent(ts: string, stamp: boolean): void {
  let t: number;
  if (stamp) {
    const now = new Date();
    t = new Date(`${ts.slice(0, 6)} ${now.getFullYear()} ${ts.slice(7)}`).getTime();
  } else t = Date.parse(ts);
  if (!(Math.abs(Date.now() - t) < 10 * 60_000)) throw new Error(`timestamp ${ts} is not recent`);
}

interface RunSpec {
  name: string;
  transport: 'udp' | 'tcp' | 'tls' | 'unix' | 'unixgram';
  format: Format;
  facility?: string;
  /** A tag that renders the same for both containers; default {{.ID}}. */
  tag?: string;
  /** What `tag` renders to. */
  tagRendered?: string;
  extraOpts?: string[];
  numbered?: number;
}

async function differential(spec: RunSpec): Promise<void> {
  const payload = makePayload(spec.name, spec.numbered ?? 100);
  const opts = (who: 'docker' | 'logfan') => {
    const o = ['--log-opt', `syslog-address=${addressOf(inputs[`${spec.transport}-${who}`])}`];
    if (spec.format !== '') o.push('--log-opt', `syslog-format=${spec.format}`);
    if (spec.facility) o.push('--log-opt', `syslog-facility=${spec.facility}`);
    if (spec.tag) o.push('--log-opt', `tag=${spec.tag}`);
    if (spec.transport === 'tls') o.push('--log-opt', `syslog-tls-ca-cert=${dir}/ca.pem`);
    return [...o, ...(spec.extraOpts ?? [])];
  };
  const cmd = [
    '-v', `${payload.mount}:/data:ro`,
    '--label', 'app=web', '-e', 'FOO=bar',
    '--log-opt', 'labels=app', '--log-opt', 'env=FOO', '--log-opt', 'env-regex=^FO', '--log-opt', 'labels-regex=^a',
    IMAGE, 'sh', '-c', 'cat /data/out.bin; cat /data/err.bin >&2',
  ];
  const dName = `${spec.transport}-docker`;
  const lName = `${spec.transport}-logfan`;
  const dOff = sizeOf(dName);
  const lOff = sizeOf(lName);
  const builtin = await runToCompletion(['--log-driver', 'syslog', ...opts('docker'), ...cmd]);
  containers.push(builtin);
  const ours = await runToCompletion(['--log-driver', DRIVER, '--log-opt', 'sinks=json-file,syslog', ...opts('logfan'), ...cmd]);
  containers.push(ours);
  await logfan.waitForStopped(ours);
  const total = payload.expected.stdout + payload.expected.stderr;
  const dMsgs = await waitForCount(dName, dOff, total);
  const lMsgs = await waitForCount(lName, lOff, total);
  expect(dMsgs.length).toBe(total);
  expect(lMsgs.length).toBe(total);

  const facility = spec.facility === undefined ? 3 : /^\d+$/.test(spec.facility) ? Number(spec.facility) : { local3: 19, local7: 23, user: 1 }[spec.facility]!;
  const split = (msgs: string[], id: string, pid: string) => {
    const tag = spec.tag ? spec.tagRendered! : id.slice(0, 12);
    const out: Record<string, string[]> = { stdout: [], stderr: [] };
    for (const m of msgs) {
      const p = parse(m, spec.format, tag, pid);
      if (p.pri === facility * 8 + 6) out.stdout.push(p.normalized);
      else if (p.pri === facility * 8 + 3) out.stderr.push(p.normalized);
      else throw new Error(`unexpected PRI ${p.pri}`);
    }
    return out;
  };
  const e = split(dMsgs, builtin, dockerdPid || '\\d+');
  // logfan cannot know dockerd's PID and writes its own.
  const a = split(lMsgs, ours, String(logfan.child.pid));
  expect(e.stdout.length).toBe(payload.expected.stdout);
  expect(e.stderr.length).toBe(payload.expected.stderr);
  for (const stream of ['stdout', 'stderr'] as const) {
    expect(a[stream].length).toBe(e[stream].length);
    for (let i = 0; i < e[stream].length; i++) {
      if (a[stream][i] !== e[stream][i]) {
        expect.fail(`${stream} message ${i} differs:\n docker: ${JSON.stringify(e[stream][i].slice(0, 300))}\n logfan: ${JSON.stringify(a[stream][i].slice(0, 300))}`);
      }
    }
  }
  // Spot checks on what went through: raw bytes, the 16 KiB pieces and the unterminated lines.
  const stdout = a.stdout;
  expect(stdout).toContain(`<${facility * 8 + 6}>tab\there\tand\ttabs`);
  expect(stdout).toContain(`<${facility * 8 + 6}>` + SPECIALS[2].toString('latin1'));
  expect(stdout.filter((m) => /^<\d+>x+end$/.test(m) || m.includes('begin-of-long-line')).length).toBe(2);
  expect(stdout[stdout.length - 1]).toBe(`<${facility * 8 + 6}>stdout without final newline`);
  expect(a.stderr[a.stderr.length - 1]).toBe(`<${facility * 8 + 3}>stderr without final newline`);
}

const run = differential;

describe('syslog, differential against Docker\'s built-in driver and rsyslogd', () => {
  it('udp, default (Unix) format, a tag template, labels/env options', async () => {
    await run({ name: 'udp', transport: 'udp', format: '', tag: '{{.ImageName}}|{{upper .DaemonName}}', tagRendered: `${IMAGE}|DOCKER` });
  });
  it('tcp, rfc3164, facility local3', async () => {
    await run({ name: 'tcp', transport: 'tcp', format: 'rfc3164', facility: 'local3' });
  });
  it('unix stream, rfc5424, default tag {{.ID}}', async () => {
    await run({ name: 'unix', transport: 'unix', format: 'rfc5424' });
  });
  it('unixgram, rfc5424micro, numeric facility 17', async () => {
    await run({ name: 'unixgram', transport: 'unixgram', format: 'rfc5424micro', facility: '17' });
  });
  it('tcp+tls with a CA made by openssl, rfc5424 (octet counting)', async () => {
    await run({ name: 'tls5424', transport: 'tls', format: 'rfc5424' });
  });
  it('tcp+tls, rfc5424micro, skip-verify set', async () => {
    await run({ name: 'tlsmicro', transport: 'tls', format: 'rfc5424micro', extraOpts: ['--log-opt', 'syslog-tls-skip-verify=true'] });
  });
  it('tcp+tls, default format (newline framing)', async () => {
    await run({ name: 'tlsunix', transport: 'tls', format: '', numbered: 20 });
  });
});

describe('bad options fail docker run with logfan\'s message naming the option', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--log-opt', 'syslog-address=127.0.0.1:514'], /syslog-address.*should be in form proto:\/\/address/],
    [['--log-opt', 'syslog-address=unix:///no/such.sock'], /syslog-address.*stat \/no\/such.sock: no such file or directory/],
    [['--log-opt', 'syslog-facility=bogus'], /syslog-facility.*invalid syslog facility/],
    [['--log-opt', 'syslog-format=rfc9999'], /syslog-format.*Invalid syslog format/],
    [['--log-opt', 'syslog-address=tcp+tls://127.0.0.1:1', '--log-opt', `syslog-tls-ca-cert=${os.tmpdir()}/no/such/ca.pem`], /syslog-tls-ca-cert.*could not read CA certificate/],
    // A container cannot make logfan read (and present) a key outside the TLS directories.
    [['--log-opt', 'syslog-address=tcp+tls://127.0.0.1:1', '--log-opt', 'syslog-tls-key=/etc/shadow'], /syslog-tls-key="\/etc\/shadow": outside the TLS directories/],
    [['--log-opt', 'syslog-address=tcp+tls://127.0.0.1:1', '--log-opt', `syslog-tls-cert=${os.tmpdir()}/../etc/ssl/x.pem`], /syslog-tls-cert=.*"\.\." is not allowed/],
  ];
  for (const [opts, message] of cases) {
    it(`refuses ${opts.filter((o) => o !== '--log-opt').join(' ')}`, async () => {
      const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'sinks=json-file,syslog', ...opts, IMAGE, 'true'], { allowFail: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    });
  }
  it('refuses syslog options when the syslog sink is not selected', async () => {
    const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'syslog-facility=user', IMAGE, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/syslog-facility belongs to the syslog sink/);
  });
});

describe('server down', () => {
  it('Docker\'s own driver refuses to start the container (the behaviour logfan fixes)', async () => {
    const port = await freePort();
    const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`, IMAGE, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed to initialize logging driver/);
  });

  it('the container starts and stops promptly, other containers keep logging, and what was queued arrives once rsyslog is up', async () => {
    const down: Input = { name: 'late-tcp', kind: 'tcp', port: await freePort() };
    const t0 = Date.now();
    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', DRIVER,
      '--log-opt', 'sinks=json-file,syslog', '--log-opt', `syslog-address=${addressOf(down)}`, '--log-opt', 'syslog-format=rfc5424',
      IMAGE, 'sh', '-c', 'trap "exit 0" TERM; i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo queued-$i; done; while :; do sleep 0.2; done',
    ]);
    const id = stdout.trim();
    containers.push(id);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const state = await docker(['inspect', '-f', '{{.State.Running}}', id]);
    expect(state.stdout.trim()).toBe('true');

    // logfan goes on logging another container meanwhile.
    const other = await runToCompletion(['--log-driver', DRIVER, IMAGE, 'echo', 'other-container']);
    containers.push(other);
    await logfan.waitForStopped(other);
    expect(fs.readFileSync(logfan.jsonLogPath(other), 'utf8')).toContain('"log":"other-container\\n"');
    // The lines were read and stored locally even though the syslog server is away.
    await waitForJson(logfan.jsonLogPath(id), 50);

    const late = await startRsyslog('late', [down]);
    const got = await waitForCount(down.name, 0, 50, 60_000);
    expect(got.map((m) => m.replace(/^<30>1 \S+ \S+ \S+ \d+ \S+ - /, ''))).toEqual(Array.from({ length: 50 }, (_, i) => `queued-${i + 1}`));

    const t1 = Date.now();
    await docker(['stop', '-t', '10', id]);
    expect(Date.now() - t1).toBeLessThan(10_000);
    await logfan.waitForStopped(id);
    await stopRsyslog(late);
  });

  it('with the server down all along, docker stop returns promptly and logfan gives up within its deadline', async () => {
    const port = await freePort();
    const { stdout } = await docker([
      'run', '-d', '--network', 'none', '--log-driver', DRIVER,
      '--log-opt', 'sinks=json-file,syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`,
      IMAGE, 'sh', '-c', 'trap "exit 0" TERM; echo never-delivered; while :; do sleep 0.2; done',
    ]);
    const id = stdout.trim();
    containers.push(id);
    await waitForJson(logfan.jsonLogPath(id), 1);
    const t0 = Date.now();
    await docker(['stop', '-t', '10', id]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await logfan.waitForStopped(id, 20_000);
    const stopped = logfan.logLines.find((l) => l.msg === 'logging stopped' && l.container === id.slice(0, 12)) as { sinks?: { syslog?: Record<string, number> } };
    expect(stopped.sinks?.syslog).toMatchObject({ sent: 0, dropped: 1, droppedAtClose: 1 });
    expect(logfan.logLines.some((l) => l.sink === 'syslog' && l.container === id.slice(0, 12) && typeof l.error === 'string')).toBe(true);
  });
});

async function waitForJson(file: string, lines: number): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    const n = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
    if (n >= lines) return;
    if (Date.now() > end) throw new Error(`${file}: ${n} of ${lines} lines`);
    await sleep(100);
  }
}
