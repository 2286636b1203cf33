/**
 * The pipeline against the real daemon: filters from log-opts, fan-out to json-file + fluentd +
 * gelf while the GELF server is away, a host-wide pipeline file that routes by label and is
 * reloaded while containers log, and the refusal of bad filter options at `docker run`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, IMAGE, docker, dockerLogs, removeContainers, requireDocker, sleep, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';
import { ForwardReceiver, type ForwardEvent } from '../sinks/fluentd/forward-receiver.js';
import { freeTcpPort, startTcpReceiver, type TcpReceiver } from '../sinks/gelf/receiver.js';

const run = promisify(execFile);
const containers: string[] = [];
const receivers: Array<{ close(): Promise<void> }> = [];
const logfans: LogfanProcess[] = [];
let tmp: string;

beforeAll(async () => {
  await requireDocker();
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-e2e-pipeline-'));
});

afterAll(async () => {
  await removeContainers(containers);
  for (const r of receivers) await r.close().catch(() => undefined);
  for (const l of logfans) await l.stop();
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

async function forwardReceiver(): Promise<ForwardReceiver> {
  const r = new ForwardReceiver();
  await r.listen();
  receivers.push(r);
  return r;
}

function recordLog(ev: ForwardEvent): string {
  return ev.record.get('log')!.toString();
}

function recordKey(ev: ForwardEvent, key: string): string | undefined {
  return ev.record.get(key)?.toString();
}

async function status(logfan: LogfanProcess): Promise<{ containers: Array<{ container: string; sinks: Record<string, Record<string, number>>; filters: Record<string, Record<string, number>> }> }> {
  const { stdout } = await run(process.execPath, [CLI, 'status', '--socket', logfan.socket, '--json']);
  return JSON.parse(stdout) as never;
}

async function runDetached(args: string[]): Promise<string> {
  const { stdout } = await docker(['run', '-d', '--network', 'none', ...args]);
  const id = stdout.trim();
  containers.push(id);
  return id;
}

async function logLines(id: string): Promise<string[]> {
  const { stdout, stderr } = await dockerLogs([id]);
  const text = stdout.toString() + stderr.toString();
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

// Secrets in shapes the built-in redaction knows; none of them may reach a sink.
const SECRETS = ['abc$i.def.ghi', 'AKIAIOSFODNN7EXAMPLE', '4111 1111 1111 1111', 'user$i@example.com'];
const ROUNDS = 3000;
/** Per round: a DEBUG line (excluded), a line with a bearer token and an email, one with a card and an AWS key. */
const NOISY = [
  `i=0; while [ $i -lt ${ROUNDS} ]; do i=$((i+1));`,
  'echo "DEBUG poll $i";',
  `echo "INFO req $i Authorization: Bearer ${SECRETS[0]} from ${SECRETS[3]}";`,
  `echo "pay $i card ${SECRETS[2]} key ${SECRETS[1]} done" 1>&2;`,
  'done; sleep 4',
].join(' ');

function checkRedacted(lines: string[], where: string): void {
  expect(lines.length, where).toBe(2 * ROUNDS);
  for (const line of lines) {
    expect(line, where).not.toMatch(/DEBUG/);
    expect(line, where).not.toMatch(/abc\d+\.def\.ghi|AKIAIOSFODNN7EXAMPLE|4111 1111 1111 1111|@example\.com/);
  }
  // What is not secret stays, in order.
  const infos = lines.filter((l) => l.startsWith('INFO req '));
  expect(infos.length, where).toBe(ROUNDS);
  infos.forEach((l, k) => expect(l, where).toMatch(new RegExp(`^INFO req ${k + 1} Authorization: Bearer \\S+ from \\S+$`)));
  const pays = lines.filter((l) => l.startsWith('pay '));
  pays.forEach((l, k) => expect(l, where).toMatch(new RegExp(`^pay ${k + 1} card .+ key \\S+ done$`)));
}

