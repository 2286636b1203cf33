import http from 'node:http';
import { parseArgs } from 'node:util';

export const RELOAD_USAGE = `  reload    re-read the pipeline file of a running logfan and apply it to new and
            running containers (a file that does not validate changes nothing)
            --socket PATH      the plugin socket (default $LOGFAN_SOCKET or /run/docker/plugins/logfan.sock)
`;

export async function runReloadCommand(argv: string[]): Promise<number> {
  let socketPath: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { socket: { type: 'string', default: process.env.LOGFAN_SOCKET ?? '/run/docker/plugins/logfan.sock' } },
      strict: true,
    });
    socketPath = values.socket!;
  } catch (err) {
    process.stderr.write(`logfan reload: ${(err as Error).message}\n`);
    return 2;
  }
  let answer: { status: number; body: string };
  try {
    answer = await new Promise((resolve, reject) => {
      const req = http.request({ socketPath, path: '/logfan/reload', method: 'POST', timeout: 60_000, headers: { 'content-type': 'application/json' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end('{}');
    });
  } catch (err) {
    process.stderr.write(`logfan reload: cannot reach logfan at ${socketPath}: ${(err as Error).message}\n`);
    return 1;
  }
  let body: { Err?: string; containers?: number; file?: string };
  try {
    body = JSON.parse(answer.body) as typeof body;
  } catch {
    body = { Err: answer.body };
  }
  if (answer.status !== 200) {
    process.stderr.write(`logfan reload: ${body.Err ?? `HTTP ${answer.status}`}\n`);
    return 1;
  }
  process.stdout.write(`reloaded ${body.file}: applied to ${body.containers} running container(s)\n`);
  return 0;
}
