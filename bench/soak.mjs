#!/usr/bin/env node
// Soak: many containers log steadily for a long while to json-file and fluentd, while the fluentd
// server goes away and comes back (flaps) every SOAK_FLAP_SECONDS. logfan's memory (VmRSS) and
// open fds are sampled every 5 s. At the end the containers are stopped and the accounting done:
//   - each container's json-file store holds line-1 … line-N once and in order, N being the count
//     the container printed last (to stderr, `total-N`, after its loop ended on SIGTERM);
//   - fluentd: events received + events the sink counted as lost (dropped, lostInWrite) = events
//     the container logged (its N lines and the total line); nothing twice;
//   - logfan's fds are back to where they were before the containers started.
// Prints the memory curve (time, RSS, V8 heap used, external memory, fds), peak RSS (VmHWM) and a JSON report; exits 1 when the
// accounting does not add up.
//
//   npm run build && node bench/soak.mjs
//   env: SOAK_MINUTES=10 SOAK_CONTAINERS=100 SOAK_FLAP_SECONDS=20 SOAK_RATE=100 (lines/s per container)
//        SOAK_FLAP_MODE=graceful|hard (hard: connections dropped at once, as in a crash: what was in
//        flight is lost without the sink knowing, reported as uncounted loss, not a failure)
//        SOAK_SAMPLE_SECONDS=5 SOAK_KEEP=1 (keep the data root) SOAK_METRICS_PORT=19464 (logfan's
//        /metrics, read for the heap and external-memory columns of the curve)
// Needs a running dockerd and the logfan-test/busybox image (scripts/make-test-image.sh).
//
// runSoak() is also what test/e2e/soak.e2e.test.ts runs, smaller, against the harness's logfan.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ForwardCounter, LOGFAN_NODE_FLAGS, LineTally, checkNumberedStore, docker, procSample, sleep, startChild } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
export const IMAGE = 'logfan-test/busybox:latest';

/**
 * numbered lines in bursts of 10 (one usleep fork per burst, not per line); on SIGTERM the loop
 * ends after the current burst and the count goes to stderr, so the total is exact.
 */
export function soakScript(linesPerSecond) {
  const burst = 10;
  const pauseUs = Math.max(1000, Math.round((burst / linesPerSecond) * 1e6));
  return `trap "stop=1" TERM; i=0; while [ -z "$stop" ]; do j=0; while [ $j -lt ${burst} ]; do i=$((i+1)); j=$((j+1)); echo line-$i; done; usleep ${pauseUs}; done; echo total-$i >&2`;
}

/** fn over items, `size` at a time; every call in a batch settles before a failure is thrown. */
async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) {
    const settled = await Promise.allSettled(items.slice(i, i + size).map(fn));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    out.push(...settled.map((r) => r.value));
  }
  return out;
}

/**
 * Runs the soak against a logfan that is already serving `driver`.
 *   opts: containers, durationMs, flapMs, linesPerSecond, driver, pid (logfan's), label,
 *         jsonLogPath(id), waitStopped(id, timeoutMs) → the `logging stopped` line's sinks stats,
 *         sampleMs, flapMode ('graceful' | 'hard'), log(text)
 * Returns the report (see the bottom); the caller judges it.
 */
