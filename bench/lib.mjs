// What the benchmarks share: process CPU and memory from /proc, medians, child processes whose
// output lines are events, and waiting for such an event.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const CLK_TCK = 100;
const run = promisify(execFile);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const docker = async (...args) => (await run('docker', args, { maxBuffer: 64 << 20 })).stdout.trim();

/** User + system CPU seconds of a process so far; 0 when there is no such process. */
export function cpuSeconds(pid) {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The peak resident set of a process (VmHWM), in MB. */
export function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Starts a child and calls onLine for each line of its stdout and stderr. */
export function startChild(cmd, args, env, onLine) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (t) => {
      buf += t;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  return child;
}

/** Lines (events) from a child, and waiting for the first that matches. */
export class EventWaiter {
  lines = [];
  waiters = [];
  push(line) {
    this.lines.push(line);
    if (this.lines.length > 10_000) this.lines.splice(0, 5_000);
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(pred, timeoutMs = 300_000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (Date.now() > end) throw new Error('timed out waiting for plugin event');
      await Promise.race([new Promise((r) => this.waiters.push(r)), sleep(100)]);
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Soak helpers (bench/soak.mjs, test/e2e/soak.e2e.test.ts): /proc sampling, a fluentd Forward
// receiver that can be stopped and started again on the same port, a json-file store reader.

/** Resident set (VmRSS) and peak resident set (VmHWM) in MB, and open fds, of a process. */
export function procSample(pid) {
  let status;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rssMb: NaN, hwmMb: NaN, fds: NaN };
  }
  const kb = (key) => {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  let fds = NaN;
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // gone
  }
  return { rssMb: kb('VmRSS'), hwmMb: kb('VmHWM'), fds };
}

class Incomplete extends Error {}

/** Decodes one msgpack value at pos into plain JS (str → string, bin → Buffer, ext → {type, data}). */
export function msgpackDecode(buf, pos) {
  const need = (n) => {
    if (pos + n > buf.length) throw new Incomplete();
  };
  const str = (len) => {
    need(len);
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const bin = (len) => {
    need(len);
    const b = buf.subarray(pos, pos + len);
    pos += len;
    return b;
  };
  const arr = (n) => {
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = value();
    return out;
  };
  const map = (n) => {
    const out = {};
    for (let i = 0; i < n; i++) {
      const k = value();
      out[Buffer.isBuffer(k) ? k.toString('latin1') : String(k)] = value();
    }
    return out;
  };
  const ext = (len) => {
    need(1 + len);
    const type = buf.readInt8(pos);
    const data = buf.subarray(pos + 1, pos + 1 + len);
    pos += 1 + len;
    return { type, data };
  };
  const u = (n, read) => {
    need(n);
    const v = read(pos);
    pos += n;
    return v;
  };
  function value() {
    need(1);
    const b = buf[pos++];
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 256;
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return u(1, (p) => buf.readUInt8(p));
      case 0xcd: return u(2, (p) => buf.readUInt16BE(p));
      case 0xce: return u(4, (p) => buf.readUInt32BE(p));
      case 0xcf: return u(8, (p) => Number(buf.readBigUInt64BE(p)));
      case 0xd0: return u(1, (p) => buf.readInt8(p));
      case 0xd1: return u(2, (p) => buf.readInt16BE(p));
      case 0xd2: return u(4, (p) => buf.readInt32BE(p));
      case 0xd3: return u(8, (p) => Number(buf.readBigInt64BE(p)));
      case 0xca: return u(4, (p) => buf.readFloatBE(p));
      case 0xcb: return u(8, (p) => buf.readDoubleBE(p));
      case 0xd9: return str(u(1, (p) => buf.readUInt8(p)));
      case 0xda: return str(u(2, (p) => buf.readUInt16BE(p)));
      case 0xdb: return str(u(4, (p) => buf.readUInt32BE(p)));
      case 0xc4: return bin(u(1, (p) => buf.readUInt8(p)));
      case 0xc5: return bin(u(2, (p) => buf.readUInt16BE(p)));
      case 0xc6: return bin(u(4, (p) => buf.readUInt32BE(p)));
      case 0xd4: return ext(1);
      case 0xd5: return ext(2);
      case 0xd6: return ext(4);
      case 0xd7: return ext(8);
      case 0xd8: return ext(16);
      case 0xc7: return ext(u(1, (p) => buf.readUInt8(p)));
      case 0xc8: return ext(u(2, (p) => buf.readUInt16BE(p)));
      case 0xc9: return ext(u(4, (p) => buf.readUInt32BE(p)));
      case 0xdc: return arr(u(2, (p) => buf.readUInt16BE(p)));
      case 0xdd: return arr(u(4, (p) => buf.readUInt32BE(p)));
      case 0xde: return map(u(2, (p) => buf.readUInt16BE(p)));
      case 0xdf: return map(u(4, (p) => buf.readUInt32BE(p)));
      default: throw new Error(`invalid msgpack byte 0x${b.toString(16)}`);
    }
  }
  const v = value();
  return { value: v, end: pos };
}

/** The records in one top-level Forward-protocol value: Message [tag, time, record, opt?] or Forward [tag, [[time, record], ...], opt?]. */
function forwardRecords(v) {
  if (!Array.isArray(v) || v.length < 2) throw new Error('not a Forward-protocol event');
  if (Array.isArray(v[1])) return v[1].map((e) => e[1]);
  if (Buffer.isBuffer(v[1]) || typeof v[1] === 'string') {
    // PackedForward: a msgpack stream of [time, record] inside a bin/str.
    const inner = Buffer.isBuffer(v[1]) ? v[1] : Buffer.from(v[1], 'latin1');
    const out = [];
    for (let p = 0; p < inner.length; ) {
      const r = msgpackDecode(inner, p);
      out.push(r.value[1]);
      p = r.end;
    }
    return out;
  }
  return [v[2]];
}

/**
 * A fluentd Forward-protocol receiver on 127.0.0.1 that calls onRecord(record) for each event and
 * can go away and come back on the same port, as a restarted fluentd does.
 *
 * stop({graceful: true}) stops accepting, half-closes every connection (FIN) and reads on until the
 * sender closes its side: nothing a sender's write callback reported as sent is lost, so
 * received = sent exactly. stop({graceful: false}) drops the connections at once (a crash): what
 * was in flight is lost without the sender knowing.
 */
export class ForwardCounter {
  constructor(onRecord, port = 0) {
    this.onRecord = onRecord;
    this.port = port;
    this.server = null;
    this.sockets = new Set();
    this.connections = 0;
    this.events = 0;
    this.errors = [];
    this.forcedCloses = 0;
    this.up = false;
  }

  async start() {
    const server = net.createServer((sock) => this.handle(sock));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = server.address().port;
    this.up = true;
  }

  handle(sock) {
    this.sockets.add(sock);
    this.connections++;
    let pending = Buffer.alloc(0);
    sock.on('data', (data) => {
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      let pos = 0;
      for (;;) {
        let r;
        try {
          r = msgpackDecode(pending, pos);
        } catch (err) {
          if (err instanceof Incomplete) break;
          this.errors.push(err);
          sock.destroy();
          return;
        }
        try {
          for (const rec of forwardRecords(r.value)) {
            this.events++;
            this.onRecord(rec);
          }
        } catch (err) {
          this.errors.push(err);
        }
        pos = r.end;
      }
      pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  async stop({ graceful = true, timeoutMs = 10_000 } = {}) {
    const server = this.server;
    this.server = null;
    this.up = false;
    const closed = server ? new Promise((r) => server.close(() => r())) : Promise.resolve();
    const socks = [...this.sockets];
    await Promise.all(
      socks.map(
        (s) =>
          new Promise((resolve) => {
            if (s.destroyed) return resolve();
            s.once('close', () => resolve());
            if (!graceful) return s.destroy();
            s.end();
            const t = setTimeout(() => {
              this.forcedCloses++;
              s.destroy();
            }, timeoutMs);
            s.once('close', () => clearTimeout(t));
          }),
      ),
    );
    await closed;
  }
}

/**
 * The lines of a json-file store, oldest first: NAME.k[.gz] … NAME.1[.gz], then NAME, each as
 * {log, stream} (the JSON parsed).
 */
export function readJsonStore(file) {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated = fs
    .readdirSync(dir)
    .map((f) => /^(.*)\.(\d+)(\.gz)?$/.exec(f))
    .filter((m) => m && m[1] === base)
    .map((m) => ({ n: Number(m[2]), name: m[0], gz: !!m[3] }))
    .sort((a, b) => b.n - a.n);
  const out = [];
  for (const f of [...rotated, { name: base, gz: false }]) {
    const p = path.join(dir, f.name);
    if (!fs.existsSync(p)) continue;
    let data = fs.readFileSync(p);
    if (f.gz) data = zlib.gunzipSync(data);
    const text = data.toString('utf8');
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (nl > start) out.push(JSON.parse(text.slice(start, nl)));
      start = nl + 1;
    }
  }
  return out;
}

/**
 * Checks a container's store against what it logged: stdout lines `prefix-1` … `prefix-N` once and
 * in order, and N equal to the `total-N` line it wrote to stderr last (when it wrote one).
 */
export function checkNumberedStore(file, prefix = 'line') {
  const lines = readJsonStore(file);
  let count = 0;
  let last = 0;
  let gaps = 0;
  let outOfOrder = 0;
  let total = null;
  for (const l of lines) {
    const text = l.log.replace(/\n$/, '');
    if (l.stream === 'stderr') {
      const m = /^total-(\d+)$/.exec(text);
      if (m) total = Number(m[1]);
      continue;
    }
    if (!text.startsWith(`${prefix}-`)) continue;
    const n = Number(text.slice(prefix.length + 1));
    count++;
    if (n <= last) outOfOrder++;
    else if (n !== last + 1) gaps += n - last - 1;
    last = Math.max(last, n);
  }
  const ok = outOfOrder === 0 && gaps === 0 && count === last && (total === null || total === count);
  return { count, last, gaps, outOfOrder, total, ok };
}

/** Per container: which numbered lines a receiver got, as a growable bitmap. */
export class LineTally {
  constructor() {
    this.byContainer = new Map();
  }

  add(containerId, text, prefix = 'line') {
    let t = this.byContainer.get(containerId);
    if (!t) this.byContainer.set(containerId, (t = { events: 0, distinct: 0, duplicates: 0, outOfOrder: 0, max: 0, seen: new Uint8Array(4096) }));
    t.events++;
    if (!text.startsWith(`${prefix}-`)) return;
    const n = Number(text.slice(prefix.length + 1));
    if (!Number.isInteger(n) || n < 1) return;
    if (n >= t.seen.length) {
      const bigger = new Uint8Array(Math.max(n + 1, t.seen.length * 2));
      bigger.set(t.seen);
      t.seen = bigger;
    }
    if (t.seen[n]) t.duplicates++;
    else {
      t.seen[n] = 1;
      t.distinct++;
    }
    if (n < t.max) t.outOfOrder++;
    t.max = Math.max(t.max, n);
  }

  get(containerId) {
    return this.byContainer.get(containerId) ?? { events: 0, distinct: 0, duplicates: 0, outOfOrder: 0, max: 0, seen: new Uint8Array(0) };
  }
}

// -------------------------------------------------------------------------------------------------
// Fan-out helpers (bench/fanout.mjs): a GELF TCP receiver, a tally of `seq 1 N` numbers, a check of
// a json-file store written by `seq 1 N`, and resetting a process's peak RSS between runs.

/**
 * Resets a process's VmHWM to its current RSS (writes 5 to /proc/PID/clear_refs, Linux ≥ 4.0), so
 * peakRssMb after a run is that run's peak. Returns false where that is not allowed.
 */
export function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Which of the numbers 1..n arrived (the lines of `seq 1 n`), as a bitmap: distinct, duplicates,
 * out of order, anything else (invalid), and when the n-th event arrived (hrtime, ns).
 */
export class SeqTally {
  constructor(n) {
    this.n = n;
    this.seen = new Uint8Array(n + 1);
    this.events = 0;
    this.distinct = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.invalid = 0;
    this.last = 0;
    this.completeAt = 0n;
    this.lastAt = 0n;
  }

  add(k) {
    this.events++;
    if (!Number.isInteger(k) || k < 1 || k > this.n) this.invalid++;
    else {
      if (this.seen[k]) this.duplicates++;
      else {
        this.seen[k] = 1;
        this.distinct++;
      }
      if (k < this.last) this.outOfOrder++;
      this.last = k;
    }
    this.lastAt = process.hrtime.bigint();
    if (this.distinct === this.n && this.completeAt === 0n) this.completeAt = this.lastAt;
  }

  get missing() {
    return this.n - this.distinct;
  }

  summary() {
    return { events: this.events, distinct: this.distinct, missing: this.missing, duplicates: this.duplicates, outOfOrder: this.outOfOrder, invalid: this.invalid };
  }
}

/** The unsigned decimal in buf[start, end), or NaN. */
export function decimalAt(buf, start, end) {
  if (end <= start || end - start > 15) return NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/**
 * A GELF-over-TCP receiver on 127.0.0.1: messages are NUL-terminated JSON. Counts them and calls
 * onMessage(buf, start, end) for each (a message split across reads is joined first).
 */
export class GelfTcpCounter {
  constructor(onMessage = null) {
    this.onMessage = onMessage;
    this.server = null;
    this.sockets = new Set();
    this.port = 0;
    this.messages = 0;
    this.bytes = 0;
    this.connections = 0;
  }

  async start() {
    const server = net.createServer((sock) => this.handle(sock));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = server.address().port;
  }

  handle(sock) {
    this.sockets.add(sock);
    this.connections++;
    let carry = null;
    sock.on('data', (data) => {
      this.bytes += data.length;
      let from = 0;
      let nul = data.indexOf(0);
      if (nul < 0) {
        carry = carry ? Buffer.concat([carry, data]) : Buffer.from(data);
        return;
      }
      if (carry) {
        const joined = Buffer.concat([carry, data.subarray(0, nul)]);
        carry = null;
        this.messages++;
        this.onMessage?.(joined, 0, joined.length);
        from = nul + 1;
        nul = data.indexOf(0, from);
      }
      while (nul >= 0) {
        this.messages++;
        this.onMessage?.(data, from, nul);
        from = nul + 1;
        nul = data.indexOf(0, from);
      }
      if (from < data.length) carry = Buffer.from(data.subarray(from));
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((r) => this.server.close(() => r()));
    this.server = null;
  }
}

const SHORT_MESSAGE = Buffer.from('"short_message":"');

/** The `seq` number in a GELF message's short_message, or NaN. */
export function gelfSeqNumber(buf, start, end) {
  const at = buf.indexOf(SHORT_MESSAGE, start);
  if (at < 0 || at >= end) return NaN;
  const s = at + SHORT_MESSAGE.length;
  const q = buf.indexOf(0x22, s);
  return q < 0 || q > end ? NaN : decimalAt(buf, s, q);
}

/**
 * Checks a json-file store written by `seq 1 n` on stdout (rotated files included, oldest first):
 * every number once and in order. Reads `{"log":"<k>\n",…}` lines without parsing the JSON.
 */
export function checkSeqStore(file, n) {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated = fs
    .readdirSync(dir)
    .map((f) => /^(.*)\.(\d+)(\.gz)?$/.exec(f))
    .filter((m) => m && m[1] === base)
    .map((m) => ({ n: Number(m[2]), name: m[0], gz: !!m[3] }))
    .sort((a, b) => b.n - a.n);
  const tally = new SeqTally(n);
  const head = Buffer.from('{"log":"');
  let lines = 0;
  for (const f of [...rotated, { name: base, gz: false }]) {
    const p = path.join(dir, f.name);
    if (!fs.existsSync(p)) continue;
    let data = fs.readFileSync(p);
    if (f.gz) data = zlib.gunzipSync(data);
    for (let start = 0; start < data.length; ) {
      let nl = data.indexOf(10, start);
      if (nl < 0) nl = data.length;
      lines++;
      if (data.compare(head, 0, head.length, start, start + head.length) === 0) {
        const s = start + head.length;
        const bs = data.indexOf(0x5c, s); // the escaped \n that ends the log value
        tally.add(bs > 0 && bs < nl ? decimalAt(data, s, bs) : NaN);
      } else tally.add(NaN);
      start = nl + 1;
    }
  }
  return { lines, ...tally.summary(), ok: tally.distinct === n && tally.duplicates === 0 && tally.outOfOrder === 0 && tally.invalid === 0 };
}

/**
 * The end of the msgpack value at pos in buf[.., end), or -1 when it is incomplete. Allocates
 * nothing (for receivers that only count).
 */
export function msgpackSkip(buf, pos, end = buf.length) {
  if (pos >= end) return -1;
  const b = buf[pos];
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return pos + 1;
  let hdr; // header bytes
  let len = 0; // payload bytes (str, bin, ext: ext's type byte is in hdr)
  let n = -1; // items (array, map: 2 per pair)
  if ((b & 0xe0) === 0xa0) {
    hdr = 1;
    len = b & 0x1f;
  } else if ((b & 0xf0) === 0x90) {
    hdr = 1;
    n = b & 0x0f;
  } else if ((b & 0xf0) === 0x80) {
    hdr = 1;
    n = 2 * (b & 0x0f);
  } else {
    switch (b) {
      case 0xcc: case 0xd0: hdr = 2; break;
      case 0xcd: case 0xd1: hdr = 3; break;
      case 0xce: case 0xd2: case 0xca: hdr = 5; break;
      case 0xcf: case 0xd3: case 0xcb: hdr = 9; break;
      case 0xd4: hdr = 3; break;
      case 0xd5: hdr = 4; break;
      case 0xd6: hdr = 6; break;
      case 0xd7: hdr = 10; break;
      case 0xd8: hdr = 18; break;
      case 0xc4: case 0xd9: case 0xc7:
        if (pos + 2 > end) return -1;
        len = buf[pos + 1];
        hdr = b === 0xc7 ? 3 : 2;
        break;
      case 0xc5: case 0xda: case 0xc8: case 0xdc: case 0xde:
        if (pos + 3 > end) return -1;
        len = buf.readUInt16BE(pos + 1);
        hdr = b === 0xc8 ? 4 : 3;
        break;
      case 0xc6: case 0xdb: case 0xc9: case 0xdd: case 0xdf:
        if (pos + 5 > end) return -1;
        len = buf.readUInt32BE(pos + 1);
        hdr = b === 0xc9 ? 6 : 5;
        break;
      default:
        throw new Error(`invalid msgpack byte 0x${b.toString(16)}`);
    }
    if (b === 0xdc || b === 0xdd) {
      n = len;
      len = 0;
    } else if (b === 0xde || b === 0xdf) {
      n = 2 * len;
      len = 0;
    }
  }
  let p = pos + hdr + len;
  if (p > end) return -1;
  for (let i = 0; i < n; i++) if ((p = msgpackSkip(buf, p, end)) < 0) return -1;
  return p;
}

/** [count, headerLength] of an array (kind 'a'), map ('m') or str/bin ('s') header at pos, or null. */
function msgpackHeader(buf, pos, kind) {
  const b = buf[pos];
  if (kind === 'a') {
    if ((b & 0xf0) === 0x90) return [b & 0x0f, 1];
    if (b === 0xdc) return [buf.readUInt16BE(pos + 1), 3];
    if (b === 0xdd) return [buf.readUInt32BE(pos + 1), 5];
  } else if (kind === 'm') {
    if ((b & 0xf0) === 0x80) return [b & 0x0f, 1];
    if (b === 0xde) return [buf.readUInt16BE(pos + 1), 3];
    if (b === 0xdf) return [buf.readUInt32BE(pos + 1), 5];
  } else {
    if ((b & 0xe0) === 0xa0) return [b & 0x1f, 1];
    if (b === 0xd9 || b === 0xc4) return [buf[pos + 1], 2];
    if (b === 0xda || b === 0xc5) return [buf.readUInt16BE(pos + 1), 3];
    if (b === 0xdb || b === 0xc6) return [buf.readUInt32BE(pos + 1), 5];
  }
  return null;
}

/**
 * A fluentd Forward-protocol receiver on 127.0.0.1 that, unlike ForwardCounter, decodes nothing
 * into objects: per event it finds the record's `log` value and calls onLog(buf, start, end) with
 * its bytes (start = end = -1 when the record has none). Message, Forward and PackedForward modes
 * (uncompressed). Cheaper per event, which matters when the receiver shares the machine with
 * what it measures.
 */
export class ForwardLogCounter {
  constructor(onLog = null) {
    this.onLog = onLog;
    this.server = null;
    this.sockets = new Set();
    this.port = 0;
    this.events = 0;
    this.bytes = 0;
    this.connections = 0;
    this.errors = [];
  }

  async start() {
    const server = net.createServer((sock) => this.handle(sock));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = server.address().port;
  }

  /** One record (a map) at pos: reports its log value. */
  record(buf, pos, end) {
    const h = msgpackHeader(buf, pos, 'm');
    if (!h) throw new Error('record is not a map');
    let p = pos + h[1];
    let found = false;
    for (let i = 0; i < h[0]; i++) {
      const keyEnd = msgpackSkip(buf, p, end);
      const valEnd = msgpackSkip(buf, keyEnd, end);
      if (!found && keyEnd - p === 4 && buf[p] === 0xa3 && buf[p + 1] === 0x6c && buf[p + 2] === 0x6f && buf[p + 3] === 0x67) {
        const v = msgpackHeader(buf, keyEnd, 's');
        if (v) {
          found = true;
          this.events++;
          this.onLog?.(buf, keyEnd + v[1], valEnd);
        }
      }
      p = valEnd;
    }
    if (!found) {
      this.events++;
      this.onLog?.(buf, -1, -1);
    }
  }

  /** One complete top-level value buf[pos, end). */
  message(buf, pos, end) {
    const h = msgpackHeader(buf, pos, 'a');
    if (!h || h[0] < 2) throw new Error('not a Forward-protocol event');
    const tagEnd = msgpackSkip(buf, pos + h[1], end);
    const entries = msgpackHeader(buf, tagEnd, 'a');
    if (entries) {
      // Forward: [tag, [[time, record], ...], option?]
      let p = tagEnd + entries[1];
      for (let i = 0; i < entries[0]; i++) {
        const e = msgpackHeader(buf, p, 'a');
        const timeEnd = msgpackSkip(buf, p + e[1], end);
        this.record(buf, timeEnd, end);
        p = msgpackSkip(buf, p, end);
      }
      return;
    }
    const b = buf[tagEnd];
    if ((b & 0xe0) === 0xa0 || b === 0xd9 || b === 0xda || b === 0xdb || b === 0xc4 || b === 0xc5 || b === 0xc6) {
      // PackedForward: a msgpack stream of [time, record] inside a str/bin.
      const s = msgpackHeader(buf, tagEnd, 's');
      const innerEnd = tagEnd + s[1] + s[0];
      for (let p = tagEnd + s[1]; p < innerEnd; ) {
        const e = msgpackHeader(buf, p, 'a');
        const timeEnd = msgpackSkip(buf, p + e[1], innerEnd);
        this.record(buf, timeEnd, innerEnd);
        p = msgpackSkip(buf, p, innerEnd);
      }
      return;
    }
    // Message: [tag, time, record, option?]
    this.record(buf, msgpackSkip(buf, tagEnd, end), end);
  }

  handle(sock) {
    this.sockets.add(sock);
    this.connections++;
    let pending = null;
    sock.on('data', (data) => {
      this.bytes += data.length;
      const buf = pending ? Buffer.concat([pending, data]) : data;
      let pos = 0;
      try {
        for (;;) {
          const end = msgpackSkip(buf, pos);
          if (end < 0) break;
          this.message(buf, pos, end);
          pos = end;
        }
      } catch (err) {
        this.errors.push(err);
        sock.destroy();
        return;
      }
      pending = pos === buf.length ? null : Buffer.from(buf.subarray(pos));
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((r) => this.server.close(() => r()));
    this.server = null;
  }
}

/**
 * The Node flags logfan runs with (config.json's entrypoint, dist/cli.js's shebang): benches and
 * tests start `node <flags> dist/cli.js` so they measure what users run. docs/decisions.md,
 * "Young generation size", says why.
 */
export const LOGFAN_NODE_FLAGS = ['--max-semi-space-size=2', '--expose-gc'];
