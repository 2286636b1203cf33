// What each filter costs per line, in process (no FIFO, no sinks): ~1,000,000 realistic 60–120
// byte lines (access logs, pino JSON, logrus logfmt, plain app lines, a few secrets and stack
// traces), fed the way the decoder feeds them: one reused LogEntry pointing into a large read
// buffer. Prints ns/line, the minimum of 5 runs, for each filter alone and for a typical chain.
//
//   npx tsc -p tsconfig.build.json && node bench/filters-cost.mjs
//   LINES=200000 RUNS=3 node bench/filters-cost.mjs        # quicker
import { LogEntry } from '../dist/docker/log-entry.js';
import { FilterChain, parseFilterSpec } from '../dist/filters/registry.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 5);
const DISTINCT = 10_000;

// Deterministic pseudo-random numbers, so every run sees the same lines.
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

const paths = ['/api/v1/orders', '/api/v1/users/42', '/healthz', '/static/app.3f9c.js', '/api/v1/cart', '/login', '/metrics'];
const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const words = ['cache warm', 'request done', 'job queued', 'retrying upstream', 'connection reset', 'user logged in', 'flushing batch'];

function line() {
  const r = rnd();
  const ts = `2024-03-12T14:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${String(int(0, 999)).padStart(3, '0')}Z`;
  if (r < 0.3) return `10.0.${int(0, 9)}.${int(1, 254)} - - [12/Mar/2024:14:02:17 +0000] "${pick(methods)} ${pick(paths)} HTTP/1.1" ${pick([200, 200, 201, 304, 404, 500])} ${int(2, 9000)}`;
  if (r < 0.5) return `{"level":${pick([30, 30, 40, 50])},"time":${1710252137342 + int(0, 1e6)},"pid":1,"msg":"${pick(words)}","reqId":"req-${int(1, 99999)}"}`;
  if (r < 0.7) return `time="${ts}" level=${pick(['info', 'info', 'warning', 'error'])} msg="${pick(words)}" took=${int(1, 900)}ms n=${int(1, 99)}`;
  if (r < 0.9) return `${ts} ${pick(['INFO', 'INFO', 'DEBUG', 'WARN'])} [worker-${int(1, 8)}] ${pick(words)} id=${int(1000, 99999)}`;
  if (r < 0.95) return pick([
    `${ts} INFO mail sent to jane.doe${int(1, 99)}@example.com (template welcome)`,
    `${ts} DEBUG upstream call Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.x${int(1000, 9999)}`,
    `${ts} INFO charge ok card=4111 1111 1111 1111 amount=${int(1, 500)}.00 EUR`,
    `${ts} WARN using static credentials AKIAIOSFODNN7EXAMPLE for s3 upload`,
  ]);
  return pick([
    'java.lang.IllegalStateException: Connection pool exhausted after 30000 ms',
    '\tat com.example.db.Pool.acquire(Pool.java:112)',
    '\tat com.example.api.OrderController.create(OrderController.java:57)',
    '\tat java.base/java.lang.Thread.run(Thread.java:833)',
    `${ts} ERROR [worker-3] request failed id=${int(1000, 99999)}`,
  ]);
}

// One read buffer with every line, as the decoder sees them.
const texts = Array.from({ length: DISTINCT }, line);
const bytes = texts.map((t) => Buffer.from(t));
const chunk = Buffer.concat(bytes.flatMap((b) => [Buffer.from([0, 0, 0, 0, 0x0a, 0x06]), b]));
const starts = new Int32Array(DISTINCT);
const ends = new Int32Array(DISTINCT);
{
  let pos = 0;
  bytes.forEach((b, i) => {
    pos += 6;
    starts[i] = pos;
    ends[i] = pos + b.length;
    pos += b.length;
  });
}
const avg = bytes.reduce((s, b) => s + b.length, 0) / DISTINCT;

const info = {
  Config: {},
  ContainerID: 'f'.repeat(64),
  ContainerName: '/api',
  ContainerEntrypoint: '',
  ContainerArgs: [],
  ContainerImageID: '',
  ContainerImageName: 'shop/api:1.4.2',
  ContainerCreated: '',
  ContainerEnv: [],
  ContainerLabels: { tier: 'prod', team: 'payments' },
  LogPath: '',
  DaemonName: 'docker',
};
const logger = { warn() {}, error() {}, info() {}, debug() {} };

let survived = 0;
const sink = () => {
  survived++;
};

