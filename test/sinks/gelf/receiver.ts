/** A GELF test receiver: UDP with chunk reassembly and zlib/gzip/none decoding, TCP/TLS with NUL framing. */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';

export interface GelfDatagramInfo {
  chunked: boolean;
  sizes: number[];
  counts: number[];
  compression: 'gzip' | 'zlib' | 'none';
}

export interface GelfReceiver {
  port: number;
  /** Decoded payloads (the JSON bytes), in arrival order of their completion. */
  payloads: Buffer[];
  /** Per payload: how it arrived. */
  infos: GelfDatagramInfo[];
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function decode(data: Buffer): { json: Buffer; compression: GelfDatagramInfo['compression'] } {
  if (data[0] === 0x1f && data[1] === 0x8b) return { json: zlib.unzipSync(data), compression: 'gzip' };
  if (data[0] === 0x78) return { json: zlib.unzipSync(data), compression: 'zlib' };
  return { json: data, compression: 'none' };
}

function waiter(payloads: Buffer[]) {
  const waiters: Array<() => void> = [];
  return {
    notify: () => {
      for (const w of waiters.splice(0)) w();
    },
    waitFor: async (count: number, timeoutMs = 30_000) => {
      const end = Date.now() + timeoutMs;
      while (payloads.length < count) {
        if (Date.now() > end) throw new Error(`received ${payloads.length} of ${count} GELF messages within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 100))]);
      }
    },
  };
}

export async function startUdpReceiver(host = '127.0.0.1'): Promise<GelfReceiver> {
  const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  const payloads: Buffer[] = [];
  const infos: GelfDatagramInfo[] = [];
  const pending = new Map<string, { parts: Buffer[]; sizes: number[]; counts: number[]; got: number }>();
  const w = waiter(payloads);
  socket.on('message', (msg) => {
    if (msg[0] === 0x1e && msg[1] === 0x0f) {
      const id = msg.subarray(2, 10).toString('hex');
      const seq = msg[10];
      const count = msg[11];
      let p = pending.get(id);
      if (!p) pending.set(id, (p = { parts: new Array<Buffer>(count), sizes: [], counts: [], got: 0 }));
      if (!p.parts[seq]) p.got++;
      p.parts[seq] = msg.subarray(12);
      p.sizes[seq] = msg.length;
      p.counts[seq] = count;
      if (p.got === count) {
        pending.delete(id);
        const d = decode(Buffer.concat(p.parts));
        payloads.push(d.json);
        infos.push({ chunked: true, sizes: p.sizes, counts: p.counts, compression: d.compression });
        w.notify();
      }
      return;
    }
    const d = decode(msg);
    payloads.push(d.json);
    infos.push({ chunked: false, sizes: [msg.length], counts: [1], compression: d.compression });
    w.notify();
  });
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  return {
    port: socket.address().port,
    payloads,
    infos,
    waitFor: w.waitFor,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

export interface TcpReceiver extends GelfReceiver {
  connections: number;
  /** Stops accepting and drops the live connections. */
  dropConnections(): void;
}

export async function startTcpReceiver(opts: { port?: number; tls?: tls.TlsOptions } = {}): Promise<TcpReceiver> {
  const payloads: Buffer[] = [];
  const w = waiter(payloads);
  const sockets = new Set<net.Socket>();
  const onConnection = (s: net.Socket) => {
    r.connections++;
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let nul: number;
      while ((nul = buf.indexOf(0)) >= 0) {
        payloads.push(buf.subarray(0, nul));
        buf = buf.subarray(nul + 1);
      }
      w.notify();
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const server = opts.tls ? tls.createServer(opts.tls, onConnection) : net.createServer(onConnection);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const r: TcpReceiver = {
    port: (server.address() as net.AddressInfo).port,
    payloads,
    infos: [],
    connections: 0,
    waitFor: w.waitFor,
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return r;
}

/** A port that nothing listens on (bound then released). */
export async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
