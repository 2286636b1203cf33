import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

/** The bare specifiers (packages) a Node process resolved while importing `modules` from dist/. */
function packagesImportedBy(modules: string[]): string[] {
  const hooks = `export async function resolve(specifier, context, next) {
    if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('node:') && !specifier.startsWith('file:') && !specifier.startsWith('data:')) process.stdout.write('package ' + specifier + '\\n');
    return next(specifier, context);
  }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify('data:text/javascript,' + encodeURIComponent(hooks))});`;
  const script = modules.map((m) => `await import(${JSON.stringify('./dist/' + m)});`).join('\n');
  const out = execFileSync(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(register), '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
  return [...new Set(out.split('\n').filter((l) => l.startsWith('package ')).map((l) => l.slice('package '.length).split('/')[0]))];
}

describe('what logfan serve loads at start', () => {
  // Each of these costs RSS on every host (measured in docs/decisions.md) and is needed only by
  // some: filters and the pipeline file (zod, yaml), a /metrics scrape (prom-client), a unixgram
  // syslog sink (node-unix-socket). They load on first use.
  it('imports neither zod, yaml, prom-client nor node-unix-socket; the modules that need them do', () => {
    const atStart = packagesImportedBy(['cli/serve-command.js', 'pipeline/logging-service.js', 'docker/plugin-api.js', 'sinks/registry.js']);
    expect(atStart).toContain('express');
    for (const lazy of ['zod', 'yaml', 'prom-client', 'node-unix-socket']) expect(atStart).not.toContain(lazy);
    // The hook sees them where they are imported.
    expect(packagesImportedBy(['config/pipeline-file.js', 'observability/metrics.js'])).toEqual(expect.arrayContaining(['zod', 'yaml', 'prom-client']));
  });
});
