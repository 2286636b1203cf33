#!/usr/bin/env node
// Network-sink throughput, in ONE run so the ratios are fair on a shared, noisy machine: the same
// container (LINES lines of ~40 bytes) through
//   (a) Docker's built-in driver, (b) the drain-only plugin (bench/drain-only-plugin.mjs: reads the
//   FIFO and throws it away, the floor for any plugin), (c) logfan with local-store=false and one sink,
// for fluentd (forward over TCP), gelf udp+gzip (Docker's default compression), gelf udp without
// compression and gelf tcp. Docker and logfan are timed until every line has ARRIVED at a receiver
// in this process (or, for UDP, until nothing more arrives for IDLE_UDP_MS: the time of the last
// arrival counts and the missing lines are reported as lost); the drain plugin until FIFO EOF.
// Rounds are interleaved (the driver order rotates per round) and medians reported.
//
//   node bench/sinks-fluentd-gelf.mjs
//   env: LINES=200000 ROUNDS=3  LINES_GZIP=$LINES ROUNDS_GZIP=1 (Docker's gzip is slow: ~100 s / 200k)
//        CASES=fluentd,gelf-udp-gzip,gelf-udp-none,gelf-tcp  IDLE_UDP_MS=3000 IDLE_TCP_MS=15000
//        DOCKER_CACHE_DISABLED=1 (pass cache-disabled=true to Docker's own drivers too; by default
//        they run as users get them, with dockerd's dual-logging cache on — logfan answers
//        ReadLogs itself, so dockerd keeps no cache for it)
// Needs a running dockerd and the logfan-test/busybox image (scripts/make-test-image.sh), and
// `npm run build` first.
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
// The sink's own msgpack walker (the bench builds dist/ first).
import { skipValue } from '../dist/sinks/fluentd/index.js';
import { EventWaiter, cpuSeconds, docker, median, sleep, startChild } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const env = process.env;
const LINES = Number(env.LINES ?? 200_000);
const ROUNDS = Number(env.ROUNDS ?? 3);
const LINES_GZIP = Number(env.LINES_GZIP ?? LINES);
const ROUNDS_GZIP = Number(env.ROUNDS_GZIP ?? 1);
const IDLE_UDP_MS = Number(env.IDLE_UDP_MS ?? 3000);
const IDLE_TCP_MS = Number(env.IDLE_TCP_MS ?? 15_000);
const RUN_TIMEOUT_MS = Number(env.RUN_TIMEOUT_MS ?? 900_000);
const DOCKER_CACHE_DISABLED = env.DOCKER_CACHE_DISABLED === '1' || env.DOCKER_CACHE_DISABLED === 'true';
const CASES = (env.CASES ?? 'fluentd,gelf-udp-gzip,gelf-udp-none,gelf-tcp').split(',').map((s) => s.trim()).filter(Boolean);
const IMAGE = 'logfan-test/busybox:latest';
const LOGFAN = `logfan-sfg-${process.pid}`;
const DRAIN = `drain-sfg-${process.pid}`;
const LOGFAN_SOCK = `/run/docker/plugins/${LOGFAN}.sock`;
const DRAIN_SOCK = `/run/docker/plugins/${DRAIN}.sock`;

const round2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null);
const log = (s) => process.stderr.write(s + '\n');

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Kernel UDP counters (all sockets): receive-buffer overflows are where UDP loses datagrams. */
function udpCounters() {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]]));
}

// -------------------------------------------------------------------------------------------------
// Receivers: discard and count. One counter set per run (`cur`), reset before each run.
let cur = null;
const newCounters = () => ({ messages: 0, datagrams: 0, bytes: 0, lastAt: 0n, chunkSets: new Map(), errors: 0 });
function arrived(n) {
  if (!cur || n === 0) return;
  cur.messages += n;
  cur.lastAt = process.hrtime.bigint();
}

