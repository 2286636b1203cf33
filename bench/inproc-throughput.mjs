#!/usr/bin/env node
// In-process hot path: FIFO bytes → frame decode → json-file encode → batched file writes, on one
// core, for 100-byte lines. Target: ≥ 1,000,000 lines/s.   npm run bench:inproc
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrameDecoder } from '../dist/docker/frame-decoder.js';
import { encodeFrame } from '../dist/docker/log-entry.js';
import { parseLogOptions } from '../dist/config/log-opts.js';
import { JsonFileSink } from '../dist/sinks/json-file/index.js';
import { log } from '../dist/log.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const CHUNK = 64 * 1024;

const frames = [];
const base = 1764403200;
for (let i = 0; i < 1000; i++) {
  const text = `${String(i).padStart(6, '0')} GET /api/v1/items?id=${i} 200 12ms user-agent="bench" some more text to reach 100 b`.slice(0, 100);
  frames.push(encodeFrame({ source: i % 10 ? 'stdout' : 'stderr', timeSec: base, timeNsec: i * 1000, line: Buffer.from(text) }));
}
const oneRound = Buffer.concat(frames);
const input = Buffer.concat(Array.from({ length: LINES / 1000 }, () => oneRound));
const chunks = [];
for (let off = 0; off < input.length; off += CHUNK) chunks.push(input.subarray(off, off + CHUNK));

const info = {
  Config: {}, ContainerID: 'b'.repeat(64), ContainerName: '/bench', ContainerEntrypoint: 'seq', ContainerArgs: [],
  ContainerImageID: 'sha256:' + 'c'.repeat(64), ContainerImageName: 'bench', ContainerCreated: '', ContainerEnv: [],
  ContainerLabels: {}, LogPath: '', DaemonName: 'docker',
};

async function once() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-inproc-'));
  const sink = new JsonFileSink(path.join(dir, 'x-json.log'), info, parseLogOptions({ 'max-size': '1g' }), log);
  await sink.open();
  const decoder = new FrameDecoder({ onEntry: (e) => sink.write(e), onCorruption: () => { throw new Error('corrupt'); } });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const c of chunks) {
    decoder.push(c);
    sink.flush();
    // Let writes complete as they would between FIFO reads.
    while (sink.pendingBytes > 8 << 20) await new Promise((r) => (sink.onDrain = r));
  }
  await sink.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const size = fs.statSync(path.join(dir, 'x-json.log')).size;
  fs.rmSync(dir, { recursive: true, force: true });
  return { linesPerSec: LINES / seconds, cpuMicrosPerLine: (cpu.user + cpu.system) / LINES, bytes: size };
}

const runs = [];
for (let i = 0; i < 5; i++) runs.push(await once());
runs.sort((a, b) => a.linesPerSec - b.linesPerSec);
const med = runs[2];
console.log(JSON.stringify({ lines: LINES, lineBytes: 100, medianLinesPerSec: Math.round(med.linesPerSec), cpuMicrosPerLine: +med.cpuMicrosPerLine.toFixed(3), fileBytes: med.bytes }, null, 2));
