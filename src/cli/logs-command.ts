import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import zlib from 'node:zlib';
import { formatSecondsUtc, parseRfc3339, utcSeconds } from '../docker/timestamp.js';
import { gzipLastTime, listRotatedFiles, parseJsonLogLine, readJsonLog, type HistoryEnd, type ReadHandle, type ReadLine, type ReadOptions, type RotatedFile } from '../sinks/json-file/reader.js';
import { openForReading } from '../sinks/json-file/rotating-writer.js';

/**
 * `logfan logs`: a container's logs read straight from the store, without the daemon, printed as
 * `docker logs` prints them: stdout entries to stdout and stderr entries to stderr, byte for byte,
 * with the same --tail / --since / --until / --timestamps semantics, and --follow by polling the
 * live file (rotation detected by its inode changing).
 */

export const LOGS_USAGE = `  logs      print a container's stored logs as \`docker logs\` does, without the daemon
            logfan logs <container-id|id-prefix|dir> [options]
            --data-root DIR    where container logs are stored
                               (default $LOGFAN_DATA_ROOT or /var/lib/logfan)
            -n, --tail N       only the last N lines (default all)
            --since T          lines at or after T: RFC 3339 time (2026-11-29T09:41:14Z,
                               2026-11-29), Unix seconds (1764403200.5) or a duration ago (10m)
            --until T          lines at or before T (same forms)
            -f, --follow       keep printing lines as they are written (Ctrl-C to stop)
            -t, --timestamps   prefix each line with its time (RFC 3339, 9 fraction digits)
`;

export type Time = { sec: number; nsec: number };

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes: 0 done, 1 the container or its files could not be read, 2 bad arguments. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/**
 * How often -f looks at the live file. A rotated file is deleted once max-file newer ones exist:
 * with max-size=2k a container writing ~16 KB/s rotates past max-file=5 within 250 ms, and lines
 * were missed (the e2e test "across rotations" lost 66 of 400 in 1 of 3 runs at 250 ms).
 */
const POLL_MS = 50;
const CHUNK = 256 * 1024;
const BATCH_LINES = 512;
/** With --follow --until, stop once the clock is this far past --until (lines reach the file a little late). */
const UNTIL_GRACE_MS = 2000;
const MAX_CORRUPT_REPORTS = 10;

// ---------------------------------------------------------------------------------------------
// Time arguments, as the docker CLI (api/types/time.GetTimestamp) and the daemon
// (time.ParseTimestamps) read --since and --until.

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n, // U+00B5
  'μs': 1000n, // U+03BC
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION = (1n << 63n) - 1n;

/** Go's time.ParseDuration, in nanoseconds; throws on what Go rejects. */
export function parseGoDuration(text: string): bigint {
  const bad = () => new Error(`time: invalid duration "${text}"`);
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw bad();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0] >= '0' && s[0] <= '9'))) throw bad();
    const intPart = /^\d*/.exec(s)![0];
    s = s.slice(intPart.length);
    let frac = '';
    if (s[0] === '.') {
      s = s.slice(1);
      frac = /^\d*/.exec(s)![0];
      s = s.slice(frac.length);
    }
    if (intPart === '' && frac === '') throw bad();
    const unitText = /^[^.0-9]*/.exec(s)![0];
    if (unitText === '') throw new Error(`time: missing unit in duration "${text}"`);
    s = s.slice(unitText.length);
    const unit = DURATION_UNITS[unitText];
    if (unit === undefined) throw new Error(`time: unknown unit "${unitText}" in duration "${text}"`);
    const v = intPart === '' ? 0n : BigInt(intPart);
    if (v > (1n << 63n) / unit) throw bad();
    let part = v * unit;
    if (frac !== '') {
      // Go keeps at most the digits that fit in int64 and scales with float64.
      let f = 0n;
      let scale = 1;
      for (const c of frac) {
        const y = f * 10n + BigInt(c.charCodeAt(0) - 48);
        if (f > MAX_DURATION / 10n || y > 1n << 63n) break;
        f = y;
        scale *= 10;
      }
      if (f > 0n) part += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (part > 1n << 63n) throw bad();
    }
    total += part;
    if (total > 1n << 63n) throw bad();
  }
  if (neg) return -total;
  if (total > MAX_DURATION) throw bad();
  return total;
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