/** Array header at pos: [count, headerLength] or null. */
function arrayHeader(buf, pos) {
  const b = buf[pos];
  if ((b & 0xf0) === 0x90) return [b & 0x0f, 1];
  if (b === 0xdc && pos + 3 <= buf.length) return [buf.readUInt16BE(pos + 1), 3];
  if (b === 0xdd && pos + 5 <= buf.length) return [buf.readUInt32BE(pos + 1), 5];
  return null;
}
/** Events in one complete top-level forward-protocol value: Message mode 1, Forward mode N. */
function eventsIn(buf, start, end) {
  const h = arrayHeader(buf, start);
  if (!h) return 0;
  const tagEnd = skipValue(buf, start + h[1]);
  if (tagEnd < 0 || tagEnd >= end) return 0;
  const second = arrayHeader(buf, tagEnd);
  if (second) return second[0]; // Forward mode: [tag, [[time, record], ...], option?]
  const b = buf[tagEnd];
  if (b === 0xc4 || b === 0xc5 || b === 0xc6 || (b & 0xe0) === 0xa0 || b === 0xd9 || b === 0xda || b === 0xdb) {
    // PackedForward: the entries are a msgpack stream inside a str/bin.
    const valEnd = skipValue(buf, tagEnd);
    const hdr = b === 0xc4 || b === 0xd9 ? 2 : b === 0xc5 || b === 0xda ? 3 : b === 0xc6 || b === 0xdb ? 5 : 1;
    let n = 0;
    for (let p = tagEnd + hdr; p < valEnd; n++) p = skipValue(buf, p); // (compressed entries are not counted correctly)
    return n;
  }
  return 1; // Message mode: [tag, time, record, option?]
}

function fluentdReceiver() {
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    let pending = Buffer.alloc(0);
    sock.on('data', (data) => {
      if (cur) cur.bytes += data.length;
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      let pos = 0;
      let n = 0;
      for (;;) {
        let end;
        try {
          end = skipValue(pending, pos);
        } catch {
          if (cur) cur.errors++;
          sock.destroy();
          return;
        }
        if (end < 0) break;
        n += eventsIn(pending, pos, end);
        pos = end;
      }
      pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
      arrived(n);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
  });
  return listenTcp(server, sockets);
}

function gelfTcpReceiver() {
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('data', (data) => {
      if (cur) cur.bytes += data.length;
      let n = 0;
      for (let i = data.indexOf(0); i >= 0; i = data.indexOf(0, i + 1)) n++;
      arrived(n);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
  });
  return listenTcp(server, sockets);
}

function listenTcp(server, sockets) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      }),
    );
  });
}

/** GELF over UDP: unchunked datagrams count as one message, chunks are reassembled by message id. */
function gelfUdpReceiver() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 256 << 20 });
  socket.on('message', (d) => {
    if (!cur) return;
    cur.datagrams++;
    cur.bytes += d.length;
    if (d.length >= 12 && d[0] === 0x1e && d[1] === 0x0f) {
      const id = d.toString('latin1', 2, 10);
      const seq = d[10];
      const count = d[11];
      let set = cur.chunkSets.get(id);
      if (!set) cur.chunkSets.set(id, (set = { count, got: new Set() }));
      set.got.add(seq);
      if (set.got.size === set.count) {
        cur.chunkSets.delete(id);
        arrived(1);
      }
    } else {
      arrived(1);
    }
  });
  socket.on('error', () => undefined);
  return new Promise((resolve) =>
    socket.bind(0, '127.0.0.1', () => {
      try {
        socket.setRecvBufferSize(256 << 20);
      } catch {
        // capped by net.core.rmem_max
      }
      resolve({ port: socket.address().port, recvBuffer: socket.getRecvBufferSize(), close: () => new Promise((r) => socket.close(() => r())) });
    }),
  );
}

// -------------------------------------------------------------------------------------------------

function metricsText() {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: LOGFAN_SOCK, path: '/metrics', method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.end();
  });
}

