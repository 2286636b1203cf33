/**
 * Test side of the Forward protocol: a strict msgpack reader that keeps every string as its raw
 * bytes (and remembers each value's exact encoding), and a TCP / unix-socket receiver that splits
 * the stream into Message-mode events and, when asked, answers {ack: chunk}.
 */
import fs from 'node:fs';
import net from 'node:net';

export type MsgValue =
  | { t: 'int'; v: number; raw: Buffer }
  | { t: 'str'; v: Buffer; raw: Buffer }
  | { t: 'bin'; v: Buffer; raw: Buffer }
  | { t: 'nil' | 'bool' | 'float'; raw: Buffer }
  | { t: 'ext'; type: number; data: Buffer; raw: Buffer }
  | { t: 'array'; items: MsgValue[]; raw: Buffer }
  | { t: 'map'; entries: Array<[MsgValue, MsgValue]>; header: Buffer; raw: Buffer };

export class Incomplete extends Error {}

/** Decodes one value at pos; throws Incomplete when the buffer ends first. */
export function decodeValue(buf: Buffer, pos: number): { value: MsgValue; end: number } {
  const start = pos;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new Incomplete();
  };
  need(1);
  const b = buf[pos++];
  const done = (v: Omit<MsgValue, 'raw'>): { value: MsgValue; end: number } => ({ value: { ...v, raw: buf.subarray(start, pos) } as MsgValue, end: pos });
  const strOf = (len: number, t: 'str' | 'bin'): { value: MsgValue; end: number } => {
    need(len);
    const v = buf.subarray(pos, pos + len);
    pos += len;
    return done({ t, v });
  };
  const items = (n: number): MsgValue[] => {
    const out: MsgValue[] = [];
    for (let i = 0; i < n; i++) {
      const r = decodeValue(buf, pos);
      out.push(r.value);
      pos = r.end;
    }
    return out;
  };
  const map = (n: number, headerLen: number): { value: MsgValue; end: number } => {
    const header = buf.subarray(start, start + headerLen);
    const flat = items(n * 2);
    const entries: Array<[MsgValue, MsgValue]> = [];
    for (let i = 0; i < flat.length; i += 2) entries.push([flat[i], flat[i + 1]]);
    return done({ t: 'map', entries, header });
  };
  const ext = (len: number): { value: MsgValue; end: number } => {
    need(1 + len);
    const type = buf.readInt8(pos);
    const data = buf.subarray(pos + 1, pos + 1 + len);
    pos += 1 + len;
    return done({ t: 'ext', type, data });
  };
  if (b <= 0x7f) return done({ t: 'int', v: b });
  if (b >= 0xe0) return done({ t: 'int', v: b - 256 });
  if ((b & 0xe0) === 0xa0) return strOf(b & 0x1f, 'str');
  if ((b & 0xf0) === 0x80) return map(b & 0x0f, 1);
  if ((b & 0xf0) === 0x90) return done({ t: 'array', items: items(b & 0x0f) });
  switch (b) {
    case 0xc0: return done({ t: 'nil' });
    case 0xc2: case 0xc3: return done({ t: 'bool' });
    case 0xcc: need(1); pos += 1; return done({ t: 'int', v: buf[pos - 1] });
    case 0xcd: need(2); pos += 2; return done({ t: 'int', v: buf.readUInt16BE(pos - 2) });
    case 0xce: need(4); pos += 4; return done({ t: 'int', v: buf.readUInt32BE(pos - 4) });
    case 0xcf: need(8); pos += 8; return done({ t: 'int', v: Number(buf.readBigUInt64BE(pos - 8)) });
    case 0xd0: need(1); pos += 1; return done({ t: 'int', v: buf.readInt8(pos - 1) });
    case 0xd1: need(2); pos += 2; return done({ t: 'int', v: buf.readInt16BE(pos - 2) });
    case 0xd2: need(4); pos += 4; return done({ t: 'int', v: buf.readInt32BE(pos - 4) });
    case 0xd3: need(8); pos += 8; return done({ t: 'int', v: Number(buf.readBigInt64BE(pos - 8)) });
    case 0xca: need(4); pos += 4; return done({ t: 'float' });
    case 0xcb: need(8); pos += 8; return done({ t: 'float' });
    case 0xd9: need(1); return strOf(buf[pos++], 'str');
    case 0xda: need(2); pos += 2; return strOf(buf.readUInt16BE(pos - 2), 'str');
    case 0xdb: need(4); pos += 4; return strOf(buf.readUInt32BE(pos - 4), 'str');
    case 0xc4: need(1); return strOf(buf[pos++], 'bin');
    case 0xc5: need(2); pos += 2; return strOf(buf.readUInt16BE(pos - 2), 'bin');
    case 0xc6: need(4); pos += 4; return strOf(buf.readUInt32BE(pos - 4), 'bin');
    case 0xd4: return ext(1);
    case 0xd5: return ext(2);
    case 0xd6: return ext(4);
    case 0xd7: return ext(8);
    case 0xd8: return ext(16);
    case 0xc7: need(1); return ext(buf[pos++]);
    case 0xc8: need(2); pos += 2; return ext(buf.readUInt16BE(pos - 2));
    case 0xc9: need(4); pos += 4; return ext(buf.readUInt32BE(pos - 4));
    case 0xdc: need(2); pos += 2; return done({ t: 'array', items: items(buf.readUInt16BE(pos - 2)) });
    case 0xdd: need(4); pos += 4; return done({ t: 'array', items: items(buf.readUInt32BE(pos - 4)) });
    case 0xde: need(2); pos += 2; return map(buf.readUInt16BE(pos - 2), 3);
    case 0xdf: need(4); pos += 4; return map(buf.readUInt32BE(pos - 4), 5);
    default: throw new Error(`invalid msgpack byte 0x${b.toString(16)} at ${start}`);
  }
}

