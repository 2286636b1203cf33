#!/usr/bin/env node
// Fan-out cost, in ONE run so the ratio is fair on a shared, noisy machine. Target (the issue):
// "fan-out to json-file + fluentd + gelf ≤ 1.5× the time of json-file alone for 1,000,000 lines".
// The same `seq 1 LINES` container through
//   (a) logfan, sinks=json-file (the store alone),
//   (b) logfan, sinks=json-file,fluentd,gelf (gelf over TCP), queue-full=block and a queue large
//       enough (QUEUE_SIZE) that nothing is dropped, to receivers in this process: a fluentd
//       Forward receiver (ForwardLogCounter: finds each event's `log` without decoding the rest;
//       FLUENTD_RECEIVER=decode for ForwardCounter, which decodes every event: more CPU on the
//       cores logfan shares) and a GELF TCP receiver (GelfTcpCounter: counts
//       NUL-terminated messages); both note which numbers arrived,
//   (c) Docker's own json-file, as a reference (DOCKER_REF=0 to leave it out).
// Each run is timed from `docker run` until the container exited AND every line is in the
// json-file store (logfan's "logging stopped", after the sinks closed) AND, for (b), every line
// arrived at both receivers. Rounds are interleaved (the order rotates per round), medians
// reported. (a) and (b) run in two logfan processes, so each one's CPU and peak RSS are its own.
// The stores and the receivers are checked afterwards: every number once, in order (lines lost
// must be 0).
//
//   npm run build && node bench/fanout.mjs
//   env: LINES=1000000 ROUNDS=3 WARMUP_LINES=50000 (one uncounted run per variant first; 0: none)
//        QUEUE_SIZE=256m DOCKER_REF=1 IDLE_MS=15000 RUN_TIMEOUT_MS=900000
//        FLUENTD_RECEIVER=light|decode
//        LOGFAN_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (node flags for the two sidecars)
// Needs a running dockerd and the logfan-test/busybox image (scripts/make-test-image.sh).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { jsonLogPath } from '../dist/sinks/json-file/index.js';
import {
  EventWaiter,
  ForwardCounter,
  ForwardLogCounter,
  GelfTcpCounter,
  SeqTally,
  checkSeqStore,
  cpuSeconds,
  decimalAt,
  docker,
  gelfSeqNumber,
  median,
  peakRssMb,
  resetPeakRss,
  sleep,
  startChild,
} from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const env = process.env;
const LINES = Number(env.LINES ?? 1_000_000);
const ROUNDS = Number(env.ROUNDS ?? 3);
const QUEUE_SIZE = env.QUEUE_SIZE ?? '256m';
const DOCKER_REF = env.DOCKER_REF !== '0' && env.DOCKER_REF !== 'false';
const IDLE_MS = Number(env.IDLE_MS ?? 15_000);
const WARMUP_LINES = Number(env.WARMUP_LINES ?? 50_000);
const FLUENTD_RECEIVER = env.FLUENTD_RECEIVER === 'decode' ? 'decode' : 'light';
const RUN_TIMEOUT_MS = Number(env.RUN_TIMEOUT_MS ?? 900_000);
const TARGET = 1.5;
const IMAGE = 'logfan-test/busybox:latest';

