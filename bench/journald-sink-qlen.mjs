#!/usr/bin/env node
// Where logfan's journald sink spends its CPU: the same sink (dist/, in this process) sends LINES
// entries of the bench's shape to two private systemd-journald instances that differ only in how
// many datagrams their socket queues: net.unix.max_dgram_qlen 10 (the kernel's default, what these
// machines have) and 512 (what systemd sets on a normal host, sysctl.d/50-default.conf). Each
// journald is a namespaced instance (`systemd-journald <ns>`, socket /run/systemd/journal.<ns>/socket)
// started in a private network namespace (`unshare -n`) where that sysctl is set, so the host's own
// setting and journald are left alone. Rounds alternate; medians of the time until the last entry
// is visible (journalctl --namespace), the sink's CPU per line (this process: encode + send + wait)
// and its EAGAIN count.
//
//   npm run build && LINES=200000 ROUNDS=3 node bench/journald-sink-qlen.mjs
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cpuSeconds, median, sleep } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const LINES = Number(process.env.LINES ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const QLENS = (process.env.QLENS ?? '10,512').split(',').map(Number);
const JOURNALD = '/lib/systemd/systemd-journald';
const PREFIX = 'bench-line-payload-abcdefghijklmnopqrs ';
const IMAGE = 'logfan-test/busybox:latest';

const { JournaldSink } = await import(path.join(repo, 'dist/sinks/journald/index.js'));
const { JournaldEncoder, containerVars } = await import(path.join(repo, 'dist/sinks/journald/encoder.js'));
const { LogEntry } = await import(path.join(repo, 'dist/docker/log-entry.js'));

const round2 = (x) => +x.toFixed(2);
const machineId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const instances = new Map(); // qlen -> { ns, child }

/** A namespaced journald in its own network namespace with net.unix.max_dgram_qlen = qlen. */
async function startJournald(qlen) {
  const ns = `logfanq${qlen}p${process.pid}`;
  const socket = `/run/systemd/journal.${ns}/socket`;
  const child = spawn('unshare', ['-n', 'sh', '-c', `sysctl -qw net.unix.max_dgram_qlen=${qlen} && exec ${JOURNALD} ${ns}`], { stdio: 'ignore' });
  const end = Date.now() + 30_000;
  while (!fs.existsSync(socket)) {
    if (child.exitCode !== null) throw new Error(`journald ${ns} exited with ${child.exitCode}`);
    if (Date.now() > end) throw new Error(`journald ${ns} did not create ${socket}`);
    await sleep(50);
  }
  return { ns, socket, child };
}

/** Namespaced journald exits when idle for a while: (re)start it when needed. */
async function journaldFor(qlen) {
  const j = instances.get(qlen);
  if (j && j.child.exitCode === null && j.child.signalCode === null && fs.existsSync(j.socket)) return j;
  const started = await startJournald(qlen);
  instances.set(qlen, started);
  return started;
}

async function lastLineNumber(ns, id) {
  let out = '';
  try {
    out = (await run('journalctl', ['-q', '--no-pager', `--namespace=${ns}`, '-o', 'cat', '-n', '1', `CONTAINER_ID_FULL=${id}`])).stdout;
  } catch (err) {
    out = err.stdout ?? '';
  }
  const m = /(\d+)\s*$/.exec(out);
  return m ? Number(m[1]) : 0;
}

async function once(qlen) {
  const j = await journaldFor(qlen);
  const id = crypto.randomBytes(32).toString('hex');
  const info = { ContainerID: id, ContainerName: '/bench-qlen', ContainerImageName: IMAGE, ContainerLabels: {}, ContainerEnv: [], DaemonName: 'docker' };
  const logger = { warn: (f, m) => process.stderr.write(`${m} ${JSON.stringify(f)}\n`), info() {}, error() {}, debug() {} };
  const sink = new JournaldSink(new JournaldEncoder(containerVars(info, id.slice(0, 12), {})), { socketPath: j.socket, containerId: id, logger });
  let wake = null;
  sink.onDrain = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const journald0 = cpuSeconds(j.child.pid);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  // as the pipeline feeds a sink: a batch of entries per read, one flush, pause above 8 MiB queued
  for (let i = 1; i <= LINES; ) {
    for (let k = 0; k < 1500 && i <= LINES; k++, i++) sink.write(LogEntry.of({ source: 'stdout', timeSec: 1764403200, timeNsec: 0, line: Buffer.from(PREFIX + i) }));
    sink.flush();
    if (sink.pendingBytes > 8 * 1024 * 1024) await new Promise((r) => (wake = r));
    else await new Promise((r) => setImmediate(r));
  }
  if (sink.pendingBytes > 0) await new Promise((r) => (wake = r));
  const cpu = process.cpuUsage(cpu0);
  while ((await lastLineNumber(j.ns, id)) < LINES) await sleep(100);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = sink.stats();
  await sink.close();
  const r = { seconds, sinkCpuMicrosPerLine: (cpu.user + cpu.system) / LINES, journaldCpuMicrosPerLine: ((cpuSeconds(j.child.pid) - journald0) * 1e6) / LINES, eagain: stats.eagain, sent: stats.sent };
  process.stderr.write(`qlen ${qlen}: ${seconds.toFixed(2)} s, sink ${r.sinkCpuMicrosPerLine.toFixed(1)} µs CPU/line, journald ${r.journaldCpuMicrosPerLine.toFixed(1)} µs/line, ${r.eagain} EAGAINs\n`);
  return r;
}

async function cleanup() {
  for (const { ns, child } of instances.values()) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    for (const d of [`/run/systemd/journal.${ns}`, `/var/log/journal/${machineId}.${ns}`, `/run/log/journal/${machineId}.${ns}`]) fs.rmSync(d, { recursive: true, force: true });
  }
}

try {
  const results = Object.fromEntries(QLENS.map((q) => [q, []]));
  for (let round = 0; round < ROUNDS; round++) for (let k = 0; k < QLENS.length; k++) {
    const q = QLENS[(k + round) % QLENS.length];
    results[q].push(await once(q));
  }
  const med = (q, key) => round2(median(results[q].map((r) => r[key])));
  console.log(
    JSON.stringify(
      {
        lines: LINES,
        rounds: ROUNDS,
        hostMaxDgramQlen: Number(fs.readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8')),
        medians: Object.fromEntries(QLENS.map((q) => [`max_dgram_qlen=${q}`, { seconds: med(q, 'seconds'), sinkCpuMicrosPerLine: med(q, 'sinkCpuMicrosPerLine'), journaldCpuMicrosPerLine: med(q, 'journaldCpuMicrosPerLine'), eagain: med(q, 'eagain') }])),
      },
      null,
      2,
    ),
  );
} finally {
  await cleanup();
}
