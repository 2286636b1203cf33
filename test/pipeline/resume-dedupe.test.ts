import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame, type LogEntryInput } from '../../src/docker/log-entry.js';
import { formatRfc3339NanoUtc } from '../../src/docker/timestamp.js';
import { log } from '../../src/log.js';
import { AttachmentStore } from '../../src/pipeline/attachments.js';
import { LoggingService } from '../../src/pipeline/logging-service.js';
import { bytesAlreadyStored, storedRecord } from '../../src/pipeline/resume-dedupe.js';
import { jsonLogPath } from '../../src/sinks/json-file/index.js';
import { readLastLine } from '../../src/sinks/json-file/rotating-writer.js';

const T0 = 1764403200;

function numbered(i: number, extra: Partial<LogEntryInput> = {}): LogEntryInput {
  return { source: 'stdout', timeSec: T0 + Math.floor(i / 1000), timeNsec: (i % 1000) * 1000 + 7, line: Buffer.from(`line-${i}`), ...extra };
}

/** The record Docker's json-file writes for an entry (no attrs). */
function record(e: LogEntryInput): string {
  const log = e.line.toString('utf8') + (e.partial ? '' : '\n');
  return JSON.stringify({ log, stream: e.source, time: formatRfc3339NanoUtc(e.timeSec, e.timeNsec) });
}

const frames = (entries: LogEntryInput[]) => Buffer.concat(entries.map((e) => encodeFrame(e)));

describe('bytesAlreadyStored: where the FIFO head passes the store', () => {
  const entries = Array.from({ length: 10 }, (_, i) => numbered(i + 1));
  const head = frames(entries);
  const frameEnd = (n: number) => frames(entries.slice(0, n)).length;

  it('skips through the frame with the stored record’s time, stream and text', () => {
    expect(bytesAlreadyStored(head, storedRecord(Buffer.from(record(entries[4]!)))!)).toEqual({ skip: frameEnd(5), complete: true });
  });

  it('skips nothing when the store’s last record is older than the head', () => {
    const older = numbered(0);
    expect(bytesAlreadyStored(head, storedRecord(Buffer.from(record(older)))!)).toEqual({ skip: 0, complete: true });
  });

  it('matches by time and stream when a filter changed the stored text', () => {
    const changed = JSON.stringify({ log: 'redacted\n', stream: 'stdout', time: formatRfc3339NanoUtc(entries[6]!.timeSec, entries[6]!.timeNsec) });
    expect(bytesAlreadyStored(head, storedRecord(Buffer.from(changed))!).skip).toBe(frameEnd(7));
  });

  it('tells the pieces of one long line (same time) apart by their text', () => {
    const base = { source: 'stdout', timeSec: T0, timeNsec: 5, partial: true, partialId: 'p', partialLast: false } as const;
    const pieces: LogEntryInput[] = [
      { ...base, line: Buffer.from('aaa'), partialOrdinal: 1 },
      { ...base, line: Buffer.from('bbb'), partialOrdinal: 2 },
      { ...base, line: Buffer.from('ccc'), partialOrdinal: 3, partialLast: true },
    ];
    const h = frames([...pieces, numbered(99)]);
    const second = JSON.stringify({ log: 'bbb', stream: 'stdout', time: formatRfc3339NanoUtc(T0, 5) });
    expect(bytesAlreadyStored(h, storedRecord(Buffer.from(second))!).skip).toBe(frames(pieces.slice(0, 2)).length);
  });

  it('is not complete before one whole frame is there', () => {
    expect(bytesAlreadyStored(head.subarray(0, 6), storedRecord(Buffer.from(record(entries[0]!)))!)).toEqual({ skip: 0, complete: false });
  });

  it('does not take stderr for stdout', () => {
    const other = JSON.stringify({ log: 'line-3\n', stream: 'stderr', time: formatRfc3339NanoUtc(entries[2]!.timeSec, entries[2]!.timeNsec) });
    expect(bytesAlreadyStored(head, storedRecord(Buffer.from(other))!).skip).toBe(0);
  });
});

let dir: string;
beforeEach(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'logfan-resume-'));
});
afterEach(async () => {
  await fs.promises.rm(dir, { recursive: true, force: true });
});

describe('readLastLine: the store’s tail at open', () => {
  it('returns the last complete record and the length of a torn one after it', async () => {
    const f = path.join(dir, 'x.log');
    fs.writeFileSync(f, 'one\ntwo\nthr');
    expect(await readLastLine(f, fs.statSync(f).size)).toEqual({ line: Buffer.from('two'), tornBytes: 3 });
    fs.writeFileSync(f, 'one\ntwo\n');
    expect(await readLastLine(f, fs.statSync(f).size)).toEqual({ line: Buffer.from('two'), tornBytes: 0 });
    fs.writeFileSync(f, 'torn only');
    expect(await readLastLine(f, fs.statSync(f).size)).toEqual({ line: null, tornBytes: 9 });
  });
});

describe('re-attaching after a kill: the FIFO still holds what the store wrote', () => {
  it('stores every line once: the repeated head is skipped and a torn last record cut off', async () => {
    const cid = 'c'.repeat(64);
    const fifoName = 'f'.repeat(64);
    const dataRoot = path.join(dir, 'data');
    const fifoRoot = path.join(dir, 'fifos');
    await fs.promises.mkdir(fifoRoot);
    const fifo = path.join(fifoRoot, fifoName);
    execFileSync('mkfifo', ['-m', '0700', fifo]);
    const writer = fs.openSync(fifo, fs.constants.O_RDWR);
    const entries = Array.from({ length: 2000 }, (_, i) => numbered(i + 1));
    // The daemon's FIFO: entries 1..2000, of which the killed logfan had stored 1..1200 and was
    // writing 1201 when it died.
    fs.writeSync(writer, frames(entries));
    const store = jsonLogPath(dataRoot, cid);
    await fs.promises.mkdir(path.dirname(store), { recursive: true });
    const torn = record(entries[1200]!).slice(0, 20);
    fs.writeFileSync(store, entries.slice(0, 1200).map((e) => record(e) + '\n').join('') + torn);
    const info = { Config: {}, ContainerID: cid, ContainerName: '/t', ContainerEntrypoint: 'sh', ContainerArgs: null, ContainerImageID: 'sha256:' + 'e'.repeat(64), ContainerImageName: 'busybox', ContainerCreated: '2026-01-01T00:00:00Z', ContainerEnv: null, ContainerLabels: null, LogPath: '', DaemonName: 'docker' };
    await new AttachmentStore(dataRoot).save(fifoName, { File: `/run/docker/logging/${fifoName}`, Info: info as never });

    const service = new LoggingService({ dataRoot, fifoRoot, logger: log });
    try {
      expect(await service.reattach()).toBe(1);
      fs.writeSync(writer, frames([numbered(2001)]));
      fs.closeSync(writer);
      const end = Date.now() + 10_000;
      const count = () => fs.readFileSync(store, 'utf8').split('\n').length - 1;
      while (count() < 2001 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      const lines = fs.readFileSync(store, 'utf8').split('\n').slice(0, -1);
      expect(lines.length).toBe(2001);
      expect(lines).toEqual([...entries, numbered(2001)].map(record));
    } finally {
      await service.shutdown();
    }
  });
});