type Layout = 'nano' | 'seconds' | 'minutes' | 'hours' | 'date';

/**
 * time.Parse / time.ParseInLocation for the layouts GetTimestamp picks: "2006-01-02T15:04:05.999999999",
 * "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", each optionally
 * followed by "Z07:00". Returns null when Go's parser would fail.
 */
function parseLayout(value: string, layout: Layout, withZone: boolean, localOffsetSec: number): Time | null {
  const time =
    layout === 'date'
      ? ''
      : layout === 'hours'
        ? 'T(?<h>\\d{1,2})'
        : layout === 'minutes'
          ? 'T(?<h>\\d{1,2}):(?<mi>\\d{2})'
          : // Go reads a fraction after the seconds whatever the layout says (".999999999" just allows it).
            'T(?<h>\\d{1,2}):(?<mi>\\d{2}):(?<s>\\d{2})(?:[.,](?<f>\\d+))?';
  const zone = withZone ? '(?<z>Z|[+-]\\d{2}:\\d{2})' : '';
  const g = new RegExp(`^(?<y>\\d{4})-(?<mo>\\d{2})-(?<d>\\d{2})${time}${zone}$`).exec(value)?.groups;
  if (!g) return null;
  const year = +g.y;
  const month = +g.mo;
  const day = +g.d;
  const hour = g.h !== undefined ? +g.h : 0;
  const min = g.mi !== undefined ? +g.mi : 0;
  const sec = g.s !== undefined ? +g.s : 0;
  const frac = g.f ?? '';
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 || sec > 59) return null;
  let offset = localOffsetSec;
  if (withZone) {
    const z = g.z;
    if (z === 'Z') offset = 0;
    else {
      const zh = +z.slice(1, 3);
      const zm = +z.slice(4, 6);
      if (zh > 24 || zm > 60) return null;
      offset = (z[0] === '-' ? -1 : 1) * (zh * 3600 + zm * 60);
    }
  }
  const nsec = frac === '' ? 0 : Number(frac.slice(0, 9).padEnd(9, '0'));
  return { sec: utcSeconds(year, month, day, hour, min, sec) - offset, nsec };
}

/** The daemon's parseTimestamp: "<sec>[.<fraction>]". */
function parseUnixTimestamp(value: string): Time | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) return null;
  const sec = BigInt(m[1]);
  if (sec > MAX_DURATION) return null;
  let nsec = 0;
  if (m[2] !== undefined) {
    if (BigInt(m[2]) > MAX_DURATION) return null;
    // int64(float64(n) * 10^(9-len(n))), as the daemon computes it
    nsec = Math.trunc(Number(m[2]) * Math.pow(10, 9 - m[2].length));
  }
  return { sec: Number(sec), nsec };
}

/**
 * A --since / --until value as `docker logs` reads it: a Go duration before `nowMs`, an RFC 3339
 * time or date (in the local time zone when it has no offset, like the docker CLI), or Unix
 * seconds with an optional fraction.
 */
