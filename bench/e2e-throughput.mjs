#!/usr/bin/env node
// End-to-end throughput, in ONE run so the ratios are fair on a shared, noisy machine:
//   (a) Docker's built-in json-file, (b) the drain-only plugin (bench/drain-only-plugin.mjs),
//   (c) logfan with its json-file sink — the same `seq 1 N` container, each until every line is
//   on disk (or drained), rounds interleaved, medians reported. Then 8 containers at once.
//
//   npm run bench            (LINES=1000000 ROUNDS=3 PARALLEL=8 by default)
// Needs a running dockerd and the logfan-test/busybox image (scripts/make-test-image.sh).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EventWaiter, LOGFAN_NODE_FLAGS, cpuSeconds, docker, median, peakRssMb, sleep, startChild } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const LINES = Number(process.env.LINES ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PARALLEL = Number(process.env.PARALLEL ?? 8);
const IMAGE = 'logfan-test/busybox:latest';



async function main() {
  await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const dockerdPid = Number((await run('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-bench-'));

  const logfanEvents = new EventWaiter();
  const logfan = startChild(process.execPath, [...LOGFAN_NODE_FLAGS, path.join(repo, 'dist/cli.js'), 'serve', '--socket', '/run/docker/plugins/logfan-bench.sock', '--data-root', dataRoot], { LOGFAN_LOG_LEVEL: 'info' }, (l) => logfanEvents.push(l));
  const drainEvents = new EventWaiter();
  const drain = startChild(process.execPath, [path.join(repo, 'bench/drain-only-plugin.mjs'), '/run/docker/plugins/drain-bench.sock'], {}, (l) => drainEvents.push(l));
  while (!fs.existsSync('/run/docker/plugins/logfan-bench.sock') || !fs.existsSync('/run/docker/plugins/drain-bench.sock')) await sleep(50);

  const targets = {
    // One size for both stores, large enough that neither rotates (logfan rotates at 20m by default).
    'json-file': { driver: 'json-file', opts: ['--log-opt', 'max-size=1g'] },
    drain: { driver: 'drain-bench', opts: ['--log-opt', 'cache-disabled=true'] },
    logfan: { driver: 'logfan-bench', opts: ['--log-opt', 'cache-disabled=true', '--log-opt', 'max-size=1g'] },
  };

  async function finish(name, id) {
    if (name === 'drain') await drainEvents.waitFor((l) => l.includes('"eof"'));
    if (name === 'logfan') await logfanEvents.waitFor((l) => l.includes('logging stopped') && l.includes(id.slice(0, 12)));
  }

  async function once(name, lines) {
    const t = targets[name];
    const cpu0 = { dockerd: cpuSeconds(dockerdPid), logfan: cpuSeconds(logfan.pid), drain: cpuSeconds(drain.pid) };
    const start = process.hrtime.bigint();
    const id = await docker('run', '-d', '--network', 'none', '--log-driver', t.driver, ...t.opts, IMAGE, 'seq', '1', String(lines));
    await docker('wait', id);
    await finish(name, id);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = { dockerd: cpuSeconds(dockerdPid) - cpu0.dockerd, logfan: cpuSeconds(logfan.pid) - cpu0.logfan, drain: cpuSeconds(drain.pid) - cpu0.drain };
    return { id, seconds, cpu };
  }

  async function countLines(file) {
    let n = 0;
    for await (const chunk of fs.createReadStream(file)) for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) n++;
    return n;
  }

  const results = { 'json-file': [], drain: [], logfan: [] };
  const order = ['json-file', 'drain', 'logfan'];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < order.length; k++) {
      const name = order[(k + round) % order.length];
      const r = await once(name, LINES);
      if (name === 'logfan') {
        const n = await countLines(path.join(dataRoot, 'containers', r.id, `${r.id}-json.log`));
        if (n !== LINES) throw new Error(`logfan wrote ${n} lines, expected ${LINES}`);
      }
      results[name].push(r);
      process.stderr.write(`round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s (dockerd ${r.cpu.dockerd.toFixed(2)} s CPU, logfan ${r.cpu.logfan.toFixed(2)} s, drain ${r.cpu.drain.toFixed(2)} s)\n`);
      await docker('rm', r.id);
      await fs.promises.rm(path.join(dataRoot, 'containers', r.id), { recursive: true, force: true });
    }
  }
  const rssAfterSingle = peakRssMb(logfan.pid);

  // PARALLEL containers at once, LINES / PARALLEL lines each: aggregate lines/s.
  async function parallel(name) {
    const per = Math.floor(LINES / PARALLEL);
    const t = targets[name];
    const start = process.hrtime.bigint();
    const ids = await Promise.all(Array.from({ length: PARALLEL }, () => docker('run', '-d', '--network', 'none', '--log-driver', t.driver, ...t.opts, IMAGE, 'seq', '1', String(per))));
    await Promise.all(ids.map((id) => docker('wait', id)));
    await Promise.all(ids.map((id) => finish(name, id)));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await docker('rm', ...ids);
    return (per * PARALLEL) / seconds;
  }
  const par = { 'json-file': [], logfan: [] };
  for (let round = 0; PARALLEL > 0 && round < ROUNDS; round++) {
    for (const name of round % 2 ? ['logfan', 'json-file'] : ['json-file', 'logfan']) {
      const rate = await parallel(name);
      par[name].push(rate);
      process.stderr.write(`round ${round + 1} ${PARALLEL}x ${name}: ${Math.round(rate)} lines/s\n`);
    }
  }

  const med = (name, f) => median(results[name].map(f));
  const jf = med('json-file', (r) => r.seconds);
  const dr = med('drain', (r) => r.seconds);
  const lf = med('logfan', (r) => r.seconds);
  const report = {
    lines: LINES,
    rounds: ROUNDS,
    seconds: { 'json-file': +jf.toFixed(2), drain: +dr.toFixed(2), logfan: +lf.toFixed(2) },
    ratio: { 'logfan/json-file': +(lf / jf).toFixed(2), 'logfan/drain': +(lf / dr).toFixed(2), 'drain/json-file': +(dr / jf).toFixed(2) },
    cpuSeconds: {
      'dockerd with json-file': +med('json-file', (r) => r.cpu.dockerd).toFixed(2),
      'dockerd with drain': +med('drain', (r) => r.cpu.dockerd).toFixed(2),
      'dockerd with logfan': +med('logfan', (r) => r.cpu.dockerd).toFixed(2),
      drain: +med('drain', (r) => r.cpu.drain).toFixed(2),
      logfan: +med('logfan', (r) => r.cpu.logfan).toFixed(2),
    },
    logfanCpuMicrosPerLine: +((med('logfan', (r) => r.cpu.logfan) * 1e6) / LINES).toFixed(2),
    logfanPeakRssMb: +rssAfterSingle.toFixed(1),
    parallel: PARALLEL > 0 && {
      containers: PARALLEL,
      'json-file lines/s': Math.round(median(par['json-file'])),
      'logfan lines/s': Math.round(median(par.logfan)),
      'ratio logfan/json-file (throughput)': +(median(par.logfan) / median(par['json-file'])).toFixed(2),
    },
  };
  console.log(JSON.stringify(report, null, 2));
  logfan.kill('SIGTERM');
  drain.kill('SIGTERM');
  await sleep(500);
  fs.rmSync(dataRoot, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