describe('fan-out with filters while a sink is away', () => {
  it('json-file and fluentd get every kept line masked, the container does not wait for the dead GELF server, GELF gets what drop-oldest promises', async () => {
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-fanout'));
    logfans.push(logfan);
    const fluentd = await forwardReceiver();
    const gelfPort = await freeTcpPort();
    const filters = ['--log-opt', 'filter-exclude=^DEBUG ', '--log-opt', 'filter-redact=all'];

    const t0 = Date.now();
    const alone = await runDetached(['--log-driver', logfan.driver, ...filters, IMAGE, 'sh', '-c', NOISY]);
    await docker(['wait', alone]);
    const aloneMs = Date.now() - t0;

    const t1 = Date.now();
    const fanned = await runDetached([
      '--log-driver', logfan.driver,
      '--log-opt', 'sinks=json-file,fluentd,gelf',
      '--log-opt', `fluentd-address=127.0.0.1:${fluentd.port}`,
      '--log-opt', `gelf-address=tcp://127.0.0.1:${gelfPort}`,
      '--log-opt', 'gelf-queue-full=drop-oldest',
      '--log-opt', 'gelf-queue-size=64k',
      ...filters,
      IMAGE, 'sh', '-c', NOISY,
    ]);
    // Every line reached fluentd while GELF was still down (the container is in its final sleep).
    await fluentd.waitFor(2 * ROUNDS, 60_000);
    const mid = await status(logfan);
    const gelfStats = mid.containers.find((c) => fanned.startsWith(c.container))!.sinks.gelf;
    expect(gelfStats.up).toBe(0);
    // The GELF server comes back before the container ends.
    const gelf: TcpReceiver = await startTcpReceiver({ port: gelfPort });
    receivers.push(gelf);
    await docker(['wait', fanned]);
    const fannedMs = Date.now() - t1;
    await logfan.waitForStopped(fanned);

    checkRedacted(await logLines(alone), 'json-file alone');
    checkRedacted(await logLines(fanned), 'json-file (fan-out)');
    const fluentdLines = fluentd.events.map(recordLog);
    checkRedacted(fluentdLines, 'fluentd');
    // docker logs shows stdout and stderr in separate streams: compare as sets
    expect([...fluentdLines].sort()).toEqual((await logLines(fanned)).sort());

    // drop-oldest with a 64 KB queue: GELF gets the newest lines, a gap-free run ending at the last one.
    const gelfLines = gelf.payloads.map((p) => (JSON.parse(p.toString()) as { short_message: string }).short_message);
    expect(gelfLines.length).toBeLessThan(2 * ROUNDS);
    // The fan-out gave every sink the same sequence (fluentd's): GELF's is its gap-free tail.
    expect(gelfLines).toEqual(fluentd.events.map(recordLog).slice(-gelfLines.length));
    for (const l of gelfLines) expect(l).not.toMatch(/AKIAIOSFODNN7EXAMPLE|@example\.com/);

    const lines = logfan.logLines.filter((l) => l.msg === 'logging stopped' && l.container === fanned.slice(0, 12));
    const sinks = lines[0].sinks as Record<string, Record<string, number>>;
    const filters2 = lines[0].filters as Record<string, Record<string, number>>;
    // Every line the GELF sink did not deliver is counted as dropped.
    expect(sinks.gelf.dropped + gelfLines.length).toBe(2 * ROUNDS);
    expect(Object.values(filters2.container).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(ROUNDS);
    console.log(`[fanout] json-file alone ${aloneMs} ms, json-file+fluentd+gelf(down) ${fannedMs} ms; gelf got ${gelfLines.length}, dropped ${sinks.gelf.dropped}`);
    // Not a benchmark: a stall on the dead server would add the 5 s block limit or more.
    expect(fannedMs).toBeLessThan(aloneMs * 2 + 4000);
  }, 180_000);
});

describe('bad filter options fail docker run with the option named', () => {
  let logfan: LogfanProcess;
  beforeAll(async () => {
    logfan = await startLogfan(uniqueDriver('logfan-e2e-badfilter'));
    logfans.push(logfan);
  });
  it.each([
    [['--log-opt', 'filter-exclude=(a)\\1'], /filter-exclude.*linear time/],
    [['--log-opt', 'filter-include=(unclosed'], /filter-include.*invalid regular expression/],
    [['--log-opt', 'filter-multiline=cobol'], /filter-multiline/],
    [['--log-opt', 'filter-rate-limit=fast'], /filter-rate-limit="fast"/],
    [['--log-opt', 'route-fluentd=stream=stderr'], /route-fluentd belongs to the fluentd sink/],
    [['--log-opt', 'queue-full=sometimes'], /queue-full="sometimes".*block, drop-newest, drop-oldest/],
    [['--log-opt', 'filter-redact=passwords'], /filter-redact/],
  ])('%j', async (opts, message) => {
    const r = await docker(['run', '--rm', '--network', 'none', '--log-driver', logfan.driver, ...opts, IMAGE, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('a pathological pattern on one container', () => {
  it('stays linear: the container and its neighbour finish, every line is judged', async () => {
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-redos'));
    logfans.push(logfan);
    // With a backtracking engine, (a+)+$ on 40 a's and a '!' takes about 2^40 steps per line.
    const evil = await runDetached(['--log-driver', logfan.driver, '--log-opt', 'filter-exclude=(a+)+$', IMAGE, 'sh', '-c',
      'i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!; echo aaaa; done']);
    const neighbour = await runDetached(['--log-driver', logfan.driver, IMAGE, 'sh', '-c', 'i=0; while [ $i -lt 1000 ]; do i=$((i+1)); echo n-$i; done']);
    await docker(['wait', evil]);
    await docker(['wait', neighbour]);
    await logfan.waitForStopped(evil, 30_000);
    await logfan.waitForStopped(neighbour, 30_000);
    const kept = await logLines(evil);
    expect(kept.length).toBe(500);
    expect(new Set(kept)).toEqual(new Set(['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!']));
    expect((await logLines(neighbour)).length).toBe(1000);
  }, 60_000);
});

describe('multiline from log-opts', () => {
  it('joins a Java stack trace into one record in json-file and fluentd', async () => {
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-multiline'));
    logfans.push(logfan);
    const fluentd = await forwardReceiver();
    const trace = [
      'Exception in thread "main" java.lang.IllegalStateException: boom',
      '\\tat com.example.App.run(App.java:42)',
      '\\tat com.example.App.main(App.java:12)',
      'Caused by: java.io.IOException: disk',
      '\\tat com.example.Disk.write(Disk.java:7)',
      '\\t... 2 more',
    ];
    const script = `echo before; printf '${trace.join('\\n')}\\n'; echo after`;
    const id = await runDetached(['--log-driver', logfan.driver, '--log-opt', 'sinks=json-file,fluentd', '--log-opt', `fluentd-address=127.0.0.1:${fluentd.port}`,
      '--log-opt', 'filter-multiline=java', IMAGE, 'sh', '-c', script]);
    await docker(['wait', id]);
    await logfan.waitForStopped(id);
    await fluentd.waitFor(3);
    const expected = ['before', trace.join('\n').replace(/\\t/g, '\t'), 'after'];
    expect(fluentd.events.map(recordLog)).toEqual(expected);
    const raw = await fs.promises.readFile(logfan.jsonLogPath(id), 'utf8');
    expect(raw.trimEnd().split('\n').map((l) => (JSON.parse(l) as { log: string }).log)).toEqual(expected.map((l) => l + '\n'));
  }, 60_000);
});

describe('host-wide pipeline file', () => {
  it('routes tier=prod to fluentd and the rest to json-file only; reloaded while containers log, no line is lost or repeated', async () => {
    const fluentd = await forwardReceiver();
    const configFile = path.join(tmp, 'pipeline.yaml');
    const v1 = [
      'rules:',
      '  - name: prod-to-fluentd',
      '    match: { labels: { tier: "^prod$" } }',
      '    sinks: [fluentd]',
      '    options:',
      `      fluentd-address: "127.0.0.1:${fluentd.port}"`,
    ].join('\n');
    await fs.promises.writeFile(configFile, v1 + '\n');
    const logfan = await startLogfan(uniqueDriver('logfan-e2e-pipefile'), {}, undefined, ['--config', configFile]);
    logfans.push(logfan);

    const LINES = 1500;
    const script = `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo line-$i; usleep 4000; done`;
    const prod = await runDetached(['--log-driver', logfan.driver, '--label', 'tier=prod', IMAGE, 'sh', '-c', script]);
    const dev = await runDetached(['--log-driver', logfan.driver, '--label', 'tier=dev', IMAGE, 'sh', '-c', script]);
    await fluentd.waitFor(100, 30_000);

    // v2: the same routing, and a field that shows which configuration a line went through.
    const v2 = `${v1}\n    sink-filters:\n      fluentd:\n        - { type: set, fields: { config: v2 } }\n`;
    await fs.promises.writeFile(configFile, v2);
    logfan.child.kill('SIGHUP');
    await sleep(1500);

    // A file that does not validate is refused, naming where, and changes nothing.
    await fs.promises.writeFile(configFile, `${v1}\n    filters:\n      - { type: exclude, pattern: "(x)\\\\1" }\n`);
    const refused = await run(process.execPath, [CLI, 'reload', '--socket', logfan.socket]).then(
      () => null,
      (err: { stderr: string; code: number }) => err,
    );
    expect(refused).not.toBeNull();
    expect(refused!.stderr).toMatch(/pipeline\.yaml: rules\[0\]\.filters\[0\]/);

    // v3 through the CLI: config v3.
    await fs.promises.writeFile(configFile, v2.replace('config: v2', 'config: v3'));
    const ok = await run(process.execPath, [CLI, 'reload', '--socket', logfan.socket]);
    expect(ok.stdout).toMatch(/applied to 2 running container/);

    await docker(['wait', prod]);
    await docker(['wait', dev]);
    await logfan.waitForStopped(prod);
    await logfan.waitForStopped(dev);
    await fluentd.waitFor(LINES, 30_000);
    await sleep(500);

    const expected = Array.from({ length: LINES }, (_, k) => `line-${k + 1}`);
    expect(await logLines(prod)).toEqual(expected);
    expect(await logLines(dev)).toEqual(expected);
    const prodEvents = fluentd.events.filter((e) => recordKey(e, 'container_id') === prod);
    expect(fluentd.events.length).toBe(prodEvents.length); // nothing from dev
    expect(prodEvents.map(recordLog)).toEqual(expected);
    // The configuration changed between lines, never back: none, then v2, then v3.
    const configs = prodEvents.map((e) => recordKey(e, 'config') ?? 'v1');
    const order = ['v1', 'v2', 'v3'];
    for (let k = 1; k < configs.length; k++) expect(order.indexOf(configs[k])).toBeGreaterThanOrEqual(order.indexOf(configs[k - 1]));
    expect(new Set(configs)).toEqual(new Set(['v1', 'v2', 'v3']));
    expect(logfan.logLines.some((l) => l.msg === 'SIGHUP: pipeline file reloaded')).toBe(true);
  }, 120_000);
});
