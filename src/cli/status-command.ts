import http from 'node:http';
import { parseArgs } from 'node:util';
import type { ContainerSnapshot } from '../pipeline/logging-service.js';

export const STATUS_USAGE = `  status    what a running logfan is doing: containers, sinks, rates, drops, queues
            --socket PATH      the plugin socket (default $LOGFAN_SOCKET or /run/docker/plugins/logfan.sock)
            --interval S       seconds between the two samples rates come from (default 1)
            --json             print the raw status
`;

interface Status {
  containers: ContainerSnapshot[];
  finished: { containers: number; frames: number };
  readLogsCalls: number;
}

function fetchStatus(socketPath: string): Promise<Status> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: '/status', method: 'GET', timeout: 5000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString()) as Status);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export async function runStatusCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: 'string', default: process.env.LOGFAN_SOCKET ?? '/run/docker/plugins/logfan.sock' },
        interval: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`logfan status: ${(err as Error).message}\n`);
    return 2;
  }
  const interval = Number(values.interval);
  if (!(interval >= 0)) {
    process.stderr.write(`logfan status: --interval must be a number of seconds, got '${values.interval}'\n`);
    return 2;
  }
  let first: Status;
  try {
    first = await fetchStatus(values.socket!);
  } catch (err) {
    process.stderr.write(`logfan status: cannot reach logfan at ${values.socket}: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(first, null, 2) + '\n');
    return 0;
  }
  let second = first;
  if (interval > 0) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    second = await fetchStatus(values.socket!);
  }
  const before = new Map(first.containers.map((c) => [c.container, c]));
  const rows: string[][] = [['CONTAINER', 'NAME', 'LINES/S', 'ENTRIES', 'READ', 'DECODE ERR', 'SINK', 'OUT', 'DROPPED', 'QUEUED']];
  for (const c of second.containers) {
    const prev = before.get(c.container);
    const rate = prev && interval > 0 ? ((c.frames - prev.frames) / interval).toFixed(0) : '-';
    const sinks = Object.entries(c.sinks);
    sinks.forEach(([sink, st], i) => {
      const out = st.entriesWritten ?? st.sent ?? 0;
      const dropped = Object.entries(st)
        .filter(([k]) => k.startsWith('dropped') || k === 'writeErrors')
        .reduce((sum, [, v]) => sum + v, 0);
      const down = st.up === 0 ? ' (down)' : '';
      rows.push(i === 0
        ? [c.container, c.name, rate, String(c.frames), bytes(c.bytesRead), String(c.corruptFrames), sink + down, String(out), String(dropped), bytes(st.pendingBytes ?? 0)]
        : ['', '', '', '', '', '', sink + down, String(out), String(dropped), bytes(st.pendingBytes ?? 0)]);
    });
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd() + '\n');
  process.stdout.write(`\n${second.containers.length} logging, ${second.finished.containers} finished since start, ${second.readLogsCalls} docker logs calls\n`);
  return 0;
}