const log = (s) => process.stderr.write(s + '\n');
const r2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null);
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** A logfan sidecar of its own: the hrtime at which each line was printed, for precise end times. */
function startLogfan(name, dataRoot) {
  const socket = `/run/docker/plugins/${name}.sock`;
  const events = new EventWaiter();
  const out = fs.createWriteStream(path.join(dataRoot, `${name}.log`));
  const nodeArgs = (env.LOGFAN_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = startChild(process.execPath, [...nodeArgs, path.join(repo, 'dist/cli.js'), 'serve', '--socket', socket, '--data-root', dataRoot, '--docker-socket', ''], { LOGFAN_LOG_LEVEL: 'info' }, (l) => {
    out.write(l + '\n');
    events.push({ at: process.hrtime.bigint(), line: l });
  });
  return { name, socket, dataRoot, events, child, out };
}

async function main() {
  if (!fs.existsSync(path.join(repo, 'dist/cli.js'))) throw new Error('run `npm run build` first');
  await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const dockerdPid = Number((await run('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-fanout-'));

  // Receivers: one tally per run (`cur`), null between runs.
  let cur = null;
  // FLUENTD_RECEIVER=light (default): ForwardLogCounter, which only finds each event's `log` bytes;
  // =decode: ForwardCounter, which decodes every event into objects (~1 µs more CPU per event on
  // the trial machine, taken from the cores logfan and dockerd run on).
  const fluentd =
    FLUENTD_RECEIVER === 'decode'
      ? new ForwardCounter((rec) => {
          if (!cur) return;
          const v = rec?.log;
          cur.fluentd.add(typeof v === 'string' ? Number(v) : Buffer.isBuffer(v) ? Number(v.toString('latin1')) : NaN);
        })
      : new ForwardLogCounter((buf, start, end) => {
          if (cur) cur.fluentd.add(decimalAt(buf, start, end));
        });
  await fluentd.start();
  const gelf = new GelfTcpCounter((buf, start, end) => {
    if (cur) cur.gelf.add(gelfSeqNumber(buf, start, end));
  });
  await gelf.start();

  const rootA = path.join(tmp, 'a');
  const rootB = path.join(tmp, 'b');
  fs.mkdirSync(rootA);
  fs.mkdirSync(rootB);
  const lfA = startLogfan(`logfan-fan-a-${process.pid}`, rootA);
  const lfB = startLogfan(`logfan-fan-b-${process.pid}`, rootB);
  const containers = new Set();
  const cleanup = async () => {
    if (containers.size > 0) await docker('rm', '-f', ...containers).catch(() => undefined);
    for (const lf of [lfA, lfB]) if (lf.child.exitCode === null) lf.child.kill('SIGTERM');
    await sleep(500);
    for (const lf of [lfA, lfB]) {
      fs.rmSync(lf.socket, { force: true });
      lf.out.end();
    }
    await Promise.all([fluentd.stop({ graceful: false }), gelf.stop()]);
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    const t0 = Date.now();
    while (!fs.existsSync(lfA.socket) || !fs.existsSync(lfB.socket)) {
      if (Date.now() - t0 > 20_000) throw new Error('logfan did not start');
      await sleep(50);
    }
    await measure();
  } finally {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  async function measure() {
    const variants = {
      'logfan json-file': {
        logfan: lfA,
        opts: () => ['--log-driver', lfA.name, '--log-opt', 'cache-disabled=true', '--log-opt', 'max-size=1g', '--log-opt', 'sinks=json-file'],
      },
      'logfan json-file+fluentd+gelf': {
        logfan: lfB,
        fanout: true,
        opts: () => [
          '--log-driver', lfB.name,
          '--log-opt', 'cache-disabled=true',
          '--log-opt', 'max-size=1g',
          '--log-opt', 'sinks=json-file,fluentd,gelf',
          '--log-opt', `fluentd-address=127.0.0.1:${fluentd.port}`,
          '--log-opt', `gelf-address=tcp://127.0.0.1:${gelf.port}`,
          '--log-opt', 'queue-full=block',
          '--log-opt', `queue-size=${QUEUE_SIZE}`,
        ],
      },
      ...(DOCKER_REF ? { 'docker json-file': { opts: () => ['--log-driver', 'json-file', '--log-opt', 'max-size=1g'] } } : {}),
    };
    const names = Object.keys(variants);

    async function once(name, lines = LINES) {
      const v = variants[name];
      const lf = v.logfan;
      const state = v.fanout ? { fluentd: new SeqTally(lines), gelf: new SeqTally(lines) } : null;
      const rssReset = lf ? resetPeakRss(lf.child.pid) : false;
      const cpu0 = { logfan: lf ? cpuSeconds(lf.child.pid) : 0, dockerd: cpuSeconds(dockerdPid), bench: selfCpu() };
      cur = state;
      const start = process.hrtime.bigint();
      const id = await docker('run', '-d', '--network', 'none', ...v.opts(), IMAGE, 'seq', '1', String(lines));
      containers.add(id);
      await docker('wait', id);
      const exitedAt = process.hrtime.bigint();
      let storedAt = exitedAt;
      let stats = null;
      if (lf) {
        const ev = await lf.events.waitFor((e) => e.line.includes('logging stopped') && e.line.includes(id.slice(0, 12)), RUN_TIMEOUT_MS);
        storedAt = ev.at;
        try {
          stats = JSON.parse(ev.line);
        } catch {
          stats = null;
        }
      }
      let timedOut = false;
      if (state) {
        // Wait for every line at both receivers, or for nothing more to arrive for IDLE_MS.
        const deadline = Date.now() + RUN_TIMEOUT_MS;
        let last = -1;
        let lastChange = Date.now();
        while (state.fluentd.completeAt === 0n || state.gelf.completeAt === 0n) {
          const n = state.fluentd.events + state.gelf.events;
          if (n !== last) {
            last = n;
            lastChange = Date.now();
          }
          if (Date.now() - lastChange > IDLE_MS || Date.now() > deadline) {
            timedOut = true;
            break;
          }
          await sleep(10);
        }
      }
      const ends = [exitedAt, storedAt];
      if (state) for (const t of [state.fluentd, state.gelf]) ends.push(t.completeAt || t.lastAt || exitedAt);
      const end = ends.reduce((a, b) => (b > a ? b : a));
      const seconds = Number(end - start) / 1e9;
      cur = null;
      const cpu = { logfan: lf ? cpuSeconds(lf.child.pid) - cpu0.logfan : null, dockerd: cpuSeconds(dockerdPid) - cpu0.dockerd, receivers: selfCpu() - cpu0.bench };
      const rss = lf ? peakRssMb(lf.child.pid) : null;
      const store = lf ? checkSeqStore(jsonLogPath(lf.dataRoot, id), lines) : null;
      const sinks = stats?.sinks ?? {};
      const result = {
        id,
        seconds,
        after: { exited: Number(exitedAt - start) / 1e9, stored: Number(storedAt - start) / 1e9, fluentd: state ? Number((state.fluentd.completeAt || state.fluentd.lastAt) - start) / 1e9 : null, gelf: state ? Number((state.gelf.completeAt || state.gelf.lastAt) - start) / 1e9 : null },
        cpu,
        peakRssMb: rss,
        rssReset,
        store,
        fluentd: state?.fluentd.summary() ?? null,
        gelf: state?.gelf.summary() ?? null,
        lost: { store: store ? store.missing : null, fluentd: state ? state.fluentd.missing : null, gelf: state ? state.gelf.missing : null },
        dropped: Object.fromEntries(Object.entries(sinks).map(([k, s]) => [k, s.dropped ?? s.bytesDropped ?? 0])),
        logfanStats: stats ? { reads: stats.reads, bytesRead: stats.bytesRead, frames: stats.frames, sinks: stats.sinks } : null,
        timedOut,
      };
      await docker('rm', '-f', id);
      containers.delete(id);
      if (lf) await fs.promises.rm(path.dirname(jsonLogPath(lf.dataRoot, id)), { recursive: true, force: true });
      return result;
    }

    // Not counted: each sidecar is a process of its own, so both get their code warm (JIT) first.
    if (WARMUP_LINES > 0) {
      for (const name of names) {
        const r = await once(name, WARMUP_LINES);
        const lost = Object.values(r.lost).reduce((s2, v2) => s2 + (v2 ?? 0), 0);
        log(`warm-up ${name}: ${r.seconds.toFixed(2)} s (${WARMUP_LINES} lines${lost ? `, LOST ${lost}` : ''})`);
      }
    }
    const results = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + round) % names.length];
        const r = await once(name);
        results[name].push(r);
        const lost = Object.entries(r.lost).filter(([, v]) => v !== null).map(([k2, v]) => `${k2} ${v}`).join(', ');
        const after = `exit ${r.after.exited.toFixed(2)}${r.store ? ` store ${r.after.stored.toFixed(2)}` : ''}${r.fluentd ? ` fluentd ${r.after.fluentd.toFixed(2)} gelf ${r.after.gelf.toFixed(2)}` : ''}`;
        log(
          `round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s (${after}) CPU logfan ${r.cpu.logfan?.toFixed(2) ?? '-'} s, dockerd ${r.cpu.dockerd.toFixed(2)} s, receivers ${r.cpu.receivers.toFixed(2)} s` +
            `${r.peakRssMb ? `, peak RSS ${r.peakRssMb.toFixed(0)} MB` : ''}${lost ? `; lost: ${lost}` : ''}${r.timedOut ? ' TIMED OUT' : ''}`,
        );
      }
    }

    const med = (n, f) => median(results[n].map(f));
    const a = 'logfan json-file';
    const b = 'logfan json-file+fluentd+gelf';
    const c = 'docker json-file';
    const sa = med(a, (r) => r.seconds);
    const sb = med(b, (r) => r.seconds);
    const sc = DOCKER_REF ? med(c, (r) => r.seconds) : NaN;
    const lostTotal = [...results[a], ...results[b]].reduce((s, r) => s + (r.lost.store ?? 0) + (r.lost.fluentd ?? 0) + (r.lost.gelf ?? 0), 0);
    const report = {
      command: 'node bench/fanout.mjs',
      env: { LINES, ROUNDS, WARMUP_LINES, QUEUE_SIZE, DOCKER_REF, IDLE_MS, FLUENTD_RECEIVER },
      cpus: os.cpus().length,
      loadavgAtEnd: os.loadavg().map(r2),
      seconds: { [a]: r2(sa), [b]: r2(sb), ...(DOCKER_REF ? { [c]: r2(sc) } : {}) },
      linesPerSecond: { [a]: Math.round(LINES / sa), [b]: Math.round(LINES / sb), ...(DOCKER_REF ? { [c]: Math.round(LINES / sc) } : {}) },
      ratio: { 'fanout/json-file (b/a)': r2(sb / sa), ...(DOCKER_REF ? { 'logfan json-file/docker json-file (a/c)': r2(sa / sc), 'fanout/docker json-file (b/c)': r2(sb / sc) } : {}) },
      target: `b/a <= ${TARGET}`,
      meetsTarget: sb / sa <= TARGET && lostTotal === 0,
      secondsPerRound: Object.fromEntries(names.map((n) => [n, results[n].map((r) => r2(r.seconds))])),
      fanoutDoneAfterMedian: {
        exited: r2(med(b, (r) => r.after.exited)),
        stored: r2(med(b, (r) => r.after.stored)),
        fluentd: r2(med(b, (r) => r.after.fluentd)),
        gelf: r2(med(b, (r) => r.after.gelf)),
      },
      cpuSecondsMedian: {
        [`logfan (${a})`]: r2(med(a, (r) => r.cpu.logfan)),
        [`logfan (${b})`]: r2(med(b, (r) => r.cpu.logfan)),
        [`dockerd (${a})`]: r2(med(a, (r) => r.cpu.dockerd)),
        [`dockerd (${b})`]: r2(med(b, (r) => r.cpu.dockerd)),
        ...(DOCKER_REF ? { [`dockerd (${c})`]: r2(med(c, (r) => r.cpu.dockerd)) } : {}),
        [`receivers in this process (${b})`]: r2(med(b, (r) => r.cpu.receivers)),
      },
      logfanCpuMicrosPerLine: { [a]: r2((med(a, (r) => r.cpu.logfan) * 1e6) / LINES), [b]: r2((med(b, (r) => r.cpu.logfan) * 1e6) / LINES) },
      logfanPeakRssMb: {
        [a]: { median: r2(med(a, (r) => r.peakRssMb)), max: r2(Math.max(...results[a].map((r) => r.peakRssMb))) },
        [b]: { median: r2(med(b, (r) => r.peakRssMb)), max: r2(Math.max(...results[b].map((r) => r.peakRssMb))) },
        perRunReset: results[a].concat(results[b]).every((r) => r.rssReset),
      },
      linesLost: {
        total: lostTotal,
        perRound: {
          [a]: results[a].map((r) => ({ store: r.lost.store })),
          [b]: results[b].map((r) => r.lost),
        },
        droppedBySinksPerRound: { [b]: results[b].map((r) => r.dropped) },
        checks: {
          [a]: results[a].map((r) => r.store),
          [b]: results[b].map((r) => ({ store: r.store, fluentd: r.fluentd, gelf: r.gelf })),
        },
      },
      receiverErrors: { fluentd: fluentd.errors.length, fluentdConnections: fluentd.connections, gelfConnections: gelf.connections },
      ...(fluentd.errors.length ? { fluentdReceiverError: String(fluentd.errors[0]) } : {}),
      anyTimedOut: [...results[b]].some((r) => r.timedOut),
      // From logfan's "logging stopped" line: FIFO reads (fewer, fuller reads = the pipe was kept
      // full) and every sink's counters.
      logfanStatsLastRound: { [a]: results[a].at(-1).logfanStats, [b]: results[b].at(-1).logfanStats },
    };
    if (lostTotal > 0) report.warning = 'lines were lost: the time is to the LAST arrival, so the fan-out looks faster than it is; see linesLost';
    console.log(JSON.stringify(report, null, 2));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
