#!/usr/bin/env -S node --max-semi-space-size=2 --expose-gc
import fs from 'node:fs';
import { LOGS_USAGE, runLogsCommand } from './cli/logs-command.js';
import { RELOAD_USAGE, runReloadCommand } from './cli/reload-command.js';
import { runServeCommand, SERVE_USAGE } from './cli/serve-command.js';
import { runStatusCommand, STATUS_USAGE } from './cli/status-command.js';
import { log } from './log.js';

const USAGE = `usage: logfan <command> [options]

commands:
${SERVE_USAGE}${LOGS_USAGE}${STATUS_USAGE}${RELOAD_USAGE}  version   print the version
`;

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'serve':
      await runServeCommand(rest);
      return;
    case 'status':
      process.exitCode = await runStatusCommand(rest);
      return;
    case 'reload':
      process.exitCode = await runReloadCommand(rest);
      return;
    case 'logs':
      process.exitCode = await runLogsCommand(rest);
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