function timeRun(processOne) {
  const e = new LogEntry();
  e.source = 'stdout';
  const t0 = process.hrtime.bigint();
  for (let n = 0, i = 0; n < LINES; n++) {
    e.buf = chunk;
    e.lineStart = starts[i];
    e.lineEnd = ends[i];
    e.fields = null;
    e.severity = -1;
    e.resetText(); // the entry is reused: without this every filter would see the first line's cached text
    e.source = (n & 15) === 0 ? 'stderr' : 'stdout';
    processOne(e);
    if (++i === DISTINCT) i = 0;
  }
  return Number(process.hrtime.bigint() - t0) / LINES;
}

/** One run of one case: ns/line and the share of lines that reached the sink. */
function once(specs) {
  const chain = specs === null ? null : new FilterChain(specs.map((s, i) => parseFilterSpec(s, `bench[${i}]`)), { info, logger }, sink);
  survived = 0;
  const ns = chain === null ? timeRun(sink) : timeRun((e) => chain.process(e));
  chain?.flush();
  chain?.close();
  return { ns, kept: survived / LINES };
}

const CASES = [
  ['(no filter: loop + sink call)', null],
  ['include pattern', [{ type: 'include', pattern: '" (4|5)\\d\\d |level=error|"level":50' }]],
  ['exclude pattern', [{ type: 'exclude', pattern: 'GET /healthz' }]],
  ['exclude pattern, flags i', [{ type: 'exclude', pattern: 'get /healthz', flags: 'i' }]],
  ['include stream only', [{ type: 'include', stream: 'stdout' }]],
  ['redact builtin all', [{ type: 'redact', builtin: 'all' }]],
  ['redact email', [{ type: 'redact', builtin: ['email'] }]],
  ['redact 1 user pattern', [{ type: 'redact', patterns: ['password=\\S+'] }]],
  ['multiline java', [{ type: 'multiline', preset: 'java' }]],
  ['multiline python', [{ type: 'multiline', preset: 'python' }]],
  ['multiline go', [{ type: 'multiline', preset: 'go' }]],
  ['multiline node', [{ type: 'multiline', preset: 'node' }]],
  ['parse json', [{ type: 'parse', format: 'json' }]],
  ['parse logfmt', [{ type: 'parse', format: 'logfmt' }]],
  ['parse auto', [{ type: 'parse', format: 'auto' }]],
  ['rate-limit (not limiting)', [{ type: 'rate-limit', rate: 1e12 }]],
  ['rate-limit 1000/s', [{ type: 'rate-limit', rate: 1000 }]],
  ['sample every 10', [{ type: 'sample', every: 10 }]],
  ['set 2 fields', [{ type: 'set', fields: { env: 'prod', region: 'eu-west-1' } }]],
  ['labels 2', [{ type: 'labels', labels: ['tier', 'team'], prefix: 'label.' }]],
  ['remove (no fields)', [{ type: 'remove', fields: ['pid'] }]],
  ['route stream+line', [{ type: 'route', when: { stream: 'stderr', line: 'ERROR|WARN' } }]],
  ['route label (per container)', [{ type: 'route', when: { labels: { tier: '^prod$' } } }]],
  ['typical: exclude + redact all + parse auto', [{ type: 'exclude', pattern: 'GET /healthz' }, { type: 'redact', builtin: 'all' }, { type: 'parse', format: 'auto' }]],
];

console.log(`filters-cost: ${LINES.toLocaleString('en')} lines per run (${DISTINCT.toLocaleString('en')} distinct, ${avg.toFixed(0)} bytes on average), min of ${RUNS} runs, node ${process.version}`);
// Runs go round the cases (case 1 run 1, case 2 run 1, …) so that a burst of load from other
// processes on the machine spoils one run of several cases rather than every run of one.
const rows = CASES.map(([label]) => ({ label, ns: Infinity, kept: 0 }));
for (let r = 0; r < RUNS; r++) {
  CASES.forEach(([, specs], i) => {
    const { ns, kept } = once(specs);
    rows[i].ns = Math.min(rows[i].ns, ns);
    rows[i].kept = kept;
  });
}
const base = rows[0].ns;
const w = Math.max(...rows.map((r) => r.label.length));
console.log(`${'filter'.padEnd(w)}  ${'ns/line'.padStart(8)}  ${'minus loop'.padStart(10)}  ${'kept'.padStart(6)}`);
console.log(`${'-'.repeat(w)}  ${'-'.repeat(8)}  ${'-'.repeat(10)}  ${'-'.repeat(6)}`);
for (const r of rows) {
  console.log(`${r.label.padEnd(w)}  ${r.ns.toFixed(1).padStart(8)}  ${(r === rows[0] ? '' : (r.ns - base).toFixed(1)).padStart(10)}  ${(r.kept * 100).toFixed(1).padStart(5)}%`);
}
