#!/usr/bin/env node
// What the typical filter chain adds to the in-process hot path, in the sidecar's own code path:
// FIFO bytes → frame decode → ContainerFlow (reassembly → filter chain → fan-out) → json-file
// encode → batched file writes, on one core. The container's plan is built from log-opts by
// planContainer, as StartLogging does, so the chain, its order and the partial-line reassembly
// (on when any filter runs) are exactly what a container with these options gets:
//   base:    max-size=1g                                    (decode + json-file)
//   typical: + filter-exclude='GET /healthz' filter-redact=all filter-parse=auto
// The chain's cost is reported as a share of decode + json-file (target ≤ 20%). Two more runs split
// it: the same flows into a sink that does nothing (decode + chain alone), so that what the
// filters cost and what the json-file encoder pays for the fields they add (attrs) show apart.
// Per-filter costs are in bench/filters-cost.mjs.
//
// Lines: a deterministic mix of ~60-160 byte realistic lines: plain app lines, access logs (some
// health checks, which the chain drops), JSON logs with level/msg (pino and zap style), logfmt,
// and a few with secrets (email, bearer token, card number, AWS key) in plain and JSON lines.
//
//   npm run build && node bench/inproc-filters.mjs
//   env: LINES=1000000 RUNS=5
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrameDecoder } from '../dist/docker/frame-decoder.js';
import { encodeFrame } from '../dist/docker/log-entry.js';
import { JsonFileSink } from '../dist/sinks/json-file/index.js';
import { SINK_FACTORIES } from '../dist/sinks/registry.js';
import { planContainer } from '../dist/pipeline/plan.js';
import { ContainerFlow } from '../dist/pipeline/flow.js';
import { log } from '../dist/log.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 5);
const DISTINCT = 10_000;
const CHUNK = 64 * 1024;
const TARGET_PCT = 20;

// ------------------------------------------------------------------------------------------------
// Lines (deterministic).
let seed = 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const two = (n) => String(n).padStart(2, '0');
const iso = () => `2025-11-29T11:${two(int(0, 59))}:${two(int(0, 59))}.${String(int(0, 999)).padStart(3, '0')}Z`;

const paths = ['/api/v1/orders', '/api/v1/orders/1842', '/api/v1/users/42', '/api/v1/cart', '/static/app.3f9c.js', '/login', '/metrics'];
const msgs = ['request completed', 'cache miss, loading from db', 'job queued', 'retrying upstream call', 'connection reset by peer', 'user logged in', 'flushing batch to kafka', 'config reloaded'];
const kinds = { plain: 0, access: 0, healthz: 0, json: 0, logfmt: 0, secret: 0 };

function line() {
  const r = rnd();
  if (r < 0.3) {
    kinds.plain++;
    return `${iso()} ${pick(['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'])} [${pick(['http-nio-8080-exec-', 'worker-', 'scheduler-'])}${int(1, 12)}] ${pick(['c.e.api.OrderController', 'c.e.db.Pool', 'c.e.cache.Loader'])} - ${pick(msgs)} id=${int(1000, 99999)}`;
  }
  if (r < 0.5) {
    const healthz = rnd() < 0.25;
    if (healthz) kinds.healthz++;
    else kinds.access++;
    return `10.0.${int(0, 9)}.${int(1, 254)} - - [29/Nov/2025:11:${two(int(0, 59))}:${two(int(0, 59))} +0000] "${healthz ? 'GET /healthz' : `${pick(['GET', 'GET', 'POST', 'PUT'])} ${pick(paths)}`} HTTP/1.1" ${pick([200, 200, 200, 201, 304, 404, 500])} ${int(2, 9000)} "-" "${pick(['curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64)', 'kube-probe/1.29'])}"`;
  }
  if (r < 0.8) {
    kinds.json++;
    if (rnd() < 0.5) return `{"level":${pick([30, 30, 30, 40, 50])},"time":${1764414000000 + int(0, 3.6e6)},"pid":1,"hostname":"api-7d9f","reqId":"req-${int(1, 99999)}","msg":"${pick(msgs)}","durationMs":${int(1, 900)}}`;
    return `{"level":"${pick(['info', 'info', 'warn', 'error', 'debug'])}","ts":"${iso()}","caller":"server/${pick(['http', 'grpc', 'db'])}.go:${int(10, 400)}","msg":"${pick(msgs)}","status":${pick([200, 201, 404, 500])},"bytes":${int(0, 50000)}}`;
  }
  if (r < 0.95) {
    kinds.logfmt++;
    return `time="${iso()}" level=${pick(['info', 'info', 'warning', 'error'])} msg="${pick(msgs)}" component=${pick(['scheduler', 'api', 'worker'])} took=${int(1, 900)}ms`;
  }
  kinds.secret++;
  return pick([
    `${iso()} INFO mail sent to jane.doe${int(1, 99)}@example.com template=welcome`,
    `${iso()} DEBUG calling billing Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.sig${int(1000, 9999)}`,
    `${iso()} INFO charge ok card=4111 1111 1111 1111 amount=${int(1, 500)}.00 EUR`,
    `${iso()} WARN using static credentials AKIAIOSFODNN7EXAMPLE for s3 upload`,
    `{"level":"info","ts":"${iso()}","msg":"password reset requested","email":"john.smith${int(1, 99)}@example.org"}`,
    `{"level":30,"time":${1764414000000 + int(0, 3.6e6)},"msg":"upstream call","headers":{"authorization":"Bearer abc.${int(100000, 999999)}.def"}}`,
  ]);
}

