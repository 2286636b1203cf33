import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFilters } from '../../src/filters/load.js';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { parsePipelineText } from '../../src/config/pipeline-file.js';
import { loadPipelineFile, planContainer } from '../../src/pipeline/plan.js';
import { SINK_FACTORIES } from '../../src/sinks/registry.js';

// planContainer and ContainerFlow expect the filters loaded (planLoadingFilters does it in logfan).
beforeAll(() => loadFilters());

function info(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    Config: {},
    ContainerID: 'a'.repeat(64),
    ContainerName: '/api-1',
    ContainerEntrypoint: 'sh',
    ContainerArgs: [],
    ContainerImageID: 'sha256:' + 'b'.repeat(64),
    ContainerImageName: 'myorg/api:1.2',
    ContainerCreated: '2026-11-29T00:00:00Z',
    ContainerEnv: [],
    ContainerLabels: { tier: 'prod' },
    LogPath: '',
    DaemonName: 'docker',
    ...over,
  };
}

const FILE = parsePipelineText(
  [
    'rules:',
    '  - name: prod',
    '    match: { labels: { tier: ^prod$ } }',
    '    sinks: [fluentd]',
    '    options: { fluentd-address: "127.0.0.1:24224", gelf-address: "udp://127.0.0.1:12201", queue-full: drop-oldest }',
    '    filters: [ { type: exclude, pattern: health } ]',
    '    sink-filters:',
    '      fluentd: [ { type: route, when: { stream: stderr } } ]',
    '      gelf: [ { type: sample, every: 2 } ]',
    '  - name: api',
    '    match: { name: ^api-, image: ^myorg/ }',
    '    options: { fluentd-address: "10.0.0.1:24224" }',
  ].join('\n'),
  '/etc/logfan/pipeline.yaml',
);

describe('planContainer', () => {
  it('with no file and no filters: the log-opts alone, no reassembly', () => {
    const plan = planContainer(info(), null, SINK_FACTORIES);
    expect(plan.options.sinks).toEqual([]);
    expect(plan.filters).toEqual([]);
    expect(plan.sinkFilters).toEqual({ 'json-file': [] });
    expect(plan.mergePartials).toBe(false);
  });

  it('merges matching rules: sinks added, later rules over earlier ones, the container\'s own options over all', () => {
    const plan = planContainer(info({ Config: { 'filter-exclude': '^DEBUG', 'fluentd-async': 'true' } }), FILE, SINK_FACTORIES);
    expect(plan.rules).toEqual(['prod', 'api']);
    expect(plan.options.sinks).toEqual(['fluentd']);
    expect(plan.options.raw['fluentd-address']).toBe('10.0.0.1:24224');
    expect(plan.options.raw['fluentd-async']).toBe('true');
    // a default for a sink the container does not use is left out
    expect(plan.options.raw['gelf-address']).toBeUndefined();
    expect(plan.options.queues.fluentd.policy).toBe('drop-oldest');
    // log-opt filters first, then the rules'
    expect(plan.filters.map((f) => f.type)).toEqual(['exclude', 'exclude']);
    expect(plan.sinkFilters.fluentd.map((f) => f.type)).toEqual(['route']);
    expect(plan.sinkFilters.gelf).toBeUndefined();
    expect(plan.mergePartials).toBe(true);
  });

  it('a container the rules do not match gets only its own options', () => {
    const plan = planContainer(info({ ContainerName: '/web', ContainerLabels: { tier: 'dev' } }), FILE, SINK_FACTORIES);
    expect(plan.rules).toEqual([]);
    expect(plan.options.sinks).toEqual([]);
  });

  it('route-<sink> log-opts become the first filter of that sink', () => {
    const plan = planContainer(info({ Config: { sinks: 'gelf', 'gelf-address': 'udp://127.0.0.1:1', 'route-gelf': 'stream=stderr&&field.level=^error$' } }), null, SINK_FACTORIES);
    expect(plan.sinkFilters.gelf.map((f) => f.type)).toEqual(['route']);
    expect(plan.mergePartials).toBe(true);
  });

  it('partial-merge=false keeps Docker\'s pieces even with filters', () => {
    expect(planContainer(info({ Config: { 'filter-exclude': 'x', 'partial-merge': 'false' } }), null, SINK_FACTORIES).mergePartials).toBe(false);
    expect(planContainer(info({ Config: { 'partial-merge': 'true' } }), null, SINK_FACTORIES).mergePartials).toBe(true);
  });
});

