#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPluginApp, listenOnSocket } from './docker/plugin-api.js';
import { log } from './log.js';
import { LoggingService } from './pipeline/logging-service.js';

const USAGE = `usage: logfan <command> [options]

commands:
  serve     run the log-driver plugin
            --socket PATH      plugin socket; its base name is the driver name
                               (default $LOGFAN_SOCKET or /run/docker/plugins/logfan.sock)
            --data-root DIR    where container logs are stored
                               (default $LOGFAN_DATA_ROOT or /var/lib/logfan)
            --fifo-root DIR    where the daemon's FIFOs are (default /run/docker/logging)
  version   print the version
`;

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string', default: process.env.LOGFAN_SOCKET ?? '/run/docker/plugins/logfan.sock' },
      'data-root': { type: 'string', default: process.env.LOGFAN_DATA_ROOT ?? '/var/lib/logfan' },
      'fifo-root': { type: 'string', default: process.env.LOGFAN_FIFO_ROOT ?? '/run/docker/logging' },
    },
    strict: true,
  });
  const socketPath = values.socket!;
  const dataRoot = values['data-root']!;
  await fs.promises.mkdir(dataRoot, { recursive: true, mode: 0o750 });
  await fs.promises.mkdir(path.dirname(socketPath), { recursive: true });
  const service = new LoggingService({ dataRoot, fifoRoot: values['fifo-root']!, logger: log });
  const server = await listenOnSocket(createPluginApp(service, log), socketPath);
  log.info({ socket: socketPath, dataRoot, pid: process.pid }, 'logfan listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, containers: service.activeCount }, 'shutting down');
    server.close();
    server.closeAllConnections();
    await service.shutdown();
    await fs.promises.rm(socketPath, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'serve':
      await serve(rest);
      return;
    case 'version':
    case '--version': {
      const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(pkg.version + '\n');
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`logfan: unknown command '${command}'\n\n${USAGE}`);
      process.exit(2);
  }
}

main().catch((err: Error) => {
  log.fatal({ err: err.message }, 'logfan failed');
  process.exit(1);
});
