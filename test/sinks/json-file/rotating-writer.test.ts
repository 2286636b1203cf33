import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLogOptions } from '../../../src/config/log-opts.js';
import type { ContainerInfo } from '../../../src/docker/container-info.js';
import { LogEntry } from '../../../src/docker/log-entry.js';
import { log } from '../../../src/log.js';
import { JsonFileSink } from '../../../src/sinks/json-file/index.js';

const info: ContainerInfo = {
  Config: {}, ContainerID: 'f'.repeat(64), ContainerName: '/t', ContainerEntrypoint: 'sh', ContainerArgs: [],
  ContainerImageID: 'sha256:' + 'e'.repeat(64), ContainerImageName: 'busybox', ContainerCreated: '', ContainerEnv: [],
  ContainerLabels: {}, LogPath: '', DaemonName: 'docker',
};
const dirs: string[] = [];
const mounts: string[] = [];

afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function writeLines(opts: Record<string, string>, count: number, dir?: string): Promise<{ file: string; sink: JsonFileSink }> {
  const base = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-rot-'));
  if (!dir) dirs.push(base);
  const file = path.join(base, 'c-json.log');
  const sink = new JsonFileSink(file, info, parseLogOptions(opts), log);
  await sink.open();
  for (let i = 1; i <= count; i++) {
    sink.write(LogEntry.of({ source: 'stdout', timeSec: 1764403200 + i, timeNsec: 0, line: Buffer.from(`line ${i}`) }));
    if (i % 7 === 0) sink.flush();
  }
  await sink.close();
  return { file, sink };
}

const numbers = (text: string) => text.split('\n').filter(Boolean).map((l) => Number((JSON.parse(l) as { log: string }).log.slice(5)));
const names = (file: string) => fs.readdirSync(path.dirname(file)).sort();

describe('json-file rotation', () => {
  it('keeps max-file files, newest lines, nothing lost or repeated, and rotates before the write that finds the file full', async () => {
    const { file } = await writeLines({ 'max-size': '1k', 'max-file': '3' }, 200);
    expect(names(file)).toEqual(['c-json.log', 'c-json.log.1', 'c-json.log.2']);
    const all = numbers([file + '.2', file + '.1', file].map((f) => fs.readFileSync(f, 'utf8')).join(''));
    expect(all[all.length - 1]).toBe(200);
    all.forEach((n, i) => i > 0 && expect(n).toBe(all[i - 1] + 1));
    // Rotated files reached max-size with the entry that crossed it: at least 1000 bytes,
    // and less than 1000 before their last line.
    for (const f of [file + '.1', file + '.2']) {
      const text = fs.readFileSync(f, 'utf8');
      expect(text.length).toBeGreaterThanOrEqual(1000);
      expect(text.length - text.trimEnd().split('\n').pop()!.length - 1).toBeLessThan(1000);
    }
  });

  it('gzips rotated files with Docker\'s header and lastTime', async () => {
    const { file } = await writeLines({ 'max-size': '1k', 'max-file': '3', compress: 'true' }, 200);
    expect(names(file)).toEqual(['c-json.log', 'c-json.log.1.gz', 'c-json.log.2.gz']);
    const gz = fs.readFileSync(file + '.1.gz');
    expect(gz.subarray(0, 10).toString('hex')).toBe('1f8b08040000000000ff');
    const extra = JSON.parse(gz.subarray(12, 12 + gz.readUInt16LE(10)).toString()) as { lastTime: string };
    const inside = numbers(zlib.gunzipSync(gz).toString());
    // lastTime is the time of the last entry in that file.
    expect(extra.lastTime).toBe(new Date((1764403200 + inside[inside.length - 1]) * 1000).toISOString().replace('.000', ''));
    const all = numbers([file + '.2.gz', file + '.1.gz'].map((f) => zlib.gunzipSync(fs.readFileSync(f)).toString()).join('') + fs.readFileSync(file, 'utf8'));
    all.forEach((n, i) => i > 0 && expect(n).toBe(all[i - 1] + 1));
  });

  it('renames to NAME.1 with max-file=1, as Docker 20.10 does', async () => {
    const { file } = await writeLines({ 'max-size': '1k', 'max-file': '1' }, 200);
    expect(names(file)).toEqual(['c-json.log', 'c-json.log.1']);
    expect(numbers(fs.readFileSync(file, 'utf8')).pop()).toBe(200);
  });

  it('appends to an existing file and counts its size towards max-size', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-rot-'));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'c-json.log'), 'x'.repeat(990) + '\n');
    const { file } = await writeLines({ 'max-size': '1k', 'max-file': '2' }, 1, dir);
    expect(names(file)).toEqual(['c-json.log']);
    await writeLines({ 'max-size': '1k', 'max-file': '2' }, 1, dir);
    expect(names(file)).toEqual(['c-json.log', 'c-json.log.1']);
  });

  it('on a full disk drops and counts what does not fit, keeps going, and recovers when space returns', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-full-'));
    dirs.push(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    mounts.push(dir);
    const filler = path.join(dir, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(60 * 1024));
    const { sink, file } = await writeLines({ 'max-size': '1m' }, 2000, dir);
    const stats = sink.stats();
    expect(stats.writeErrors).toBeGreaterThan(0);
    expect(stats.bytesDropped).toBeGreaterThan(0);
    expect(stats.entriesWritten).toBe(2000);
    // Free the space: the next writes land.
    fs.rmSync(filler);
    const again = new JsonFileSink(file, info, parseLogOptions({ 'max-size': '1m' }), log);
    await again.open();
    again.write(LogEntry.of({ source: 'stderr', timeSec: 1, timeNsec: 0, line: Buffer.from('after the disk emptied') }));
    await again.close();
    expect(again.stats().writeErrors).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toContain('after the disk emptied');
  });
});
