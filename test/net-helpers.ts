/** Small network helpers the unit and end-to-end tests share. */
import net from 'node:net';

/** A TCP port on 127.0.0.1 that nobody listened on a moment ago. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Whether a stream connection to the target (a port on 127.0.0.1, or a unix socket) succeeds now. */
export function canConnect(target: number | { path: string } | { host: string; port: number }): Promise<boolean> {
  const opts = typeof target === 'number' ? { host: '127.0.0.1', port: target } : target;
  return new Promise((resolve) => {
    const s = net.connect(opts as net.NetConnectOpts);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
