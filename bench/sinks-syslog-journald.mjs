#!/usr/bin/env node
// Sink throughput end to end, in ONE run so the ratios are fair on a shared, noisy machine. The
// same container (LINES numbered lines of ~40 bytes) goes through
//   syslog:  (a) Docker's built-in syslog driver (as users get it: with the dual-logging cache, and
//            with cache-disabled=true), (b) the drain-only plugin, (c) logfan sinks=syslog with
//            local-store=false, and with the local store on — all over tcp to one private rsyslogd;
//   journald: (a') Docker's built-in journald driver, (c') logfan sinks=journald, local store off/on;
// plus each peer's own ingest ceiling: a direct tcp writer into rsyslogd, and for journald the
// fastest of several single-client datagram writers sending entries of the same shape (the fields
// Docker's journald driver sends) over /run/systemd/journal/socket: C (bench/journald-ceiling.c,
// compiled here when cc is there; a blocking and a spinning non-blocking socket), Python
// (bench/journald-ceiling.py, non-blocking, retried on EAGAIN/ENOBUFS), Node with node-unix-socket
// (bench/journald-ceiling.mjs) and Node with logfan's own send path, koffi send(2) and a 30 µs
// pause on EAGAIN (bench/journald-ceiling-koffi.mjs). Every run counts until every line has ARRIVED at
// the peer (lines in rsyslog's per-tag file, journal entries for the container), rounds
// interleaved, medians reported as JSON with the ratios logfan/docker, logfan/drain,
// logfan/ceiling and docker/ceiling, and the CPU seconds of logfan, dockerd, journald and the
// ceiling clients.
//
//   npm run build && LINES=200000 ROUNDS=3 node bench/sinks-syslog-journald.mjs
//   VARIANTS=docker-journald,logfan-journald,journald-ceiling node bench/sinks-syslog-journald.mjs
//   (journald-ceiling in VARIANTS stands for all the ceiling clients available)
//
// Needs a running dockerd, rsyslogd (/usr/sbin/rsyslogd), systemd-journald (/lib/systemd/...),
// journalctl, python3 and the logfan-test/busybox image (scripts/make-test-image.sh). Docker's
// journald driver always writes to /run/systemd/journal/socket, so the default journald instance is
// used: when none runs, the bench starts one with rate limiting off (a drop-in in
// /run/systemd/journald.conf.d, removed as soon as journald has read it) and stops it at the end.
// When one runs already, it is used as it is and the report says rate limiting was not changed.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EventWaiter, cpuSeconds, docker, median, sleep, startChild } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const LINES = Number(process.env.LINES ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** A run that stops making progress for this long (after its producer finished) is recorded as incomplete. */
const STALL_MS = Number(process.env.STALL_MS ?? 15_000);
const IMAGE = 'logfan-test/busybox:latest';
const RSYSLOGD = '/usr/sbin/rsyslogd';
const JOURNALD = '/lib/systemd/systemd-journald';
const JOURNAL_SOCKET = '/run/systemd/journal/socket';
const JOURNALD_DROPIN_DIR = '/run/systemd/journald.conf.d';
const JOURNALD_LOCK = '/run/logfan-test-journald.lock'; // the one test/e2e/journald.e2e.test.ts takes
/** The ceiling clients (see the header); the C ones only when a C compiler is there. */
const JOURNALD_CEILINGS = ['journald-ceiling-c-block', 'journald-ceiling-c-spin', 'journald-ceiling-py', 'journald-ceiling-node', 'journald-ceiling-koffi'];
const PREFIX = 'bench-line-payload-abcdefghijklmnopqrs '; // + the line number: ~40 bytes a line
const LAST = `${PREFIX}${LINES}`;

const round2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null);

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

// ------------------------------------------------------------------------------------------------
// rsyslogd: one imptcp input, every message's raw bytes into <dir>/<programname>.log