export function parseDockerTime(value: string, nowMs: number = Date.now(), localOffsetSec?: number): Time {
  if (value !== '0') {
    let d: bigint | null = null;
    try {
      d = parseGoDuration(value);
    } catch {
      d = null;
    }
    if (d !== null) {
      // reference.Add(-d).Unix(): whole seconds, floored
      const ns = BigInt(Math.round(nowMs)) * 1_000_000n - d;
      let sec = ns / 1_000_000_000n;
      if (ns < 0n && ns % 1_000_000_000n !== 0n) sec -= 1n;
      return { sec: Number(sec), nsec: 0 };
    }
  }
  const offset = localOffsetSec ?? -new Date(nowMs).getTimezoneOffset() * 60;
  const inLocation = !(/[zZ+]/.test(value) || value.split('-').length - 1 === 3);
  let layout: Layout;
  if (value.includes('.')) layout = 'nano';
  else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!inLocation && !/[zZ]/.test(value) && colons > 0) colons--;
    layout = colons === 0 ? 'hours' : colons === 1 ? 'minutes' : 'seconds';
  } else layout = 'date';
  const t = parseLayout(value, layout, !inLocation, offset);
  if (t) return t;
  if (!value.includes('-')) {
    const u = parseUnixTimestamp(value);
    if (u) return u;
  }
  throw new Error(
    `invalid time '${value}': expected an RFC 3339 time (2026-11-29T09:41:14Z, 2026-11-29T10:41:14.5+01:00, 2026-11-29), ` +
      'Unix seconds (1764403200.5) or a duration (10m, 1h30m)',
  );
}

// ---------------------------------------------------------------------------------------------
// Finding the container's files.

const HEX_ID = /^[0-9a-f]{1,64}$/;

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The live -json.log path for an ID, a unique ID prefix, a container directory or a log file. */
export async function resolveLivePath(arg: string, dataRoot: string): Promise<string> {
  if (HEX_ID.test(arg) && !arg.includes('/')) {
    const byId = await resolveIdPrefix(arg, dataRoot);
    if (byId) return byId;
  }
  const fromPath = await resolvePath(arg);
  if (fromPath) return fromPath;
  if (HEX_ID.test(arg)) throw new NotFoundError(`no such container: ${arg} (no directory under ${path.join(dataRoot, 'containers')} starts with it)`);
  throw new NotFoundError(
    `no such container: ${arg} (expected a container ID, a unique ID prefix, or the path of a container directory; names need the daemon)`,
  );
}