async function main() {
  if (!fs.existsSync(path.join(repo, 'dist/cli.js'))) throw new Error('run `npm run build` first');
  await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const dockerdPidNow = async () => Number((await run('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  let dockerdPid = await dockerdPidNow();
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-sfg-'));

  const fluentd = await fluentdReceiver();
  const gelfUdp = await gelfUdpReceiver();
  const gelfTcp = await gelfTcpReceiver();

  const logfanEvents = new EventWaiter();
  const logfanLog = fs.createWriteStream(path.join(dataRoot, 'logfan.log'));
  const logfan = startChild(process.execPath, [path.join(repo, 'dist/cli.js'), 'serve', '--socket', LOGFAN_SOCK, '--data-root', dataRoot, '--docker-socket', ''], { LOGFAN_LOG_LEVEL: 'info' }, (l) => {
    logfanLog.write(l + '\n');
    logfanEvents.push(l);
  });
  const drainEvents = new EventWaiter();
  const drain = startChild(process.execPath, [path.join(repo, 'bench/drain-only-plugin.mjs'), DRAIN_SOCK], {}, (l) => drainEvents.push(l));
  const children = [logfan, drain];
  const containers = new Set();
  const cleanup = async () => {
    if (containers.size > 0) await docker('rm', '-f', ...containers).catch(() => undefined);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(500);
    for (const s of [LOGFAN_SOCK, DRAIN_SOCK]) fs.rmSync(s, { force: true });
    await Promise.all([fluentd.close(), gelfUdp.close(), gelfTcp.close()]);
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    await measure();
  } finally {
    await cleanup();
    logfanLog.end();
    fs.rmSync(dataRoot, { recursive: true, force: true });
  }

  async function measure() {
  const t0 = Date.now();
  while (!fs.existsSync(LOGFAN_SOCK) || !fs.existsSync(DRAIN_SOCK)) {
    if (Date.now() - t0 > 20_000) throw new Error('plugins did not start');
    await sleep(50);
  }

  const dockerCache = DOCKER_CACHE_DISABLED ? ['--log-opt', 'cache-disabled=true'] : [];
  const cases = {
    fluentd: {
      target: 0.5,
      receiver: fluentd,
      udp: false,
      opts: () => ['--log-opt', `fluentd-address=127.0.0.1:${fluentd.port}`],
      builtin: 'fluentd',
      sink: 'fluentd',
    },
    'gelf-udp-gzip': {
      target: 0.1,
      receiver: gelfUdp,
      udp: true,
      gzip: true,
      opts: () => ['--log-opt', `gelf-address=udp://127.0.0.1:${gelfUdp.port}`],
      builtin: 'gelf',
      sink: 'gelf',
    },
    'gelf-udp-none': {
      target: 1.0,
      receiver: gelfUdp,
      udp: true,
      opts: () => ['--log-opt', `gelf-address=udp://127.0.0.1:${gelfUdp.port}`, '--log-opt', 'gelf-compression-type=none'],
      builtin: 'gelf',
      sink: 'gelf',
    },
    'gelf-tcp': {
      target: 1.0,
      receiver: gelfTcp,
      udp: false,
      opts: () => ['--log-opt', `gelf-address=tcp://127.0.0.1:${gelfTcp.port}`],
      builtin: 'gelf',
      sink: 'gelf',
    },
  };
  for (const c of CASES) if (!cases[c]) throw new Error(`unknown case ${c}; known: ${Object.keys(cases).join(', ')}`);

  const driverArgs = (c, driver) => {
    if (driver === 'docker') return ['--log-driver', c.builtin, ...dockerCache, ...c.opts()];
    if (driver === 'drain') return ['--log-driver', DRAIN, '--log-opt', 'cache-disabled=true'];
    // queue-full=block: the container waits for a slow sink as it does with Docker's drivers, so
    // both are timed until every line has arrived (the default, drop-newest, would drop instead).
    return ['--log-driver', LOGFAN, '--log-opt', 'local-store=false', '--log-opt', `queue-full=${env.QUEUE_FULL ?? 'block'}`, '--log-opt', `sinks=${c.sink}`, ...c.opts()];
  };

  /** One measurement; redone (up to twice) when dockerd went away under it (the machine is shared). */
  async function once(caseName, driver, lines) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await measureOnce(caseName, driver, lines);
      } catch (err) {
        cur = null;
        if (attempt >= 2) throw err;
        log(`${caseName} ${driver}: ${err.message.split('\n').slice(0, 2).join(' ')}; waiting for dockerd and redoing the run`);
        for (const id of containers) await docker('rm', '-f', id).then(() => containers.delete(id), () => undefined);
        const until = Date.now() + 180_000;
        for (;;) {
          try {
            await docker('info', '--format', '{{.ServerVersion}}');
            break;
          } catch {
            if (Date.now() > until) throw err;
            await sleep(2000);
          }
        }
        dockerdPid = await dockerdPidNow();
        drainEvents.lines.length = 0;
      }
    }
  }

  async function measureOnce(caseName, driver, lines) {
    const c = cases[caseName];
    const script = `seq -w 1 ${lines} | sed 's/^/payload-xxxxxxxxxxxxxxxxxxxxxxxx-/'`;
    const counters = newCounters();
    cur = counters;
    const udp0 = udpCounters();
    const cpu0 = { dockerd: cpuSeconds(dockerdPid), logfan: cpuSeconds(logfan.pid), drain: cpuSeconds(drain.pid), bench: selfCpu() };
    const start = process.hrtime.bigint();
    const id = await docker('run', '-d', '--network', 'none', ...driverArgs(c, driver), IMAGE, 'sh', '-c', script);
    containers.add(id);
    let exited = false;
    let exitedAt = 0;
    let waitError = null;
    const waited = docker('wait', id).then(
      () => {
        exited = true;
        exitedAt = Date.now();
      },
      (err) => {
        waitError = err;
        exited = true;
        exitedAt = Date.now();
      },
    );
    let end;
    let timedOut = false;
    if (driver === 'drain') {
      await waited;
      if (waitError) throw waitError;
      await drainEvents.waitFor((l) => l.includes('"eof"'), RUN_TIMEOUT_MS);
      end = process.hrtime.bigint();
    } else {
      const idle = c.udp ? IDLE_UDP_MS : IDLE_TCP_MS;
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      let lastCount = -1;
      let lastChange = Date.now();
      for (;;) {
        if (counters.messages >= lines) break;
        if (counters.messages !== lastCount) {
          lastCount = counters.messages;
          lastChange = Date.now();
        }
        const now = Date.now();
        if (exited && now - Math.max(lastChange, exitedAt) > idle) break;
        if (now > deadline) {
          timedOut = true;
          break;
        }
        await sleep(20);
      }
      await waited;
      if (waitError) throw waitError;
      end = counters.lastAt || process.hrtime.bigint();
    }
    const seconds = Number(end - start) / 1e9;
    let logfanStats = null;
    if (driver === 'logfan') {
      const line = await logfanEvents.waitFor((l) => l.includes('logging stopped') && l.includes(id.slice(0, 12)), 120_000).catch(() => null);
      try {
        logfanStats = line ? JSON.parse(line) : null;
      } catch {
        logfanStats = { raw: line };
      }
    }
    const udp1 = udpCounters();
    const cpu = {
      dockerd: cpuSeconds(dockerdPid) - cpu0.dockerd,
      logfan: cpuSeconds(logfan.pid) - cpu0.logfan,
      drain: cpuSeconds(drain.pid) - cpu0.drain,
      bench: selfCpu() - cpu0.bench,
    };
    cur = null;
    await docker('rm', '-f', id);
    containers.delete(id);
    const sink = logfanStats?.sinks?.[c.sink] ?? null;
    return {
      id,
      seconds,
      arrived: driver === 'drain' ? null : counters.messages,
      lost: driver === 'drain' ? null : lines - counters.messages,
      datagrams: counters.datagrams,
      incompleteChunked: counters.chunkSets.size,
      receiverErrors: counters.errors,
      kernelUdpRcvbufErrors: udp1.RcvbufErrors - udp0.RcvbufErrors,
      timedOut,
      cpu,
      logfanSink: sink,
    };
  }

  const drivers = ['docker', 'drain', 'logfan'];
  const results = {};
  for (const name of CASES) results[name] = { docker: [], drain: [], logfan: [] };
  const maxRounds = Math.max(...CASES.map((n) => (cases[n].gzip ? ROUNDS_GZIP : ROUNDS)));
  for (let round = 0; round < maxRounds; round++) {
    for (const name of CASES) {
      const c = cases[name];
      const rounds = c.gzip ? ROUNDS_GZIP : ROUNDS;
      if (round >= rounds) continue;
      const lines = c.gzip ? LINES_GZIP : LINES;
      for (let k = 0; k < drivers.length; k++) {
        const driver = drivers[(k + round) % drivers.length];
        const r = await once(name, driver, lines);
        results[name][driver].push(r);
        const extra = driver === 'drain' ? '' : ` arrived ${r.arrived}/${lines}${r.lost ? ` LOST ${r.lost}` : ''}${c.udp ? ` (kernel rcvbuf errors +${r.kernelUdpRcvbufErrors})` : ''}${r.timedOut ? ' TIMED OUT' : ''}`;
        const sinkInfo = r.logfanSink ? ` logfan sink: sent ${r.logfanSink.sent} dropped ${r.logfanSink.dropped}` : '';
        log(`round ${round + 1} ${name} ${driver}: ${r.seconds.toFixed(2)} s${extra} (CPU dockerd ${r.cpu.dockerd.toFixed(2)} s, logfan ${r.cpu.logfan.toFixed(2)} s, drain ${r.cpu.drain.toFixed(2)} s, receiver ${r.cpu.bench.toFixed(2)} s)${sinkInfo}`);
      }
    }
  }

  const metrics = await metricsText();
  const report = {
    command: `node bench/sinks-fluentd-gelf.mjs`,
    env: { LINES, ROUNDS, LINES_GZIP, ROUNDS_GZIP, IDLE_UDP_MS, IDLE_TCP_MS, DOCKER_CACHE_DISABLED },
    dockerBuiltinCache: DOCKER_CACHE_DISABLED ? 'disabled (cache-disabled=true)' : 'Docker default (dual-logging cache on)',
    cpus: os.cpus().length,
    udpRecvBufferBytes: gelfUdp.recvBuffer,
    cases: {},
    logfanDroppedMetricLines: metrics.split('\n').filter((l) => /drop/i.test(l) && !l.startsWith('#')),
  };
  for (const name of CASES) {
    const c = cases[name];
    const rs = results[name];
    const med = (d, f) => median(rs[d].map(f));
    const s = { docker: med('docker', (r) => r.seconds), drain: med('drain', (r) => r.seconds), logfan: med('logfan', (r) => r.seconds) };
    const lines = c.gzip ? LINES_GZIP : LINES;
    report.cases[name] = {
      lines,
      rounds: rs.logfan.length,
      seconds: { docker: round2(s.docker), drain: round2(s.drain), logfan: round2(s.logfan) },
      ratio: { 'logfan/docker': round2(s.logfan / s.docker), 'logfan/drain': round2(s.logfan / s.drain), 'drain/docker': round2(s.drain / s.docker) },
      target: `logfan/docker <= ${c.target}`,
      meetsTarget: s.logfan / s.docker <= c.target,
      linesPerSecond: { docker: Math.round(lines / s.docker), drain: Math.round(lines / s.drain), logfan: Math.round(lines / s.logfan) },
      lostPerRound: { docker: rs.docker.map((r) => r.lost), logfan: rs.logfan.map((r) => r.lost) },
      ...(c.udp ? { kernelUdpRcvbufErrorsPerRound: { docker: rs.docker.map((r) => r.kernelUdpRcvbufErrors), logfan: rs.logfan.map((r) => r.kernelUdpRcvbufErrors) } } : {}),
      logfanSinkDroppedPerRound: rs.logfan.map((r) => r.logfanSink?.dropped ?? null),
      logfanSinkSentPerRound: rs.logfan.map((r) => r.logfanSink?.sent ?? null),
      cpuSecondsMedian: {
        'dockerd (docker)': round2(med('docker', (r) => r.cpu.dockerd)),
        'dockerd (drain)': round2(med('drain', (r) => r.cpu.dockerd)),
        'dockerd (logfan)': round2(med('logfan', (r) => r.cpu.dockerd)),
        drain: round2(med('drain', (r) => r.cpu.drain)),
        logfan: round2(med('logfan', (r) => r.cpu.logfan)),
        'receiver (docker)': round2(med('docker', (r) => r.cpu.bench)),
        'receiver (logfan)': round2(med('logfan', (r) => r.cpu.bench)),
      },
      logfanCpuMicrosPerLine: round2((med('logfan', (r) => r.cpu.logfan) * 1e6) / lines),
      anyTimedOut: [...rs.docker, ...rs.logfan].some((r) => r.timedOut),
      ...(rs.logfan.some((r) => r.lost > 0) || rs.docker.some((r) => r.lost > 0)
        ? { warning: 'lines were lost: the time is to the LAST arrival, so a driver that dropped lines looks faster than it is; compare lostPerRound before the ratios' }
        : {}),
    };
  }
  console.log(JSON.stringify(report, null, 2));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