describe('loadPipelineFile', () => {
  it('checks every rule when loading, naming the file and the place', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-plan-'));
    try {
      const file = path.join(dir, 'p.yaml');
      fs.writeFileSync(file, 'rules:\n  - sinks: [fluentd]\n    options: { fluentd-address: "udp://x:1" }\n  - filters: [ { type: exclude, pattern: "(a)\\\\1" } ]\n  - sinks: [nope]\n');
      const err = await loadPipelineFile(file).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).not.toBeNull();
      const lines = err!.message.split('\n');
      expect(lines[0]).toMatch(new RegExp(`^${file}: rules\\[0\\]\\.options: .*fluentd-address`));
      expect(lines[1]).toMatch(new RegExp(`^${file}: rules\\[1\\]\\.filters\\[0\\].*linear time`));
      expect(lines[2]).toMatch(new RegExp(`^${file}: rules\\[2\\]: .*unknown sink 'nope'`));
      fs.writeFileSync(file, 'rules:\n  - filters: [ { type: module, module: x.mjs } ]\n');
      await expect(loadPipelineFile(file)).rejects.toThrow(/rules\[0\]\.filters\[0\]: a module filter needs "modules:"/);
      fs.writeFileSync(file, 'rules:\n  - match: { name: "(unclosed" }\n');
      await expect(loadPipelineFile(file)).rejects.toThrow(/rules\[0\]\.match.*name/);
      fs.writeFileSync(file, 'rules:\n  - sink-filters: { elsewhere: [] }\n');
      await expect(loadPipelineFile(file)).rejects.toThrow(/rules\[0\]\.sink-filters\.elsewhere: unknown sink/);
      fs.writeFileSync(file, 'rules:\n  - match: { labels: { tier: prod } }\n    sinks: [fluentd]\n    options: { fluentd-address: "127.0.0.1:24224" }\n');
      expect((await loadPipelineFile(file)).rules).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('file-path options from a container', () => {
  it('must point inside the TLS directories; the pipeline file may name any path', () => {
    const tlsDirs = ['/var/lib/logfan/tls'];
    const own = (v: string) => info({ Config: { sinks: 'gelf', 'gelf-address': 'tls://127.0.0.1:1', 'gelf-tls-ca-cert': v } });
    expect(() => planContainer(own('/var/lib/logfan/tls/ca.pem'), null, SINK_FACTORIES, { tlsDirs })).not.toThrow();
    expect(() => planContainer(own('/root/.ssh/id_rsa'), null, SINK_FACTORIES, { tlsDirs })).toThrow(/gelf-tls-ca-cert="\/root\/.ssh\/id_rsa": outside the TLS directories logfan reads certificates from \(\/var\/lib\/logfan\/tls/);
    expect(() => planContainer(own('/var/lib/logfan/tls/../../../../etc/shadow'), null, SINK_FACTORIES, { tlsDirs })).toThrow(/"\.\." is not allowed/);
    expect(() => planContainer(own('ca.pem'), null, SINK_FACTORIES, { tlsDirs })).toThrow(/not an absolute path/);
    expect(() => planContainer(own('/var/lib/logfan/tlsx/ca.pem'), null, SINK_FACTORIES, { tlsDirs })).toThrow(/outside/);
    const file = parsePipelineText('rules:\n  - sinks: [gelf]\n    options: { gelf-address: "tls://127.0.0.1:1", gelf-tls-ca-cert: /etc/ssl/ca.pem }\n', '/p.yaml');
    expect(planContainer(info(), file, SINK_FACTORIES, { tlsDirs }).options.raw['gelf-tls-ca-cert']).toBe('/etc/ssl/ca.pem');
  });
});