/** One Message-mode event as it arrived. */
export interface ForwardEvent {
  raw: Buffer;
  tag: Buffer;
  time: MsgValue;
  /** Seconds and nanoseconds (0 for integer time). */
  sec: number;
  nsec: number;
  record: Map<string, Buffer>;
  recordValue: Extract<MsgValue, { t: 'map' }>;
  option: Extract<MsgValue, { t: 'map' }> | null;
  chunk: string | null;
  /** Which connection it came on (1-based). */
  connection: number;
}

export function parseEvent(value: MsgValue, raw: Buffer, connection = 0): ForwardEvent {
  if (value.t !== 'array' || (value.items.length !== 4 && value.items.length !== 3)) throw new Error(`not a Message-mode event: ${raw.toString('hex').slice(0, 80)}`);
  const [tag, time, record, option] = value.items;
  if (tag.t !== 'str') throw new Error('tag is not a str');
  if (record.t !== 'map') throw new Error('record is not a map');
  let sec: number;
  let nsec = 0;
  if (time.t === 'int') sec = time.v;
  else if (time.t === 'ext' && time.type === 0 && time.data.length === 8) {
    sec = time.data.readInt32BE(0);
    nsec = time.data.readUInt32BE(4);
  } else throw new Error('time is neither int nor EventTime');
  const rec = new Map<string, Buffer>();
  for (const [k, v] of record.entries) {
    if (k.t !== 'str' || v.t !== 'str') throw new Error('record entry is not str → str');
    const key = k.v.toString('latin1');
    if (rec.has(key)) throw new Error(`duplicate record key ${key}`);
    rec.set(key, v.v);
  }
  let chunk: string | null = null;
  let opt: Extract<MsgValue, { t: 'map' }> | null = null;
  if (option) {
    if (option.t !== 'map') throw new Error('option is not a map');
    opt = option;
    for (const [k, v] of option.entries) {
      if (k.t === 'str' && k.v.toString() === 'chunk' && v.t === 'str') chunk = v.v.toString('latin1');
    }
  }
  return { raw, tag: tag.v, time, sec, nsec, record: rec, recordValue: record, option: opt, chunk, connection };
}