const base = 1764414000;
const frames = [];
let textBytes = 0;
for (let i = 0; i < DISTINCT; i++) {
  const text = line();
  textBytes += Buffer.byteLength(text);
  frames.push(encodeFrame({ source: i % 10 ? 'stdout' : 'stderr', timeSec: base + Math.floor(i / 100), timeNsec: (i % 100) * 10_000_000, line: Buffer.from(text) }));
}
const oneRound = Buffer.concat(frames);
const input = Buffer.concat(Array.from({ length: Math.ceil(LINES / DISTINCT) }, () => oneRound));
const totalLines = Math.ceil(LINES / DISTINCT) * DISTINCT;
const chunks = [];
for (let off = 0; off < input.length; off += CHUNK) chunks.push(input.subarray(off, off + CHUNK));

// ------------------------------------------------------------------------------------------------

const BASE_OPTS = { 'max-size': '1g' };
const TYPICAL_OPTS = { ...BASE_OPTS, 'filter-exclude': 'GET /healthz', 'filter-redact': 'all', 'filter-parse': 'auto' };

const infoFor = (config) => ({
  Config: config, ContainerID: 'b'.repeat(64), ContainerName: '/bench', ContainerEntrypoint: 'app', ContainerArgs: [],
  ContainerImageID: 'sha256:' + 'c'.repeat(64), ContainerImageName: 'shop/api:1.4.2', ContainerCreated: '', ContainerEnv: [],
  ContainerLabels: { tier: 'prod' }, LogPath: '', DaemonName: 'docker',
});

/** A sink that does nothing: decode + flow (+ chain) alone. */
class NullSink {
  name = 'json-file';
  blocking = true;
  pendingBytes = 0;
  onDrain = null;
  entries = 0;
  write() {
    this.entries++;
  }
  flush() {}
  async close() {}
  stats() {
    return { entriesWritten: this.entries };
  }
}

/** One pass over the input with the flow StartLogging would build for these log-opts. */
async function once(config, withFile) {
  const info = infoFor(config);
  const plan = planContainer(info, null, SINK_FACTORIES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-inproc-filters-'));
  const file = path.join(dir, 'x-json.log');
  const sink = withFile ? new JsonFileSink(file, info, plan.options, log) : new NullSink();
  if (withFile) await sink.open();
  const flow = new ContainerFlow({
    info,
    logger: log,
    reassembly: plan.mergePartials ? { maxBytes: plan.options.partial.maxBytes, timeoutMs: plan.options.partial.timeoutMs } : null,
    filters: plan.filters,
    slots: [{ name: 'json-file', sink, policy: 'store', filters: plan.sinkFilters['json-file'] ?? [] }],
    onTimerRelease: () => sink.flush(),
  });
  const decoder = new FrameDecoder({ onEntry: (e) => flow.deliver(e), onCorruption: () => { throw new Error('corrupt'); } });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const c of chunks) {
    decoder.push(c);
    sink.flush();
    // Let writes complete as they would between FIFO reads (the FIFO pauses above 8 MB pending).
    while (sink.pendingBytes > 8 << 20) await new Promise((r) => (sink.onDrain = r));
  }
  decoder.end();
  flow.flush();
  flow.close();
  await sink.close();
  const ns = Number(process.hrtime.bigint() - t0) / totalLines;
  const cpu = process.cpuUsage(cpu0);
  const bytes = withFile ? fs.statSync(file).size : 0;
  const stats = flow.filterStats();
  fs.rmSync(dir, { recursive: true, force: true });
  return { ns, cpuNs: ((cpu.user + cpu.system) * 1000) / totalLines, bytes, written: sink.stats().entriesWritten, filters: stats, chainLength: plan.filters.length, order: plan.filters.map((f) => f.type), reassembly: plan.mergePartials };
}