async function resolveIdPrefix(prefix: string, dataRoot: string): Promise<string | null> {
  const containers = path.join(dataRoot, 'containers');
  let names: string[];
  try {
    names = await fs.promises.readdir(containers);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  const exact = names.find((n) => n === prefix);
  const matches = exact ? [exact] : names.filter((n) => n.startsWith(prefix)).sort();
  if (matches.length === 0) return null;
  if (matches.length > 1) {
    const shown = matches.slice(0, 20).map((n) => `  ${n}`);
    if (matches.length > 20) shown.push(`  … and ${matches.length - 20} more`);
    throw new NotFoundError(`container ID prefix '${prefix}' is ambiguous: ${matches.length} containers match:\n${shown.join('\n')}`);
  }
  return path.join(containers, matches[0], `${matches[0]}-json.log`);
}

async function resolvePath(arg: string): Promise<string | null> {
  const p = path.resolve(arg);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    // A live file that does not exist (yet) in an existing directory: fine when it is named like one.
    if (/-json\.log$/.test(p) && (await isDirectory(path.dirname(p)))) return p;
    return null;
  }
  if (st.isDirectory()) {
    const own = path.join(p, `${path.basename(p)}-json.log`);
    const names = await fs.promises.readdir(p);
    if (names.some((n) => n === path.basename(own) || n.startsWith(path.basename(own) + '.'))) return own;
    const lives = [...new Set(names.map((n) => /^(.*-json\.log)(?:\.\d+(?:\.gz)?)?$/.exec(n)?.[1]).filter((n): n is string => !!n))];
    if (lives.length === 1) return path.join(p, lives[0]);
    if (lives.length > 1) throw new NotFoundError(`${p} holds the logs of several containers (${lives.join(', ')}): name the -json.log file`);
    // An empty container directory (nothing logged yet): its own name.
    return own;
  }
  const m = /^(.*-json\.log)(?:\.\d+(?:\.gz)?)?$/.exec(p);
  if (!m) throw new UsageError(`${arg} is not a container directory or a -json.log file`);
  return m[1];
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

/** Writes entries to process stdout / stderr in their order, in large writes, honouring back-pressure. */
class Output {
  private waiting = new Set<Writable>();
  private drainWaiters: Array<() => void> = [];
  private tsSec = Number.NaN;
  private tsHead = '';
  broken = false;
  onBroken: (() => void) | null = null;
  corruptCount = 0;
  private notes: string[] = [];

  constructor(
    private readonly out: Writable,
    private readonly err: Writable,
    private readonly timestamps: boolean,
  ) {
    for (const s of [out, err]) {
      s.on('error', this.onError);
    }
  }

  private readonly onError = (): void => {
    // EPIPE and the like: the reader went away; stop quietly.
    this.broken = true;
    this.waiting.clear();
    this.releaseWaiters();
    this.onBroken?.();
  };

  dispose(): void {
    // An EPIPE can still be reported after the command returned: keep a listener so it is not
    // thrown as unhandled, but let it do nothing more.
    this.onBroken = null;
  }

  private prefix(sec: number, nsec: number): Buffer {
    if (sec !== this.tsSec) {
      this.tsHead = formatSecondsUtc(sec) + '.';
      this.tsSec = sec;
    }
    return Buffer.from(this.tsHead + String(nsec).padStart(9, '0') + 'Z ', 'latin1');
  }

  /** Writes a batch; false when a stream asked to wait (see `drained`). */
  lines(batch: ReadLine[]): boolean {
    if (this.broken) return true;
    let stream: Writable | null = null;
    let parts: Buffer[] = [];
    let bytes = 0;
    const flush = () => {
      if (stream && parts.length > 0) this.write(stream, parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes));
      parts = [];
      bytes = 0;
    };
    for (const line of batch) {
      const target = line.source === 'stdout' ? this.out : line.source === 'stderr' ? this.err : null;
      if (!target) continue; // as the daemon: entries of any other stream are not shown
      if (target !== stream) {
        flush();
        stream = target;
      }
      if (this.timestamps) {
        const p = this.prefix(line.sec, line.nsec);
        parts.push(p);
        bytes += p.length;
      }
      parts.push(line.log);
      bytes += line.log.length;
    }
    flush();
    this.flushNotes();
    return this.waiting.size === 0;
  }

  /**
   * A skipped line. The note goes to stderr after the batch being read when it was found (the
   * reader reports it before handing over the lines around it), not in the middle of other writes.
   */
  corrupt(file: string, offset: number): void {
    this.corruptCount++;
    if (this.corruptCount <= MAX_CORRUPT_REPORTS) {
      this.notes.push(`logfan logs: skipped a line that is not a json-file entry (${file} at byte ${offset})\n`);
    } else if (this.corruptCount === MAX_CORRUPT_REPORTS + 1) {
      this.notes.push('logfan logs: more lines that are not json-file entries skipped; not reporting them one by one\n');
    }
  }

  flushNotes(): void {
    if (this.notes.length === 0) return;
    const text = this.notes.join('');
    this.notes = [];
    this.write(this.err, Buffer.from(text));
  }

  private write(stream: Writable, buf: Buffer): void {
    if (this.broken) return;
    if (!stream.write(buf) && !this.waiting.has(stream)) {
      this.waiting.add(stream);
      stream.once('drain', () => {
        this.waiting.delete(stream);
        if (this.waiting.size === 0) this.releaseWaiters();
      });
    }
  }

  private releaseWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once no stream is waiting for 'drain'. */
  drained(): Promise<void> {
    if (this.waiting.size === 0 || this.broken) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// Following.

function before(a: Time, b: Time): boolean {
  return a.sec < b.sec || (a.sec === b.sec && a.nsec < b.nsec);
}

function sameTime(a: Time, b: Time): boolean {
  return a.sec === b.sec && a.nsec === b.nsec;
}

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function closeFd(fd: number): void {
  fs.close(fd, () => undefined);
}

async function statOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

const readFd = promisify((fd: number, cb: (err: NodeJS.ErrnoException | null, data: Buffer) => void) => fs.readFile(fd, cb));
const gunzip = promisify(zlib.gunzip);

/** The time of the last complete entry in [0, end) of a plain file, or null. */
async function lastEntryTime(fd: number, end: number): Promise<Time | null> {
  const parts: Buffer[] = [];
  let pos = end;
  while (pos > 0 && end - pos < 8 * CHUNK) {
    const len = Math.min(64 * 1024, pos);
    pos -= len;
    const chunk = Buffer.allocUnsafe(len);
    const n = await readAt(fd, chunk, len, pos);
    parts.unshift(chunk.subarray(0, n));
    const buf = Buffer.concat(parts);
    // The last newline ends the last complete entry (anything after it is a torn write).
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl < 0) continue;
    const prevNl = lastNl === 0 ? -1 : buf.lastIndexOf(0x0a, lastNl - 1);
    if (prevNl < 0 && pos > 0) continue;
    const parsed = parseJsonLogLine(buf, prevNl + 1, lastNl);
    return parsed ? { sec: parsed.sec, nsec: parsed.nsec } : null;
  }
  return null;
}

/** listRotatedFiles, with a missing directory meaning no files. */
async function listRotated(livePath: string): Promise<RotatedFile[]> {
  try {
    return await listRotatedFiles(livePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

interface OpenedFile {
  fd: number;
  path: string;
  compressed: boolean;
}

async function openRotated(r: RotatedFile): Promise<OpenedFile | null> {
  // Between rotation and compression both NAME.n and NAME.n.gz exist: the plain one is complete.
  if (r.plain) {
    try {
      return { fd: await openForReading(r.plain), path: r.plain, compressed: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const gz = r.gz ?? (r.plain ? r.plain + '.gz' : null);
  if (!gz) return null;
  try {
    return { fd: await openForReading(gz), path: gz, compressed: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return null;
  }
}

interface Current {
  fd: number;
  dev: number;
  ino: number;
  path: string;
  position: number;
  carry: Buffer | null;
  /** Time of the last complete entry read from this file (to recognise it once rotated and gzipped). */
  lastTime: Time | null;
}

/**
 * Follows the live file after the history: polls it every POLL_MS, reads what was appended,
 * and on rotation (the live path names another inode) reads the old file to its end, then any
 * rotated files that came after it, then the new live file from its start.
 */
class LogFollower {
  private cur: Current | null = null;
  private batch: ReadLine[] = [];
  private timer: NodeJS.Timeout | null = null;
  private wakeTimer: (() => void) | null = null;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  stopped = false;
  pastUntil = false;

  constructor(
    private readonly livePath: string,
    private readonly opts: ReadOptions,
    private readonly output: Output,
  ) {}

  async start(live: HistoryEnd['live']): Promise<void> {
    if (!live) return;
    try {
      const st = await fstat(live.fd);
      this.cur = {
        fd: live.fd,
        dev: st.dev,
        ino: st.ino,
        path: live.path,
        position: live.size,
        carry: null,
        lastTime: await lastEntryTime(live.fd, live.size),
      };
    } catch (err) {
      closeFd(live.fd);
      throw err;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.wakeTimer;
    this.wakeTimer = null;
    w?.();
  }

  private get over(): boolean {
    return this.stopped || this.pastUntil || this.output.broken;
  }

  async run(): Promise<void> {
    try {
      while (!this.over) {
        const pollStart = Date.now();
        const switched = await this.poll();
        if (this.over) break;
        if (switched) continue; // read the new file right away
        if (this.opts.until && pollStart > this.opts.until.sec * 1000 + this.opts.until.nsec / 1e6 + UNTIL_GRACE_MS) break;
        await new Promise<void>((resolve) => {
          this.wakeTimer = resolve;
          this.timer = setTimeout(() => {
            this.timer = null;
            this.wakeTimer = null;
            resolve();
          }, POLL_MS);
        });
      }
    } finally {
      if (this.cur) closeFd(this.cur.fd);
      this.cur = null;
    }
  }

  /** One round: read what was appended; switch files on rotation. True when it switched. */
  private async poll(): Promise<boolean> {
    // Stat the path before reading: if it already names a new file, the old one is complete, and
    // reading it to its end now gets everything it will ever hold.
    const st = await statOrNull(this.livePath);
    if (this.cur) await this.drainCurrent();
    if (this.over || !st) return false;
    if (this.cur && st.ino === this.cur.ino && st.dev === this.cur.dev) return false;
    return this.switchFiles();
  }

  private async drainCurrent(): Promise<void> {
    const cur = this.cur!;
    const st = await fstat(cur.fd);
    if (st.size < cur.position) {
      // Truncated in place: start over from its beginning.
      cur.position = 0;
      cur.carry = null;
    }
    for (;;) {
      const n = await readAt(cur.fd, this.buf, CHUNK, cur.position);
      if (n === 0) break;
      let data = this.buf.subarray(0, n);
      let offset = cur.position;
      if (cur.carry) {
        offset -= cur.carry.length;
        data = Buffer.concat([cur.carry, data]);
        cur.carry = null;
      }
      const { consumed, last } = this.feed(data, cur.path, offset);
      if (last) cur.lastTime = last;
      if (consumed < data.length) cur.carry = Buffer.from(data.subarray(consumed));
      cur.position += n;
      await this.flush();
      if (this.over) return;
    }
  }

  private async switchFiles(): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const a = await statOrNull(this.livePath);
      if (!a) return false;
      const missed = this.cur ? await this.openMissed(this.cur) : [];
      let fd: number;
      try {
        fd = await openForReading(this.livePath);
      } catch (err) {
        for (const m of missed) closeFd(m.fd);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      const b = await fstat(fd);
      if (a.ino !== b.ino || a.dev !== b.dev) {
        // Rotated again while we looked: look again.
        closeFd(fd);
        for (const m of missed) closeFd(m.fd);
        continue;
      }
      if (this.cur) {
        const old = this.cur;
        if (old.carry && old.carry.length > 0) {
          // The old file ends without a newline: take its torn tail for what it is.
          this.acceptLine(old.carry, 0, old.carry.length, old.path, old.position - old.carry.length);
        }
        closeFd(old.fd);
        this.cur = null;
      }
      try {
        for (const m of missed) {
          if (!this.over) await this.readWhole(m);
        }
      } finally {
        for (const m of missed) closeFd(m.fd);
      }
      await this.flush();
      if (this.over) {
        closeFd(fd);
        return false;
      }
      this.cur = { fd, dev: b.dev, ino: b.ino, path: this.livePath, position: 0, carry: null, lastTime: null };
      return true;
    }
    return false;
  }

  /**
   * Rotated files newer than `old` (rotations that happened between two polls), oldest first,
   * opened. `old` is recognised by its inode while uncompressed and by the time of its last entry
   * (the gzip header's lastTime) once compressed.
   */
  private async openMissed(old: Current): Promise<OpenedFile[]> {
    const rotated = await listRotated(this.livePath);
    let ours = -1;
    for (let i = 0; i < rotated.length && ours < 0; i++) {
      const r = rotated[i];
      const st = r.plain ? await statOrNull(r.plain) : null;
      if (st) {
        if (st.ino === old.ino && st.dev === old.dev) ours = i;
        continue;
      }
      const gz = r.gz ?? (r.plain ? r.plain + '.gz' : null);
      if (!gz || !old.lastTime) continue;
      const f = await openRotated({ n: r.n, plain: null, gz });
      if (!f) continue;
      try {
        const last = await gzipLastTime(f.fd);
        if (last && sameTime(last, old.lastTime)) ours = i;
      } finally {
        closeFd(f.fd);
      }
    }
    let newer: RotatedFile[];
    if (ours >= 0) newer = rotated.slice(0, ours);
    else if (old.lastTime) {
      // Our file is gone (rotated out): take the files whose last entry comes after ours.
      newer = [];
      for (const r of rotated) {
        const f = await openRotated(r);
        if (!f) continue;
        try {
          const last = f.compressed ? await gzipLastTime(f.fd) : await lastEntryTime(f.fd, (await fstat(f.fd)).size);
          if (last && before(old.lastTime, last)) newer.push(r);
        } finally {
          closeFd(f.fd);
        }
      }
    } else newer = [];
    const opened: OpenedFile[] = [];
    try {
      for (const r of newer.reverse()) {
        const f = await openRotated(r);
        if (f) opened.push(f);
      }
    } catch (err) {
      for (const f of opened) closeFd(f.fd);
      throw err;
    }
    return opened;
  }

  private async readWhole(f: OpenedFile): Promise<void> {
    if (f.compressed) {
      const data = await gunzip(await readFd(f.fd));
      const { consumed } = this.feed(data, f.path, 0);
      if (consumed < data.length && !this.over) this.acceptLine(data, consumed, data.length, f.path, consumed);
      await this.flush();
      return;
    }
    let position = 0;
    let carry: Buffer | null = null;
    for (;;) {
      const n = await readAt(f.fd, this.buf, CHUNK, position);
      if (n === 0) break;
      let data = this.buf.subarray(0, n);
      let offset = position;
      if (carry) {
        offset -= carry.length;
        data = Buffer.concat([carry, data]);
        carry = null;
      }
      const { consumed } = this.feed(data, f.path, offset);
      if (consumed < data.length) carry = Buffer.from(data.subarray(consumed));
      position += n;
      await this.flush();
      if (this.over) return;
    }
    if (carry && carry.length > 0) this.acceptLine(carry, 0, carry.length, f.path, position - carry.length);
  }

  /** Takes the complete lines of data; returns where the incomplete rest starts and the last entry's time. */
  private feed(data: Buffer, file: string, fileOffset: number): { consumed: number; last: Time | null } {
    let start = 0;
    let last: Time | null = null;
    for (;;) {
      if (this.pastUntil) break;
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl > start) last = this.acceptLine(data, start, nl, file, fileOffset + start) ?? last;
      start = nl + 1;
    }
    return { consumed: start, last };
  }

  private acceptLine(data: Buffer, start: number, end: number, file: string, offset: number): Time | null {
    if (this.pastUntil) return null;
    const line = parseJsonLogLine(data, start, end);
    if (!line) {
      this.output.corrupt(file, offset);
      return null;
    }
    const t = { sec: line.sec, nsec: line.nsec };
    if (this.opts.since && before(line, this.opts.since)) return t;
    if (this.opts.until && before(this.opts.until, line)) {
      this.pastUntil = true;
      return t;
    }
    this.batch.push(line);
    return t;
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) {
      this.output.flushNotes();
      return;
    }
    const lines = this.batch;
    this.batch = [];
    if (!this.output.lines(lines)) await this.output.drained();
  }
}

// ---------------------------------------------------------------------------------------------
// The command.

export interface LogsStreams {
  stdout: Writable;
  stderr: Writable;
}

function parseTail(text: string): number {
  if (text === 'all') return -1;
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`invalid --tail '${text}': expected a number of lines or 'all'`);
  }
  const n = Number(text);
  return n < 0 ? -1 : n;
}

/** Runs `logfan logs`; resolves to the exit code. */
export async function runLogsCommand(argv: string[], streams: LogsStreams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const fail = (code: number, message: string): number => {
    streams.stderr.write(`logfan logs: ${message}\n`);
    if (code === EXIT_USAGE) streams.stderr.write(`(see 'logfan logs --help')\n`);
    return code;
  };

  // pflag also takes "-n=5"; parseArgs would read that value as "=5".
  argv = argv.map((a) => (a.startsWith('-n=') ? '--tail=' + a.slice(3) : a));
  let values: { 'data-root'?: string; tail?: string; since?: string; until?: string; follow?: boolean; timestamps?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        'data-root': { type: 'string' },
        tail: { type: 'string', short: 'n' },
        since: { type: 'string' },
        until: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        timestamps: { type: 'boolean', short: 't' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return fail(EXIT_USAGE, (err as Error).message);
  }
  if (values.help) {
    streams.stdout.write(`usage:\n${LOGS_USAGE}`);
    return EXIT_OK;
  }
  if (positionals.length !== 1) {
    return fail(EXIT_USAGE, positionals.length === 0 ? 'which container? give its ID, an ID prefix or its directory' : `one container at a time (got ${positionals.join(' ')})`);
  }
  const dataRoot = values['data-root'] ?? process.env.LOGFAN_DATA_ROOT ?? '/var/lib/logfan';
  if (dataRoot === '') return fail(EXIT_USAGE, '--data-root must not be empty');

  const now = Date.now();
  let opts: ReadOptions;
  try {
    let since: Time | null = null;
    let until: Time | null = null;
    if (values.since !== undefined && values.since !== '') {
      try {
        since = parseDockerTime(values.since, now);
      } catch (err) {
        throw new UsageError(`--since: ${(err as Error).message}`);
      }
    }
    // As the daemon: an until of "0" means no limit.
    if (values.until !== undefined && values.until !== '' && values.until !== '0') {
      try {
        until = parseDockerTime(values.until, now);
      } catch (err) {
        throw new UsageError(`--until: ${(err as Error).message}`);
      }
    }
    opts = { tail: parseTail(values.tail ?? 'all'), since, until, follow: values.follow === true };
  } catch (err) {
    return fail(EXIT_USAGE, (err as Error).message);
  }

  let livePath: string;
  try {
    livePath = await resolveLivePath(positionals[0], dataRoot);
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT_USAGE, err.message);
    return fail(EXIT_FAILED, (err as Error).message);
  }

  const output = new Output(streams.stdout, streams.stderr, values.timestamps === true);
  let handle: ReadHandle | null = null;
  let follower: LogFollower | null = null;
  let history: HistoryEnd | null = null;
  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    handle?.stop();
    follower?.stop();
  };
  output.onBroken = stop;
  const onSignal = () => stop();
  if (opts.follow) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    // The reader does not follow without a writer; following is done below, from where it stopped.
    const h = readJsonLog(
      livePath,
      null,
      { ...opts, follow: false },
      {
        lines: (batch) => {
          if (output.lines(batch)) return true;
          void output.drained().then(() => h.resume());
          return false;
        },
        corrupt: (file, offset) => output.corrupt(file, offset),
      },
      opts.follow
        ? (end) => {
            history = end;
          }
        : undefined,
    );
    handle = h;
    if (stopRequested) h.stop();
    try {
      await h.done;
    } catch (err) {
      const end = history as HistoryEnd | null;
      if (end?.live) closeFd(end.live.fd);
      throw err;
    }
    output.flushNotes();
    const end = history as HistoryEnd | null;
    if (opts.follow && end) {
      if (stopRequested || end.pastUntil || output.broken) {
        if (end.live) closeFd(end.live.fd);
      } else {
        follower = new LogFollower(livePath, opts, output);
        await follower.start(end.live);
        if (stopRequested) follower.stop();
        await follower.run();
      }
    }
    output.flushNotes();
    await output.drained();
    if (output.corruptCount > MAX_CORRUPT_REPORTS) {
      streams.stderr.write(`logfan logs: ${output.corruptCount} lines in all were not json-file entries and were skipped\n`);
    }
    return EXIT_OK;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(EXIT_FAILED, e.code === 'EACCES' ? `cannot read the logs: ${e.message} (try as root)` : `reading the logs failed: ${e.message}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    output.dispose();
  }
}
