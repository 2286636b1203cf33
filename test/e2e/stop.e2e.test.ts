/**
 * `docker stop` with every network sink unreachable (issue #7): 20 containers log continuously to
 * json-file, fluentd, gelf (tcp) and syslog (tcp), all three servers pointed at ports nobody
 * listens on. `docker stop -t 10` of all 20 at once must return well within the stop timeout,
 * logfan must finish logging each of them within a deadline, and every line the servers never got
 * must be counted as dropped in the `logging stopped` line. Once with the default queue policy
 * (drop-newest) and once with queue-full=block, where the sinks hold the containers back (up to
 * 5 s at a time) until logging stops. For the hold-back to engage in all 20 containers at once
 * (each network queue past 8 MiB), that logfan runs with a host-wide queue budget
 * (--queue-memory) above 20 × 3 × 8 MiB; with the default 64m the queues drop long before.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, docker, removeContainers, requireDocker, sleep, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';

const DRIVER = uniqueDriver('logfan-e2e-stop');
const BLOCK_DRIVER = uniqueDriver('logfan-e2e-stop-block');
const COUNT = 20;
const STOP_TIMEOUT_S = 10;
const NETWORK_SINKS = ['fluentd', 'gelf', 'syslog'] as const;
/**
 * Logs until stopped, ~1 line/ms; the trap makes it exit at once on SIGTERM (sh ignores it
 * otherwise as PID 1). Ten lines per usleep: one fork per line in 20 containers (20,000 forks a
 * second) starves a small machine, logfan included.
 */
const FOREVER = 'trap "exit 0" TERM; while :; do echo x; echo x; echo x; echo x; echo x; echo x; echo x; echo x; echo x; echo x; usleep 10000; done';
/**
 * Logs fast, 4 KB lines: enough that the network sinks' queues pass the 8 MiB at which
 * queue-full=block pauses the FIFO before the containers are stopped.
 */
const FAST = `trap "exit 0" TERM; l=$(i=0; while [ $i -lt 400 ]; do i=$((i+1)); printf 0123456789; done); while :; do i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "$l"; done; usleep 1000; done`;

let logfan: LogfanProcess;
let blockLogfan: LogfanProcess | undefined;
const containers: string[] = [];
/** docker runs not yet answered: afterAll waits for them, so that no container outlives logfan. */
const starting = new Set<Promise<unknown>>();

beforeAll(async () => {
  await requireDocker();
  logfan = await startLogfan(DRIVER);
});

afterAll(async () => {
  await Promise.allSettled([...starting]);
  await removeContainers(containers);
  await logfan?.stop();
  await blockLogfan?.stop();
});

/** A TCP port on 127.0.0.1 with nothing listening (connects are refused at once). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** Where queue-full=block pauses the FIFO (container-logger.ts SINK_HIGH_WATER). */
const HOLD_BACK_BYTES = 8 * 1024 * 1024;

/** logfan's /status (what `logfan status --json` prints), with a timeout for a busy machine. */
function fetchStatus(lf: LogfanProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: lf.socket, path: '/status', timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (t: string) => (body += t));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('logfan /status timed out')));
    req.on('error', reject);
  });
}

/** Per container (short ID): the largest pendingBytes of its network sinks. */
async function networkPending(lf: LogfanProcess): Promise<Map<string, number>> {
  const status = JSON.parse(await fetchStatus(lf)) as { containers: Array<{ container: string; sinks: Record<string, { pendingBytes?: number }> }> };
  return new Map(status.containers.map((c) => [c.container, Math.max(...NETWORK_SINKS.map((s) => c.sinks[s]?.pendingBytes ?? 0))]));
}

interface StopReport {
  variant: string;
  startSeconds: number;
  dockerStopMs: number;
  allStoppedMs: number;
  perContainer: Array<{ json: number } & Record<string, { sent: number; dropped: number }>>;
}

/**
 * Starts 20 containers, lets them log (runMs, or with untilHeldBack until every container's
 * network sinks hold more than the hold-back mark), stops them all at once.
 */
