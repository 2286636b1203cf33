/**
 * The short soak (issue #7; the long one is bench/soak.mjs, whose runner this test uses): 30
 * containers log ~100 numbered lines a second each for 30 s to json-file and fluentd while the
 * fluentd server goes away and comes back every 8 s. Nothing may be lost in json-file; every
 * fluentd event must either arrive or be counted as lost by the sink; logfan's RSS stays under
 * 150 MB and its fds return to where they were once the containers stopped.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, docker, removeContainers, requireDocker, startLogfan, uniqueDriver, type LogfanProcess } from './harness.js';

interface SoakReport {
  containers: number;
  flaps: number;
  dockerStopMs: number;
  allStoppedMs: number;
  rss: { startMb: number; peakSampledMb: number; peakHwmMb: number; endMb: number };
  fds: { start: number; peak: number; end: number };
  json: { lines: number; containersOk: number; gaps: number; outOfOrder: number; withoutTotal: number };
  fluentd: { logged: number; received: number; sent: number; dropped: number; lostInWrite: number; uncounted: number; duplicates: number; outOfOrder: number; receiverErrors: string[] };
  samples: Array<{ t: number; rssMb: number; fds: number }>;
  bad: unknown[];
}

const DRIVER = uniqueDriver('logfan-e2e-soak');
const LABEL = `logfan-e2e-soak=${process.pid}`;
let logfan: LogfanProcess;

beforeAll(async () => {
  await requireDocker();
  // info, not debug: what a production logfan logs.
  logfan = await startLogfan(DRIVER, { LOGFAN_LOG_LEVEL: 'info' });
});

afterAll(async () => {
  // runSoak removes its containers; this is for a run cut short (none may outlive logfan).
  const left = (await docker(['ps', '-aq', '--filter', `label=${LABEL}`], { allowFail: true })).stdout.split('\n').filter(Boolean);
  await removeContainers(left);
  await logfan?.stop();
});

describe('soak', () => {
  it('30 containers × 30 s to json-file and a flapping fluentd: nothing lost in json-file, fluentd received + counted drops = logged, RSS < 150 MB, fds back', async () => {
    const soak = (await import(path.join(REPO, 'bench/soak.mjs'))) as {
      runSoak(opts: Record<string, unknown>): Promise<SoakReport>;
      formatCurve(samples: SoakReport['samples']): string;
    };
    const report = await soak.runSoak({
      containers: 30,
      durationMs: 30_000,
      flapMs: 8000,
      linesPerSecond: 100,
      driver: DRIVER,
      pid: logfan.child.pid,
      label: LABEL,
      sampleMs: 2000,
      flapMode: 'graceful',
      log: (s: string) => console.log(s),
      jsonLogPath: (id: string) => logfan.jsonLogPath(id),
      async waitStopped(id: string, timeoutMs: number) {
        await logfan.waitForStopped(id, timeoutMs);
        const l = logfan.logLines.find((x) => x.msg === 'logging stopped' && x.container === id.slice(0, 12)) as { sinks?: Record<string, Record<string, number>> };
        return l.sinks ?? {};
      },
    });
    const { samples, ...summary } = report;
    console.log(`[soak] RSS / fds:\n${soak.formatCurve(samples)}`);
    console.log(`[soak] ${JSON.stringify(summary)}`);

    expect(report.flaps).toBeGreaterThanOrEqual(3);
    // json-file: every container's lines, once, in order, as many as it said it wrote.
    expect(report.json.withoutTotal).toBe(0);
    expect(report.json.gaps).toBe(0);
    expect(report.json.outOfOrder).toBe(0);
    expect(report.json.containersOk).toBe(30);
    // fluentd: every event arrived or was counted as lost; none twice.
    expect(report.fluentd.receiverErrors).toEqual([]);
    expect(report.fluentd.received + report.fluentd.dropped + report.fluentd.lostInWrite).toBe(report.fluentd.logged);
    expect(report.fluentd.uncounted).toBe(0);
    expect(report.fluentd.received).toBe(report.fluentd.sent);
    expect(report.fluentd.duplicates).toBe(0);
    expect(report.fluentd.outOfOrder).toBe(0);
    expect(report.bad).toEqual([]);
    // Resources.
    expect(report.rss.peakHwmMb).toBeLessThan(150);
    expect(Math.abs(report.fds.end - report.fds.start)).toBeLessThanOrEqual(5);
  }, 180_000);
});