async function startRsyslog(dir, port) {
  const work = path.join(dir, 'rsyslog-work');
  fs.mkdirSync(work, { recursive: true });
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(
    conf,
    [
      `global(workDirectory="${work}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")`,
      'module(load="imptcp")',
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `template(name="perTag" type="string" string="${dir}/out/%programname%.log")`,
      'ruleset(name="bench") { action(type="omfile" dynaFile="perTag" dynaFileCacheSize="50" template="raw") }',
      `input(type="imptcp" address="127.0.0.1" port="${port}" ruleset="bench")`,
    ].join('\n') + '\n',
  );
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  let output = '';
  const child = startChild(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslog.pid')], {}, (l) => (output += l + '\n'));
  const end = Date.now() + 30_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}: ${output}`);
    if (Date.now() > end) throw new Error(`rsyslogd not listening on ${port}: ${output}`);
    await sleep(100);
  }
  return child;
}

/** Counts newlines in a growing file, reading only what is new. */
class FileCounter {
  offset = 0;
  count = 0;
  constructor(file) {
    this.file = file;
  }
  poll() {
    let fd;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return this.count;
    }
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        for (let i = 0; i < n; i++) if (buf[i] === 10) this.count++;
        this.offset += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.count;
  }
}

// ------------------------------------------------------------------------------------------------
// journald

function journaldPids() {
  return run('pgrep', ['-xf', JOURNALD]).then(
    (r) => r.stdout.trim().split('\n').filter(Boolean).map(Number),
    () => [],
  );
}

/**
 * Starts the default systemd-journald with rate limiting off, unless one runs already. Returns
 * { pid, startedByBench, rateLimit }.
 */
async function ensureJournald(dropIn) {
  const script = `
    set -e
    exec 9>${JOURNALD_LOCK}
    flock -w 120 9
    if pgrep -xf ${JOURNALD} >/dev/null && [ -S ${JOURNAL_SOCKET} ]; then echo running; exit 0; fi
    mkdir -p ${JOURNALD_DROPIN_DIR}
    printf '[Journal]\\nRateLimitIntervalSec=0\\nRateLimitBurst=0\\n' > ${dropIn}
    setsid ${JOURNALD} </dev/null >/dev/null 2>&1 9>&- &
    echo "started $!"
  `;
  const out = (await run('bash', ['-c', script])).stdout.trim();
  if (out === 'running') {
    const pid = (await journaldPids())[0];
    return { pid, startedByBench: false, rateLimit: 'unchanged: journald was already running, not started by the bench (v252 applies RateLimit* only to senders in a systemd unit; see journaldSuppressedMessages)' };
  }
  const pid = Number(out.split(' ')[1]);
  // The socket file may be a stale one: wait until something can really be logged.
  const end = Date.now() + 30_000;
  for (;;) {
    const ok = await run('systemd-cat', ['-t', 'logfan-bench-probe', 'true']).then(() => true, () => false);
    if (ok && (await journaldPids()).includes(pid)) break;
    if (Date.now() > end) throw new Error('systemd-journald did not come up');
    await sleep(100);
  }
  // journald (v252) reads its configuration once, at startup: the drop-in has done its job.
  fs.rmSync(dropIn, { force: true });
  return { pid, startedByBench: true, rateLimit: 'off (RateLimitIntervalSec=0, RateLimitBurst=0 drop-in read at startup, then removed)' };
}

async function stopJournald(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + 15_000;
  while ((await journaldPids()).includes(pid) && Date.now() < end) await sleep(100);
  if ((await journaldPids()).includes(pid)) process.kill(pid, 'SIGKILL');
}

/** journalctl's output for some matches, as text ('' when there are no entries). */
async function journalctl(args) {
  try {
    return (await run('journalctl', ['-q', '--no-pager', ...args], { maxBuffer: 1 << 30 })).stdout;
  } catch (err) {
    if (err.stdout !== undefined && !err.stderr) return err.stdout;
    throw err;
  }
}

/** Which line numbers are not in the journal, as up to 5 ranges ("a-b"), for incomplete runs. */
async function missingLines(matches) {
  const seen = new Uint8Array(LINES + 1);
  for (const m of (await journalctl(['-o', 'cat', ...matches])).matchAll(/(\d+)$/gm)) if (Number(m[1]) <= LINES) seen[Number(m[1])] = 1;
  const ranges = [];
  let total = 0;
  for (let i = 1; i <= LINES; i++) {
    if (seen[i]) continue;
    let j = i;
    while (j < LINES && !seen[j + 1]) j++;
    total += j - i + 1;
    if (ranges.length < 5) ranges.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return { total, ranges };
}

async function journalCount(matches) {
  const out = await journalctl(['-o', 'cat', ...matches]);
  let n = 0;
  for (let i = 0; i < out.length; i++) if (out.charCodeAt(i) === 10) n++;
  return n;
}

// ------------------------------------------------------------------------------------------------

/** Compiles bench/journald-ceiling.c into dir; null (and why) when there is no C compiler. */
async function compileCeilingClient(dir) {
  for (const cc of ['cc', 'gcc', 'clang']) {
    const found = await run('sh', ['-c', `command -v ${cc}`]).then((r) => r.stdout.trim(), () => '');
    if (!found) continue;
    const out = path.join(dir, 'journald-ceiling');
    await run(found, ['-O2', '-o', out, path.join(repo, 'bench/journald-ceiling.c')]);
    return { bin: out, compiler: found };
  }
  return null;
}

/** net.unix.max_dgram_qlen: how many datagrams a Unix socket created now queues (journald's included). */
function maxDgramQlen() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8').trim());
  } catch {
    return null;
  }
}

async function main() {
  for (const bin of [RSYSLOGD, JOURNALD, path.join(repo, 'dist/cli.js')]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing`);
  if ((await run('docker', ['image', 'inspect', IMAGE]).then(() => 0, () => 1)) !== 0) await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const dockerdPid = Number((await run('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-bench-sinks-'));
  const dropIn = path.join(JOURNALD_DROPIN_DIR, `logfan-bench-${process.pid}.conf`);
  const tag = `${process.pid}`;
  const logfanDriver = `logfan-sinkbench-${tag}`;
  const drainDriver = `drain-sinkbench-${tag}`;
  const logfanSock = `/run/docker/plugins/${logfanDriver}.sock`;
  const drainSock = `/run/docker/plugins/${drainDriver}.sock`;
  const containers = new Set();
  let rsyslog;
  let logfan;
  let drain;
  let journald;
  let ceilingC = null;

  const cleanup = async () => {
    if (containers.size) await run('docker', ['rm', '-f', ...containers]).catch(() => undefined);
    for (const c of [logfan, drain, rsyslog]) if (c && c.exitCode === null) c.kill('SIGTERM');
    await sleep(500);
    for (const c of [logfan, drain, rsyslog]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(logfanSock, { force: true });
    fs.rmSync(drainSock, { force: true });
    fs.rmSync(dropIn, { force: true });
    if (journald?.startedByBench) await stopJournald(journald.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const port = await freePort();
    rsyslog = await startRsyslog(dir, port);
    journald = await ensureJournald(dropIn);
    process.stderr.write(`journald pid ${journald.pid}: rate limiting ${journald.rateLimit}; net.unix.max_dgram_qlen ${maxDgramQlen()}\n`);
    ceilingC = await compileCeilingClient(dir);
    process.stderr.write(ceilingC ? `journald ceiling client in C compiled with ${ceilingC.compiler}\n` : 'no C compiler: no C ceiling client\n');

    const logfanEvents = new EventWaiter();
    const dataRoot = path.join(dir, 'logfan-data');
    logfan = startChild(process.execPath, [path.join(repo, 'dist/cli.js'), 'serve', '--socket', logfanSock, '--data-root', dataRoot, '--docker-socket', ''], { LOGFAN_LOG_LEVEL: 'info' }, (l) => logfanEvents.push(l));
    const drainEvents = new EventWaiter();
    drain = startChild(process.execPath, [path.join(repo, 'bench/drain-only-plugin.mjs'), drainSock], {}, (l) => drainEvents.push(l));
    for (const end = Date.now() + 15_000; !fs.existsSync(logfanSock) || !fs.existsSync(drainSock); await sleep(50)) {
      if (Date.now() > end) throw new Error('plugins did not create their sockets');
    }

    const sys = ['--log-opt', `syslog-address=tcp://127.0.0.1:${port}`];
    const containerCmd = ['sh', '-c', `seq 1 ${LINES} | sed 's/^/${PREFIX}/'`];
    // kind: where the lines arrive ('syslog' | 'journald' | 'drain').
    const variants = {
      'docker-syslog': { kind: 'syslog', args: ['--log-driver', 'syslog', ...sys] },
      'docker-syslog-nocache': { kind: 'syslog', args: ['--log-driver', 'syslog', ...sys, '--log-opt', 'cache-disabled=true'] },
      drain: { kind: 'drain', args: ['--log-driver', drainDriver, '--log-opt', 'cache-disabled=true'] },
      'logfan-syslog': { kind: 'syslog', logfan: true, args: ['--log-driver', logfanDriver, '--log-opt', 'sinks=syslog', '--log-opt', 'local-store=false', '--log-opt', `queue-full=${process.env.QUEUE_FULL ?? 'block'}`, ...sys] },
      'logfan-syslog+store': { kind: 'syslog', logfan: true, args: ['--log-driver', logfanDriver, '--log-opt', 'sinks=syslog', '--log-opt', `queue-full=${process.env.QUEUE_FULL ?? 'block'}`, ...sys] },
      'rsyslog-ceiling': { kind: 'syslog', direct: 'tcp' },
      'docker-journald': { kind: 'journald', args: ['--log-driver', 'journald'] },
      'logfan-journald': { kind: 'journald', logfan: true, args: ['--log-driver', logfanDriver, '--log-opt', 'sinks=journald', '--log-opt', 'local-store=false', '--log-opt', `queue-full=${process.env.QUEUE_FULL ?? 'block'}`] },
      'logfan-journald+store': { kind: 'journald', logfan: true, args: ['--log-driver', logfanDriver, '--log-opt', 'sinks=journald', '--log-opt', `queue-full=${process.env.QUEUE_FULL ?? 'block'}`] },
      'journald-ceiling-c-block': { kind: 'journald', direct: 'datagram', client: 'c', mode: 'block' },
      'journald-ceiling-c-spin': { kind: 'journald', direct: 'datagram', client: 'c', mode: 'spin' },
      'journald-ceiling-py': { kind: 'journald', direct: 'datagram', client: 'py', mode: 'spin' },
      'journald-ceiling-node': { kind: 'journald', direct: 'datagram', client: 'node' },
      'journald-ceiling-koffi': { kind: 'journald', direct: 'datagram', client: 'koffi' },
    };
    if (!ceilingC) for (const n of JOURNALD_CEILINGS) if (variants[n].client === 'c') delete variants[n];
    const ceilings = JOURNALD_CEILINGS.filter((n) => variants[n]);
    // VARIANTS=name,name runs a subset (e.g. VARIANTS=docker-journald,logfan-journald,journald-ceiling);
    // journald-ceiling stands for every ceiling client.
    const order = (process.env.VARIANTS ? process.env.VARIANTS.split(',').map((v) => v.trim()) : Object.keys(variants)).flatMap((v) => (v === 'journald-ceiling' ? ceilings : [v]));
    for (const v of order) if (!variants[v]) throw new Error(`unknown variant ${v}; known: ${Object.keys(variants).join(', ')}`);

    const cpuNow = () => ({
      dockerd: cpuSeconds(dockerdPid),
      logfan: cpuSeconds(logfan.pid),
      drain: cpuSeconds(drain.pid),
      rsyslogd: cpuSeconds(rsyslog.pid),
      journald: cpuSeconds(journald.pid),
    });

    /** Writes LINES Unix-format syslog lines (Docker's default format) straight to rsyslogd's tcp input. */
    async function directTcp(id12) {
      const sock = net.connect({ host: '127.0.0.1', port });
      await new Promise((r, j) => (sock.once('connect', r), sock.once('error', j)));
      const d = new Date();
      const ts = `${d.toString().slice(4, 7)} ${String(d.getDate()).padStart(2, ' ')} ${d.toTimeString().slice(0, 8)}`; // time.Stamp
      const batch = 4096;
      for (let i = 1; i <= LINES; ) {
        let s = '';
        for (let k = 0; k < batch && i <= LINES; k++, i++) s += `<30>${ts} ${id12}[${process.pid}]: ${PREFIX}${i}\n`;
        if (!sock.write(s)) await new Promise((r) => sock.once('drain', r));
      }
      await new Promise((r) => sock.end(r));
    }

    /**
     * One ceiling client (see the header) sending LINES native-protocol datagrams with the fields
     * Docker's journald driver sends. Resolves with what the client reports ({ cpuSeconds, eagain }).
     */
    function directDatagram(idFull, v) {
      const args = [String(LINES), idFull, PREFIX, IMAGE, JOURNAL_SOCKET];
      const [cmd, argv] =
        v.client === 'c'
          ? [ceilingC.bin, [...args, v.mode]]
          : v.client === 'py'
            ? ['python3', [path.join(repo, 'bench/journald-ceiling.py'), ...args, v.mode]]
            : [process.execPath, [path.join(repo, v.client === 'koffi' ? 'bench/journald-ceiling-koffi.mjs' : 'bench/journald-ceiling.mjs'), ...args]];
      return new Promise((resolve, reject) => {
        const c = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('error', reject);
        c.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`${cmd} exited with ${code}: ${err}`));
          try {
            resolve(JSON.parse(out.trim().split('\n').pop()));
          } catch {
            reject(new Error(`${cmd} printed no result: ${out} ${err}`));
          }
        });
      });
    }

    /**
     * Waits until `count()` reaches LINES, or stalls for STALL_MS after `producerDone` resolved.
     * Returns { arrived, at } (at: hrtime when the last line was seen).
     */
    async function waitArrival(count, producerDone, intervalMs) {
      let done = false;
      producerDone.then(() => (done = true), () => (done = true));
      let last = -1;
      let lastChange = Date.now();
      for (;;) {
        const n = await count();
        if (n >= LINES) return { arrived: n, at: process.hrtime.bigint() };
        if (n !== last) {
          last = n;
          lastChange = Date.now();
        } else if (done && Date.now() - lastChange > STALL_MS) return { arrived: n, at: null };
        await sleep(intervalMs);
      }
    }

    async function once(name, round) {
      const v = variants[name];
      const cpu0 = cpuNow();
      const start = process.hrtime.bigint();
      const startWall = Date.now();
      let id;
      let producerDone;
      if (v.direct === 'tcp') {
        id = crypto.randomBytes(6).toString('hex');
        producerDone = directTcp(id);
      } else if (v.direct === 'datagram') {
        id = crypto.randomBytes(32).toString('hex');
        producerDone = directDatagram(id, v);
      } else {
        id = await docker('run', '-d', '--network', 'none', ...v.args, IMAGE, ...containerCmd);
        containers.add(id);
        producerDone = docker('wait', id);
      }
      let arrival;
      if (v.kind === 'syslog') {
        const counter = new FileCounter(path.join(dir, 'out', `${id.slice(0, 12)}.log`));
        arrival = await waitArrival(async () => counter.poll(), producerDone, 20);
      } else if (v.kind === 'journald') {
        // Cheap poll (full counts would compete with journald for the CPU): the number of the
        // newest entry's line; lines go in order, so LINES means the last one is in. The exact
        // count follows, untimed. --since skips the journal files that ended before the run (a
        // long-lived journal has dozens; opening them all made each poll cost ~0.1 s of CPU); -r, as
        // with --since journalctl would otherwise show the first entry, not the newest.
        const matches = ['--since', `@${Math.floor(startWall / 1000) - 1}`, `CONTAINER_ID_FULL=${id}`];
        arrival = await waitArrival(
          async () => {
            const m = /(\d+)\s*$/.exec(await journalctl(['-o', 'cat', '-r', '-n', '1', ...matches]));
            return m ? Number(m[1]) : 0;
          },
          producerDone,
          100,
        );
        arrival.arrived = await journalCount(matches);
        if (arrival.arrived < LINES) arrival.missing = await missingLines(matches);
      } else {
        await producerDone;
        await drainEvents.waitFor((l) => l.includes('"eof"'));
        arrival = { arrived: LINES, at: process.hrtime.bigint() };
      }
      const produced = await producerDone;
      const seconds = arrival.at === null ? null : Number(arrival.at - start) / 1e9;
      let sinks;
      let stoppedSeconds;
      if (v.logfan) {
        const line = await logfanEvents.waitFor((l) => l.includes('logging stopped') && l.includes(id.slice(0, 12)), 120_000);
        stoppedSeconds = Number(process.hrtime.bigint() - start) / 1e9;
        try {
          sinks = JSON.parse(line).sinks;
        } catch {
          sinks = line;
        }
      }
      const cpu1 = cpuNow();
      const cpu = Object.fromEntries(Object.keys(cpu0).map((k) => [k, round2(cpu1[k] - cpu0[k])]));
      // the ceiling clients report their own CPU time (they are gone before /proc could be read)
      if (v.direct === 'datagram') Object.assign(cpu, { client: round2(produced.cpuSeconds) });
      if (v.kind === 'syslog' && arrival.arrived > LINES) process.stderr.write(`  ${name}: ${arrival.arrived} lines arrived, more than ${LINES}\n`);
      if (!v.direct) {
        await docker('rm', id);
        containers.delete(id);
        fs.rmSync(path.join(dataRoot, 'containers', id), { recursive: true, force: true });
      }
      fs.rmSync(path.join(dir, 'out', `${id.slice(0, 12)}.log`), { force: true });
      const r = { round, seconds, arrived: arrival.arrived, ...(arrival.missing ? { missing: arrival.missing } : {}), cpu, ...(v.logfan ? { stoppedSeconds: round2(stoppedSeconds), sinks } : {}), ...(v.direct === 'datagram' ? { eagain: produced.eagain } : {}) };
      process.stderr.write(
        `round ${round} ${name}: ${seconds === null ? 'stalled' : seconds.toFixed(2) + ' s'}${arrival.arrived < LINES ? ' INCOMPLETE' : ''}, ${arrival.arrived}/${LINES} arrived${arrival.missing ? ` (missing ${JSON.stringify(arrival.missing)})` : ''}; CPU s ${JSON.stringify(cpu)}` +
          (v.logfan ? `; logging stopped at ${stoppedSeconds.toFixed(2)} s; sinks ${JSON.stringify(sinks)}` : '') +
          (v.direct === 'datagram' ? `; client EAGAINs ${produced.eagain}` : '') +
          '\n',
      );
      return r;
    }

    const benchStart = Date.now();
    const results = Object.fromEntries(order.map((n) => [n, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (let k = 0; k < order.length; k++) {
        const name = order[(k + round - 1) % order.length];
        results[name].push(await once(name, round));
      }
    }

    // --------------------------------------------------------------------------------------------
    // Times count only runs where every line arrived; incomplete runs are reported apart.
    const complete = (r) => r.seconds !== null && r.arrived >= LINES;
    const medianSecs = (n) => {
      const xs = (results[n] ?? []).filter(complete).map((r) => r.seconds);
      return xs.length ? median(xs) : NaN;
    };
    // journald's ceiling: the fastest client (lowest median) of those that ran.
    const ceilingRan = ceilings.filter((n) => Number.isFinite(medianSecs(n)));
    const fastestCeiling = ceilingRan.length ? ceilingRan.reduce((a, b) => (medianSecs(b) < medianSecs(a) ? b : a)) : null;
    const secs = (n) => (n === 'journald-ceiling' ? (fastestCeiling ? medianSecs(fastestCeiling) : NaN) : medianSecs(n));
    const cpuMed = (n, k) => median((results[n] ?? []).map((r) => r.cpu[k] ?? 0));
    const seconds = Object.fromEntries(order.map((n) => [n, round2(secs(n))]));
    const ratio = (a, b) => round2(secs(a) / secs(b));
    const linesPerSecond = Object.fromEntries(order.map((n) => [n, Number.isFinite(secs(n)) ? Math.round(LINES / secs(n)) : null]));
    // journald says so in its own journal when it drops messages for rate limiting.
    const suppressed = (await journalctl(['-o', 'cat', '-t', 'systemd-journald', '--since', `@${Math.floor(benchStart / 1000)}`]))
      .split('\n')
      .filter((l) => /suppress/i.test(l));
    const report = {
      lines: LINES,
      rounds: ROUNDS,
      lineBytes: LAST.length + 1,
      journaldRateLimit: journald.rateLimit,
      // journald's socket queues this many datagrams (kernel default 10; systemd hosts set 512):
      // a full queue is where senders get EAGAIN.
      netUnixMaxDgramQlen: maxDgramQlen(),
      journaldSuppressedMessages: suppressed.slice(0, 5),
      seconds,
      completeRuns: Object.fromEntries(order.map((n) => [n, `${results[n].filter(complete).length}/${results[n].length}`])),
      incompleteRuns: Object.fromEntries(
        order
          .map((n) => [n, results[n].filter((r) => !complete(r)).map((r) => ({ round: r.round, arrived: r.arrived, secondsToLastLine: round2(r.seconds), ...(r.missing ? { missing: r.missing } : {}), ...(r.sinks?.journald ? { logfanDropped: r.sinks.journald.dropped } : {}) }))])
          .filter(([, v]) => v.length),
      ),
      linesPerSecond,
      ratio: {
        'logfan-syslog/docker-syslog': ratio('logfan-syslog', 'docker-syslog'),
        'logfan-syslog/docker-syslog-nocache': ratio('logfan-syslog', 'docker-syslog-nocache'),
        'logfan-syslog+store/docker-syslog': ratio('logfan-syslog+store', 'docker-syslog'),
        'logfan-syslog/drain': ratio('logfan-syslog', 'drain'),
        'logfan-syslog/rsyslog-ceiling': ratio('logfan-syslog', 'rsyslog-ceiling'),
        'docker-syslog/rsyslog-ceiling': ratio('docker-syslog', 'rsyslog-ceiling'),
        'logfan-journald/docker-journald': ratio('logfan-journald', 'docker-journald'),
        'logfan-journald+store/docker-journald': ratio('logfan-journald+store', 'docker-journald'),
        'logfan-journald/drain': ratio('logfan-journald', 'drain'),
        'logfan-journald/journald-ceiling': ratio('logfan-journald', 'journald-ceiling'),
        'docker-journald/journald-ceiling': ratio('docker-journald', 'journald-ceiling'),
        'logfan-journald+store/journald-ceiling': ratio('logfan-journald+store', 'journald-ceiling'),
      },
      journaldCeiling: fastestCeiling
        ? {
            fastest: fastestCeiling,
            seconds: round2(secs('journald-ceiling')),
            linesPerSecond: Math.round(LINES / secs('journald-ceiling')),
            // the best logfan could do against this journald: 0.5x Docker is reachable only if the ceiling is below it
            'ceiling/docker-journald': ratio('journald-ceiling', 'docker-journald'),
            clientsSeconds: Object.fromEntries(ceilingRan.map((n) => [n, round2(medianSecs(n))])),
            compiler: ceilingC ? ceilingC.compiler : 'none (no C client)',
          }
        : null,
      targets: {
        'logfan syslog(tcp) <= 0.5x docker syslog': secs('logfan-syslog') / secs('docker-syslog') <= 0.5,
        'logfan journald <= 0.5x docker journald': secs('logfan-journald') / secs('docker-journald') <= 0.5,
        'journald ceiling <= 0.5x docker journald (0.5x reachable at all)': secs('journald-ceiling') / secs('docker-journald') <= 0.5,
      },
      arrivedMin: Object.fromEntries(order.map((n) => [n, Math.min(...results[n].map((r) => r.arrived))])),
      cpuSecondsMedian: Object.fromEntries(order.map((n) => [n, Object.fromEntries(Object.keys(results[n][0].cpu).map((k) => [k, round2(cpuMed(n, k))]).filter(([, v]) => v > 0))])),
      journaldCpuMicrosPerLine: Object.fromEntries(order.filter((n) => variants[n].kind === 'journald').map((n) => [n, round2((cpuMed(n, 'journald') * 1e6) / LINES)])),
      logfanCpuMicrosPerLine: Object.fromEntries(order.filter((n) => variants[n].logfan).map((n) => [n, round2((cpuMed(n, 'logfan') * 1e6) / LINES)])),
      logfanStoppedSecondsMedian: Object.fromEntries(order.filter((n) => variants[n].logfan).map((n) => [n, round2(median(results[n].map((r) => r.stoppedSeconds)))])),
      logfanSinkStats: Object.fromEntries(order.filter((n) => variants[n].logfan).map((n) => [n, results[n].map((r) => r.sinks)])),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
