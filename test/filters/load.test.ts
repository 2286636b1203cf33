import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { FiltersNotLoadedError } from '../../src/filters/load.js';
import { planContainer, planLoadingFilters } from '../../src/pipeline/plan.js';
import { SINK_FACTORIES } from '../../src/sinks/registry.js';

const repo = path.resolve(import.meta.dirname, '../..');

function info(config: Record<string, string>): ContainerInfo {
  return {
    Config: config,
    ContainerID: 'a'.repeat(64),
    ContainerName: '/api-1',
    ContainerEntrypoint: 'sh',
    ContainerArgs: [],
    ContainerImageID: '',
    ContainerImageName: 'busybox',
    ContainerCreated: '',
    ContainerEnv: [],
    ContainerLabels: {},
    LogPath: '',
    DaemonName: 'docker',
  };
}

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

describe('filters load on first use', () => {
  // This file's module registry is its own: nothing here has loaded the filters yet.
  it('a container without filters is planned without them; one with a filter needs them loaded', async () => {
    expect(planContainer(info({}), null, SINK_FACTORIES).filters).toEqual([]);
    expect(() => planContainer(info({ 'filter-exclude': '^DEBUG' }), null, SINK_FACTORIES)).toThrow(FiltersNotLoadedError);
    const plan = await planLoadingFilters(info({ 'filter-exclude': '^DEBUG' }), null, SINK_FACTORIES);
    expect(plan.filters.map((f) => f.type)).toEqual(['exclude']);
    // A bad filter is still the user's error, not the loading's.
    await expect(planLoadingFilters(info({ 'filter-exclude': '(' }), null, SINK_FACTORIES)).rejects.toThrow(/filter-exclude/);
  });

  it('starting logfan imports neither zod nor yaml (the filters and the pipeline file bring them)', () => {
    const atStart = packagesImportedBy(['cli/serve-command.js', 'pipeline/logging-service.js', 'docker/plugin-api.js']);
    expect(atStart).toContain('express');
    expect(atStart).not.toContain('zod');
    expect(atStart).not.toContain('yaml');
    expect(packagesImportedBy(['filters/load.js', 'config/pipeline-file.js'])).toContain('yaml');
  });
});