export async function runSoak(opts) {
  const log = opts.log ?? ((s) => process.stderr.write(s + '\n'));
  const sampleMs = opts.sampleMs ?? 5000;
  const flapMode = opts.flapMode ?? 'graceful';
  const tally = new LineTally();
  const receiver = new ForwardCounter((rec) => {
    const id = rec.container_id;
    const text = Buffer.isBuffer(rec.log) ? rec.log.toString('utf8') : String(rec.log ?? '');
    tally.add(typeof id === 'string' ? id : String(id), text);
  });
  await receiver.start();
  const t0 = Date.now();
  const at = () => +((Date.now() - t0) / 1000).toFixed(1);
  const samples = [];
  // With opts.metricsUrl: logfan's heap and external (ArrayBuffer) memory beside the RSS, from its /metrics.
  const memory = { heapMb: NaN, externalMb: NaN };
  const readMemory = async () => {
    if (!opts.metricsUrl) return;
    try {
      const text = await (await fetch(opts.metricsUrl)).text();
      const kind = (k) => Number(new RegExp(`logfan_process_memory_bytes\\{kind="${k}"\\} (\\S+)`).exec(text)?.[1]) / 1048576;
      memory.heapMb = +kind('heapUsed').toFixed(1);
      memory.externalMb = +kind('external').toFixed(1);
    } catch {
      // logfan busy or gone: the last values stay
    }
  };
  const sample = (phase) => {
    const s = procSample(opts.pid);
    samples.push({ t: at(), phase, rssMb: +s.rssMb.toFixed(1), heapMb: memory.heapMb, externalMb: memory.externalMb, fds: s.fds, fluentdUp: receiver.up, received: receiver.events });
    void readMemory();
    return s;
  };
  const start = sample('before');
  const sampler = setInterval(() => sample('run'), sampleMs);
  const ids = [];
  let flapper = null;
  let flaps = 0;
  try {
    const script = soakScript(opts.linesPerSecond);
    const logOpts = ['--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${receiver.port}`];
    const startT = Date.now();
    await inBatches(Array.from({ length: opts.containers }, (_, i) => i), 10, async () => {
      const id = await docker('run', '-d', '--network', 'none', '--label', opts.label, '--log-driver', opts.driver, ...logOpts, IMAGE, 'sh', '-c', script);
      ids.push(id);
      return id;
    });
    const startSeconds = (Date.now() - startT) / 1000;
    log(`[soak] ${ids.length} containers started in ${startSeconds.toFixed(1)} s; logging for ${(opts.durationMs / 1000).toFixed(0)} s, fluentd flapping every ${opts.flapMs / 1000} s (${flapMode})`);

    // The fluentd server goes away and comes back.
    let flapping = Promise.resolve();
    flapper = setInterval(() => {
      flapping = flapping.then(async () => {
        flaps++;
        if (receiver.up) await receiver.stop({ graceful: flapMode !== 'hard' });
        else await receiver.start();
        log(`[soak] t=${at()} s fluentd ${receiver.up ? 'up' : 'down'} (${receiver.events} events so far), logfan RSS ${procSample(opts.pid).rssMb.toFixed(1)} MB`);
      });
    }, opts.flapMs);
    await sleep(opts.durationMs);
    clearInterval(flapper);
    flapper = null;
    await flapping;
    // Up for the end, so that what is queued can go.
    if (!receiver.up) await receiver.start();
    sample('end of run');

    const stopT = Date.now();
    await docker('stop', '-t', '30', ...ids);
    const dockerStopMs = Date.now() - stopT;
    const finals = await Promise.all(ids.map((id) => opts.waitStopped(id, 120_000)));
    const allStoppedMs = Date.now() - stopT;
    // The sinks have closed; let what is still on the wire arrive.
    let last = -1;
    while (receiver.events !== last) {
      last = receiver.events;
      await sleep(1000);
    }
    clearInterval(sampler);
    // Sockets closing after the sinks closed (fluentd ends its connection, then waits up to 1 s).
    let end = sample('after stop');
    for (let i = 0; i < 20 && end.fds > start.fds + 5; i++) {
      await sleep(500);
      end = sample('after stop');
    }
    const hwm = procSample(opts.pid).hwmMb;

    // ------------------------------------------------------------------ accounting
    const perContainer = [];
    for (const [i, id] of ids.entries()) {
      const store = checkNumberedStore(opts.jsonLogPath(id));
      const f = finals[i]?.fluentd ?? {};
      const got = tally.get(id);
      // The container's events: its numbered lines and the total line.
      const logged = store.total === null ? store.count : store.total + 1;
      const counted = (f.dropped ?? 0) + (f.lostInWrite ?? 0);
      perContainer.push({
        id: id.slice(0, 12),
        store,
        logged,
        fluentd: { received: got.events, distinct: got.distinct, duplicates: got.duplicates, outOfOrder: got.outOfOrder, sent: f.sent, dropped: f.dropped, lostInWrite: f.lostInWrite, reconnects: f.reconnects },
        uncounted: logged - got.events - counted,
      });
    }
    const sum = (f) => perContainer.reduce((a, c) => a + f(c), 0);
    const runSamples = samples.filter((s) => s.phase !== 'after stop');
    const report = {
      containers: ids.length,
      startSeconds,
      runSeconds: opts.durationMs / 1000,
      flapSeconds: opts.flapMs / 1000,
      flapMode,
      flaps,
      linesPerSecondPerContainer: +(sum((c) => c.store.count) / ids.length / ((opts.durationMs + startSeconds * 500) / 1000)).toFixed(1),
      dockerStopMs,
      allStoppedMs,
      rss: {
        startMb: +start.rssMb.toFixed(1),
        peakSampledMb: Math.max(...runSamples.map((s) => s.rssMb)),
        peakHwmMb: +hwm.toFixed(1),
        endMb: +end.rssMb.toFixed(1),
      },
      fds: { start: start.fds, peak: Math.max(...samples.map((s) => s.fds)), end: end.fds },
      json: {
        lines: sum((c) => c.store.count),
        containersOk: perContainer.filter((c) => c.store.ok && c.store.total !== null).length,
        gaps: sum((c) => c.store.gaps),
        outOfOrder: sum((c) => c.store.outOfOrder),
        withoutTotal: perContainer.filter((c) => c.store.total === null).length,
      },
      fluentd: {
        logged: sum((c) => c.logged),
        received: sum((c) => c.fluentd.received),
        sent: sum((c) => c.fluentd.sent ?? 0),
        dropped: sum((c) => c.fluentd.dropped ?? 0),
        lostInWrite: sum((c) => c.fluentd.lostInWrite ?? 0),
        uncounted: sum((c) => c.uncounted),
        duplicates: sum((c) => c.fluentd.duplicates),
        outOfOrder: sum((c) => c.fluentd.outOfOrder),
        receiverConnections: receiver.connections,
        receiverErrors: receiver.errors.map((e) => e.message).slice(0, 5),
        forcedCloses: receiver.forcedCloses,
      },
      samples,
      bad: perContainer.filter((c) => !c.store.ok || c.store.total === null || c.uncounted !== 0 || c.fluentd.duplicates > 0).slice(0, 10),
    };
    return report;
  } finally {
    if (flapper) clearInterval(flapper);
    clearInterval(sampler);
    await receiver.stop({ graceful: false }).catch(() => undefined);
    if (!opts.keepContainers && ids.length > 0) await docker('rm', '-f', ...ids).catch(() => undefined);
  }
}

/** The RSS curve as text: one row per sample. */
export function formatCurve(samples) {
  const rows = ['     t s   RSS MB  heap MB   ext MB    fds  fluentd  events received'];
  const mb = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-').padStart(8);
  for (const s of samples) rows.push(`${String(s.t).padStart(8)} ${mb(s.rssMb)} ${mb(s.heapMb)} ${mb(s.externalMb)} ${String(s.fds).padStart(6)}  ${(s.fluentdUp ? 'up' : 'down').padEnd(7)}  ${s.received}  ${s.phase === 'run' ? '' : `(${s.phase})`}`);
  return rows.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The bench: its own sidecar (dist/cli.js serve) on its own socket and data root.

async function main() {
  const env = process.env;
  const minutes = Number(env.SOAK_MINUTES ?? 10);
  const containers = Number(env.SOAK_CONTAINERS ?? 100);
  const flapSeconds = Number(env.SOAK_FLAP_SECONDS ?? 20);
  const rate = Number(env.SOAK_RATE ?? 100);
  const sampleSeconds = Number(env.SOAK_SAMPLE_SECONDS ?? 5);
  const flapMode = env.SOAK_FLAP_MODE === 'hard' ? 'hard' : 'graceful';
  await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const driver = `logfan-soak-${process.pid}`;
  const socket = `/run/docker/plugins/${driver}.sock`;
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-soak-'));
  const stopped = new Map();
  const warnings = new Map();
  const waiters = [];
  fs.mkdirSync('/run/docker/plugins', { recursive: true });
  const metricsPort = Number(env.SOAK_METRICS_PORT ?? 19464);
  const logfan = startChild(process.execPath, [...LOGFAN_NODE_FLAGS, path.join(repo, 'dist/cli.js'), 'serve', '--socket', socket, '--data-root', dataRoot, '--metrics', `127.0.0.1:${metricsPort}`], { LOGFAN_LOG_LEVEL: 'info' }, (line) => {
    let l;
    try {
      l = JSON.parse(line);
    } catch {
      process.stderr.write(`[logfan] ${line}\n`);
      return;
    }
    if (l.msg === 'logging stopped') {
      stopped.set(l.container, l.sinks ?? {});
      for (const w of waiters.splice(0)) w();
    } else if (l.level >= 40) warnings.set(l.msg, (warnings.get(l.msg) ?? 0) + 1);
  });
  const label = `logfan-soak=${process.pid}`;
  const cleanup = async () => {
    await run('sh', ['-c', `ids=$(docker ps -aq --filter label=${label}); [ -z "$ids" ] || docker rm -f $ids`]).catch(() => undefined);
    logfan.kill('SIGTERM');
    await sleep(500);
    fs.rmSync(socket, { force: true });
    if (env.SOAK_KEEP !== '1') fs.rmSync(dataRoot, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(socket)) {
    if (logfan.exitCode !== null || Date.now() > deadline) throw new Error('logfan did not start');
    await sleep(50);
  }
  await sleep(500);
  let report;
  try {
    report = await runSoak({
      containers,
      durationMs: minutes * 60_000,
      flapMs: flapSeconds * 1000,
      linesPerSecond: rate,
      driver,
      pid: logfan.pid,
      label,
      sampleMs: sampleSeconds * 1000,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      flapMode,
      jsonLogPath: (id) => path.join(dataRoot, 'containers', id, `${id}-json.log`),
      async waitStopped(id, timeoutMs) {
        const short = id.slice(0, 12);
        const end = Date.now() + timeoutMs;
        while (!stopped.has(short)) {
          if (Date.now() > end) throw new Error(`logfan did not finish logging ${short} within ${timeoutMs} ms`);
          await Promise.race([new Promise((r) => waiters.push(r)), sleep(200)]);
        }
        return stopped.get(short);
      },
    });
  } finally {
    await cleanup();
  }
  console.log('\nlogfan RSS / fds over time:');
  console.log(formatCurve(report.samples));
  const { samples, ...summary } = report;
  summary.logfanWarnings = Object.fromEntries(warnings);
  console.log('\n' + JSON.stringify(summary, null, 2));
  const f = report.fluentd;
  const failures = [];
  if (report.json.containersOk !== report.containers) failures.push(`json-file: ${report.containers - report.json.containersOk} containers' stores do not hold every line once, in order`);
  if (flapMode === 'graceful' && f.uncounted !== 0) failures.push(`fluentd: ${f.uncounted} events neither received nor counted as lost`);
  if (f.duplicates > 0) failures.push(`fluentd: ${f.duplicates} events twice`);
  if (report.fds.end > report.fds.start + 5) failures.push(`fds: ${report.fds.end} after stop, ${report.fds.start} before`);
  console.log(`\npeak RSS ${report.rss.peakHwmMb} MB (VmHWM; sampled peak ${report.rss.peakSampledMb} MB) with ${report.containers} containers; fds ${report.fds.start} → peak ${report.fds.peak} → ${report.fds.end}`);
  if (failures.length > 0) {
    console.log(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
