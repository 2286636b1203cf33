#!/usr/bin/env node
// `docker logs` speed, in ONE run: the same LINES-line history (default 3,000,000) written once
// through Docker's json-file and once through logfan (cache-disabled=true, so the daemon asks
// logfan's ReadLogs), then `docker logs --tail 100` and a full `docker logs` on each, rounds
// interleaved, medians and ratios reported.      npm run bench:read
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { docker, median, sleep } from './lib.mjs';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const LINES = Number(process.env.LINES ?? 3_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TAIL_ROUNDS = Number(process.env.TAIL_ROUNDS ?? 7);
const IMAGE = 'logfan-test/busybox:latest';
const DRIVER = `logfan-bench-read-${process.pid}`;

/** Wall time of `docker logs ARGS` with its output thrown away, checking the line count. */
function timeLogs(args, expectLines) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('docker', ['logs', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let lines = 0;
    child.stdout.on('data', (c) => {
      for (let i = 0; i < c.length; i++) if (c[i] === 10) lines++;
    });
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (code !== 0) return reject(new Error(`docker logs ${args.join(' ')} exited ${code}`));
      if (expectLines !== undefined && lines !== expectLines) return reject(new Error(`docker logs ${args.join(' ')}: ${lines} lines, expected ${expectLines}`));
      resolve(seconds);
    });
  });
}

async function main() {
  await run('bash', [path.join(repo, 'scripts/make-test-image.sh')]);
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-bench-read-'));
  const socket = `/run/docker/plugins/${DRIVER}.sock`;
  const logfan = spawn(process.execPath, [path.join(repo, 'dist/cli.js'), 'serve', '--socket', socket, '--data-root', dataRoot, '--docker-socket', ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logText = '';
  logfan.stdout.on('data', (c) => (logText += c));
  while (!fs.existsSync(socket)) await sleep(50);

  const opts = ['--log-opt', 'max-size=2g'];
  process.stderr.write(`writing ${LINES} lines through each driver...\n`);
  const builtin = await docker('run', '-d', '--network', 'none', '--log-driver', 'json-file', ...opts, IMAGE, 'seq', '1', String(LINES));
  const ours = await docker('run', '-d', '--network', 'none', '--log-driver', DRIVER, '--log-opt', 'cache-disabled=true', ...opts, IMAGE, 'seq', '1', String(LINES));
  await docker('wait', builtin);
  await docker('wait', ours);
  while (!logText.includes(`"container":"${ours.slice(0, 12)}","bytesRead"`)) await sleep(100);

  const results = { tail: { 'json-file': [], logfan: [] }, full: { 'json-file': [], logfan: [] } };
  for (let r = 0; r < TAIL_ROUNDS; r++) {
    for (const [name, id] of r % 2 ? [['logfan', ours], ['json-file', builtin]] : [['json-file', builtin], ['logfan', ours]]) {
      results.tail[name].push(await timeLogs(['--tail', '100', id], 100));
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, id] of r % 2 ? [['logfan', ours], ['json-file', builtin]] : [['json-file', builtin], ['logfan', ours]]) {
      const s = await timeLogs([id], LINES);
      results.full[name].push(s);
      process.stderr.write(`round ${r + 1} full docker logs, ${name}: ${s.toFixed(2)} s\n`);
    }
  }
  const t = { jf: median(results.tail['json-file']), lf: median(results.tail.logfan) };
  const f = { jf: median(results.full['json-file']), lf: median(results.full.logfan) };
  console.log(
    JSON.stringify(
      {
        lines: LINES,
        'tail 100 (s)': { 'json-file': +t.jf.toFixed(3), logfan: +t.lf.toFixed(3), 'ratio logfan/json-file': +(t.lf / t.jf).toFixed(2) },
        'full read (s)': { 'json-file': +f.jf.toFixed(2), logfan: +f.lf.toFixed(2), 'ratio logfan/json-file': +(f.lf / f.jf).toFixed(2) },
        'full read lines/s': { 'json-file': Math.round(LINES / f.jf), logfan: Math.round(LINES / f.lf) },
      },
      null,
      2,
    ),
  );
  await docker('rm', '-f', builtin, ours);
  logfan.kill('SIGTERM');
  await sleep(500);
  fs.rmSync(dataRoot, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
