import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { FiltersNotLoadedError } from '../../src/filters/load.js';
import { planContainer, planLoadingFilters } from '../../src/pipeline/plan.js';
import { SINK_FACTORIES } from '../../src/sinks/registry.js';

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
});