export interface ReceiverOptions {
  ack?: boolean;
  /** Answer acks for at most this many events, then stay silent (to test ack timeouts). */
  ackLimit?: number;
}

/** A Forward-protocol peer that records every Message-mode event with its raw bytes. */
export class ForwardReceiver {
  readonly events: ForwardEvent[] = [];
  readonly errors: Error[] = [];
  connections = 0;
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  private waiters: Array<() => void> = [];
  private acked = 0;
  port = 0;
  path = '';

  constructor(private readonly options: ReceiverOptions = {}) {}

  async listen(at: { port?: number; path?: string } = {}): Promise<void> {
    const server = net.createServer((sock) => this.handle(sock));
    this.server = server;
    if (at.path) {
      await fs.promises.rm(at.path, { force: true });
      this.path = at.path;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(at.path, () => resolve());
      });
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(at.port ?? 0, '127.0.0.1', () => resolve());
      });
      this.port = (server.address() as net.AddressInfo).port;
    }
  }

  private handle(sock: net.Socket): void {
    this.sockets.add(sock);
    const connection = ++this.connections;
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (data: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      let pos = 0;
      const acks: Buffer[] = [];
      for (;;) {
        let r: { value: MsgValue; end: number };
        try {
          r = decodeValue(pending, pos);
        } catch (err) {
          if (err instanceof Incomplete) break;
          this.errors.push(err as Error);
          sock.destroy();
          return;
        }
        const raw = Buffer.from(pending.subarray(pos, r.end));
        try {
          const ev = parseEvent(r.value, raw, connection);
          this.events.push(ev);
          if (this.options.ack && ev.chunk !== null && (this.options.ackLimit === undefined || this.acked < this.options.ackLimit)) {
            this.acked++;
            acks.push(ackResponse(ev.chunk));
          }
        } catch (err) {
          this.errors.push(err as Error);
        }
        pos = r.end;
      }
      pending = Buffer.from(pending.subarray(pos));
      if (acks.length > 0) sock.write(Buffer.concat(acks));
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  /** Resolves once at least n events arrived (or rejects after timeoutMs). */
  async waitFor(n: number, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (Date.now() > end) throw new Error(`expected ${n} events, got ${this.events.length} within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), new Promise((r) => setTimeout(r, 200))]);
    }
  }

  async waitUntil(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${this.events.length} events)`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), new Promise((r) => setTimeout(r, 200))]);
    }
  }

  /** Stops listening and drops every connection (fluentd going away). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.path) await fs.promises.rm(this.path, { force: true });
  }
}

/** {"ack": chunk} as fluentd writes it. */
export function ackResponse(chunk: string): Buffer {
  const id = Buffer.from(chunk, 'latin1');
  return Buffer.concat([Buffer.from([0x81, 0xa3, 0x61, 0x63, 0x6b, 0xa0 | id.length]), id]);
}

/**
 * The event's bytes in a canonical form: record entries sorted by key (Go's map order is random),
 * each entry as its raw key and value bytes; values of `mask` keys replaced by a marker, the time
 * replaced by a marker of its encoding type, the chunk id masked.
 */
export function canonicalEvent(ev: ForwardEvent, mask: readonly string[], maskTag = false): string {
  const timeKind = ev.time.t === 'int' ? `int:${ev.time.raw[0].toString(16)}` : `ext${(ev.time as { type: number }).type}:${ev.time.raw.length}`;
  const entries = ev.recordValue.entries
    .map(([k, v]) => {
      const key = (k as { v: Buffer }).v.toString('latin1');
      const value = mask.includes(key) ? `<${key}>` : v.raw.toString('hex');
      return `${k.raw.toString('hex')}=${value}`;
    })
    .sort();
  const option = ev.option ? (ev.chunk !== null ? `chunk:${ev.option.raw.length}` : ev.option.raw.toString('hex')) : 'none';
  return [ev.raw[0].toString(16), maskTag ? '<tag>' : ev.tag.toString('hex'), timeKind, ev.recordValue.header.toString('hex'), ...entries, option].join(' ');
}