const CASES = [
  ['decode + json-file', BASE_OPTS, true],
  ['decode + typical chain + json-file', TYPICAL_OPTS, true],
  ['decode (null sink)', BASE_OPTS, false],
  ['decode + typical chain (null sink)', TYPICAL_OPTS, false],
];

process.stderr.write(
  `inproc-filters: ${totalLines.toLocaleString('en')} lines per run (${DISTINCT.toLocaleString('en')} distinct, ${(textBytes / DISTINCT).toFixed(0)} bytes on average: ` +
    `${Object.entries(kinds).map(([k, v]) => `${k} ${((100 * v) / DISTINCT).toFixed(0)}%`).join(', ')}), ${RUNS} runs + 1 warm-up, interleaved, node ${process.version}\n`,
);
const results = CASES.map(() => []);
for (let run = -1; run < RUNS; run++) {
  for (let k = 0; k < CASES.length; k++) {
    const i = (k + Math.max(run, 0)) % CASES.length;
    const [label, config, withFile] = CASES[i];
    const r = await once(config, withFile);
    if (run >= 0) results[i].push(r);
    process.stderr.write(`${run < 0 ? 'warm-up' : `run ${run + 1}`} ${label}: ${r.ns.toFixed(0)} ns/line wall, ${r.cpuNs.toFixed(0)} ns/line CPU\n`);
  }
}

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (i) => {
  const rs = results[i];
  return { wallNsPerLine: Math.round(med(rs.map((r) => r.ns))), cpuNsPerLine: Math.round(med(rs.map((r) => r.cpuNs))), minWallNsPerLine: Math.round(Math.min(...rs.map((r) => r.ns))) };
};
const [jf, jfChain, dec, decChain] = CASES.map((_, i) => row(i));
const pct = (a, b) => +((100 * (a - b)) / b).toFixed(1);
const last = (i) => results[i][results[i].length - 1];
const report = {
  command: 'node bench/inproc-filters.mjs',
  lines: totalLines,
  runs: RUNS,
  avgLineBytes: +(textBytes / DISTINCT).toFixed(1),
  mix: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, +(v / DISTINCT).toFixed(3)])),
  typicalChain: { logOpts: TYPICAL_OPTS, filters: last(1).chainLength, order: last(1).order, partialReassembly: last(1).reassembly },
  nsPerLine: Object.fromEntries(CASES.map(([label], i) => [label, row(i)])),
  chainCost: {
    // What the whole chain adds to decode + json-file: filters, reassembly, and the json-file
    // encoder writing the parsed fields as attrs (minus the lines the chain drops).
    wallNsPerLine: jfChain.wallNsPerLine - jf.wallNsPerLine,
    cpuNsPerLine: jfChain.cpuNsPerLine - jf.cpuNsPerLine,
    pctOfDecodeJsonFileWall: pct(jfChain.wallNsPerLine, jf.wallNsPerLine),
    pctOfDecodeJsonFileCpu: pct(jfChain.cpuNsPerLine, jf.cpuNsPerLine),
    // The filters (and reassembly) alone, without a store: decode + chain − decode.
    filtersOnlyWallNsPerLine: decChain.wallNsPerLine - dec.wallNsPerLine,
    filtersOnlyPctOfDecodeJsonFileWall: pct(jf.wallNsPerLine + decChain.wallNsPerLine - dec.wallNsPerLine, jf.wallNsPerLine),
    // The rest: json-file writing the parsed fields as attrs (longer lines), less the dropped lines.
    jsonFileFieldsWallNsPerLine: jfChain.wallNsPerLine - jf.wallNsPerLine - (decChain.wallNsPerLine - dec.wallNsPerLine),
  },
  target: `chain cost <= ${TARGET_PCT}% of decode + json-file (wall, median)`,
  meetsTarget: pct(jfChain.wallNsPerLine, jf.wallNsPerLine) <= TARGET_PCT,
  linesWritten: { base: last(0).written, typical: last(1).written, droppedByChain: last(0).written - last(1).written },
  fileBytes: { base: last(0).bytes, typical: last(1).bytes },
  filterStats: last(1).filters,
};
console.log(JSON.stringify(report, null, 2));