async function scenario(lf: LogfanProcess, variant: string, script: string, extraOpts: string[], runMs: number, untilHeldBack = false): Promise<StopReport & { maxPendingMb: number; minPendingBytes: number }> {
  const [fluentdPort, gelfPort, syslogPort] = [await deadPort(), await deadPort(), await deadPort()];
  const opts = [
    '--log-opt', `sinks=json-file,${NETWORK_SINKS.join(',')}`,
    '--log-opt', `fluentd-address=127.0.0.1:${fluentdPort}`,
    '--log-opt', `gelf-address=tcp://127.0.0.1:${gelfPort}`,
    '--log-opt', `syslog-address=tcp://127.0.0.1:${syslogPort}`,
    ...extraOpts,
  ];
  const t0 = Date.now();
  const ids: string[] = [];
  try {
    await Promise.all(
      Array.from({ length: COUNT }, async () => {
        const run = docker(['run', '-d', '--network', 'none', '--log-driver', lf.driver, ...opts, IMAGE, 'sh', '-c', script]);
        starting.add(run);
        const id = (await run.finally(() => starting.delete(run))).stdout.trim();
        containers.push(id);
        ids.push(id);
      }),
    );
    const startSeconds = (Date.now() - t0) / 1000;
    await sleep(runMs);
    let pending = await networkPending(lf);
    if (untilHeldBack) {
      const deadline = Date.now() + 60_000;
      while (ids.some((id) => (pending.get(id.slice(0, 12)) ?? 0) <= HOLD_BACK_BYTES)) {
        if (Date.now() > deadline) throw new Error(`the network sinks' queues did not pass ${HOLD_BACK_BYTES} bytes within 60 s: ${JSON.stringify([...pending.values()])}`);
        await sleep(1000);
        pending = await networkPending(lf);
      }
    }
    const maxPendingMb = +(Math.max(...ids.map((id) => pending.get(id.slice(0, 12)) ?? 0)) / 1048576).toFixed(1);
    const minPendingBytes = Math.min(...ids.map((id) => pending.get(id.slice(0, 12)) ?? 0));
    const minPendingMb = +(minPendingBytes / 1048576).toFixed(1);
    const running = (await docker(['inspect', '-f', '{{.State.Running}}', ...ids])).stdout.trim().split('\n');
    expect(running.every((r) => r === 'true')).toBe(true);

    const t = Date.now();
    await docker(['stop', '-t', String(STOP_TIMEOUT_S), ...ids]);
    const dockerStopMs = Date.now() - t;
    await Promise.all(ids.map((id) => lf.waitForStopped(id, 20_000)));
    const allStoppedMs = Date.now() - t;
    const exitCodes = (await docker(['inspect', '-f', '{{.State.ExitCode}}', ...ids])).stdout.trim().split('\n');

    const perContainer = ids.map((id) => {
      const line = lf.logLines.find((l) => l.msg === 'logging stopped' && l.container === id.slice(0, 12)) as
        | { sinks?: Record<string, Record<string, number>> }
        | undefined;
      const sinks = line?.sinks ?? {};
      const row: Record<string, unknown> = { json: sinks['json-file']?.entriesWritten ?? -1 };
      for (const s of NETWORK_SINKS) row[s] = { sent: sinks[s]?.sent ?? -1, dropped: sinks[s]?.dropped ?? -1 };
      return row as StopReport['perContainer'][number];
    });
    const report = { variant, startSeconds, dockerStopMs, allStoppedMs, perContainer, maxPendingMb, minPendingBytes };
    const totals = Object.fromEntries(
      ['json', ...NETWORK_SINKS].map((k) => [k, perContainer.reduce((a, r) => a + (k === 'json' ? r.json : (r[k] as { dropped: number }).dropped), 0)]),
    );
    console.log(`[stop] ${JSON.stringify({ variant, containers: COUNT, startSeconds, runSeconds: (t - t0) / 1000 - startSeconds, queuedMbBeforeStop: [minPendingMb, maxPendingMb], dockerStopMs, allStoppedMs, elapsedSeconds: (Date.now() - t0) / 1000, jsonLines: totals.json, dropped: { fluentd: totals.fluentd, gelf: totals.gelf, syslog: totals.syslog } })}`);

    // The containers exited on their SIGTERM (exit 0), not on the SIGKILL after the timeout.
    expect(exitCodes.every((c) => c === '0'), `exit codes ${exitCodes.join(',')}`).toBe(true);
    expect(dockerStopMs).toBeLessThan(STOP_TIMEOUT_S * 1000);
    for (const [i, row] of perContainer.entries()) {
      expect(row.json, `container ${i}: json-file lines`).toBeGreaterThan(0);
      for (const s of NETWORK_SINKS) {
        const st = row[s] as { sent: number; dropped: number };
        // Nothing reached a server (there was none), and every line is counted as dropped.
        expect(st.sent, `container ${i} ${s}: sent`).toBe(0);
        expect(st.dropped, `container ${i} ${s}: dropped`).toBe(row.json);
      }
    }
    return report;
  } catch (err) {
    // Not left logging into the next case.
    await Promise.allSettled([...starting]);
    await removeContainers(ids);
    throw err;
  }
}

describe('docker stop with every network sink unreachable', () => {
  it('20 containers, queue-full=drop-newest (default): docker stop -t 10 returns in time, drops counted', async () => {
    const r = await scenario(logfan, 'drop-newest', FOREVER, [], 3000);
    // No sink holds a container back: logging ends as soon as the sinks give up (5 s at most).
    expect(r.allStoppedMs).toBeLessThan(STOP_TIMEOUT_S * 1000 + 7000);
  }, 180_000);

  it('20 containers, queue-full=block, queues past the hold-back mark: docker stop -t 10 returns in time, drops counted', async () => {
    blockLogfan = await startLogfan(BLOCK_DRIVER, {}, undefined, ['--queue-memory', '1g']);
    const r = await scenario(blockLogfan, 'block', FAST, ['--log-opt', 'queue-full=block'], 3000, true);
    // Every container's queues were past the mark when it was stopped (not rounded: 8.04 MiB is past it).
    expect(r.minPendingBytes).toBeGreaterThan(HOLD_BACK_BYTES);
    expect(r.allStoppedMs).toBeLessThan(STOP_TIMEOUT_S * 1000 + 7000);
  }, 180_000);
});
