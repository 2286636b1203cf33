import path from 'node:path';
import type { ContainerInfo } from '../docker/container-info.js';
import { LogOptionError, optionOwner, parseLogOptions, STORE_SINK, type LogOptions, type SinkOptionOwner } from '../config/log-opts.js';
import type { PipelineFile } from '../config/pipeline-file.js';
import { SINK_FACTORIES, sinkFactory } from '../sinks/registry.js';
import { log } from '../log.js';
import type { FilterSpec } from '../filters/registry.js';
import { filterApi, FiltersNotLoadedError, loadFilters } from '../filters/load.js';

/**
 * What one container's flow looks like: its effective options (its own log-opts over the
 * defaults of the pipeline-file rules that match it), the container filter chain and one chain
 * per sink. Built when the container starts and again on every reload; building validates
 * everything, so a bad option fails `docker run` and a bad file fails the reload, both before
 * anything changes.
 */
export interface ContainerPlan {
  options: LogOptions;
  filters: FilterSpec[];
  /** Per selected sink (json-file included when the store is on): its route and filters. */
  sinkFilters: Record<string, FilterSpec[]>;
  /** Names (or indexes) of the pipeline-file rules that matched. */
  rules: string[];
  /** Whether the daemon's 16 KB pieces are joined before the filters. */
  mergePartials: boolean;
}

/**
 * Options that name a file logfan reads (TLS CA, certificate, key). From a container's own
 * log-opts — written by anyone who can `docker run` — they must lie inside one of the TLS
 * directories (default `<data-root>/tls`), so a container cannot make logfan read, and present to
 * a server of its choice, a key elsewhere on the host. The pipeline file (the operator's) may name
 * any path.
 */
export const FILE_PATH_OPTIONS = ['syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'gelf-tls-ca-cert', 'gelf-tls-cert', 'gelf-tls-key'];

export interface PlanOptions {
  /** Directories a container's own file-path options may point into. */
  tlsDirs?: readonly string[];
  /** Plan as if only this rule of the file matched (checking a file). */
  onlyRule?: number;
}

export function checkFilePathOptions(own: Record<string, string>, tlsDirs: readonly string[]): void {
  for (const key of FILE_PATH_OPTIONS) {
    const value = own[key];
    if (value === undefined || value === '') continue;
    const where = `invalid log opt ${key}=${JSON.stringify(value)}`;
    if (!path.isAbsolute(value)) throw new LogOptionError(`${where}: not an absolute path (a file inside ${tlsDirs.join(' or ')})`);
    if (value.split('/').includes('..')) throw new LogOptionError(`${where}: ".." is not allowed (a file inside ${tlsDirs.join(' or ')})`);
    const resolved = path.resolve(value);
    if (!tlsDirs.some((dir) => resolved.startsWith(path.resolve(dir) + path.sep))) {
      throw new LogOptionError(`${where}: outside the TLS directories logfan reads certificates from (${tlsDirs.join(', ')}; see logfan serve --tls-dir)`);
    }
  }
}

export function planContainer(info: ContainerInfo, file: PipelineFile | null, sinkKinds: readonly SinkOptionOwner[], planOptions: PlanOptions = {}): ContainerPlan {
  const own = info.Config ?? {};
  const onlyRule = planOptions.onlyRule;
  if (planOptions.tlsDirs !== undefined) checkFilePathOptions(own, planOptions.tlsDirs);
  const rules = file === null ? [] : file.rules.map((rule, index) => ({ rule, index }));
  const matched = onlyRule !== undefined ? rules.filter(({ index }) => index === onlyRule) : rules.filter(({ rule }) => filterApi().matchesContainer(rule.match ?? {}, info));

  let options: LogOptions;
  if (matched.length === 0) {
    options = parseLogOptions(own, sinkKinds);
  } else {
    const sinks: string[] = [];
    const addSinks = (list: string) => {
      for (const name of list.split(',').map((s) => s.trim())) if (name !== '' && !sinks.includes(name)) sinks.push(name);
    };
    if (own['sinks'] !== undefined) addSinks(own['sinks']);
    const defaults: Record<string, string> = {};
    for (const { rule, index } of matched) {
      if (rule.sinks) addSinks(rule.sinks.join(','));
      for (const [key, value] of Object.entries(rule.options ?? {})) {
        if (key === 'sinks') throw new LogOptionError(`${file!.file}: rules[${index}].options.sinks: use the rule's "sinks" list instead`);
        defaults[key] = value;
      }
    }
    const selected = new Set([STORE_SINK, ...sinks]);
    const merged: Record<string, string> = {};
    // A rule's defaults for a sink this container does not use are left out, not an error.
    for (const [key, value] of Object.entries(defaults)) {
      const owner = optionOwner(key, sinkKinds);
      if (owner === null || selected.has(owner)) merged[key] = value;
    }
    Object.assign(merged, own);
    if (sinks.length > 0) merged['sinks'] = sinks.join(',');
    options = parseLogOptions(merged, sinkKinds);
  }

  // filterApi() throws until the filters are loaded; a container with none never needs them.
  const filters: FilterSpec[] = [];
  for (const { option, spec } of options.filters) filters.push(filterApi().parseFilterSpec(spec, `log opt ${option}`));
  const selected = options.localStore ? [STORE_SINK, ...options.sinks] : [...options.sinks];
  const sinkFilters: Record<string, FilterSpec[]> = {};
  for (const sink of selected) {
    const chain: FilterSpec[] = [];
    const route = options.routes[sink];
    if (route !== undefined && route !== '') {
      const { parseFilterSpec, parseConditionString } = filterApi();
      chain.push(parseFilterSpec({ type: 'route', when: parseConditionString(route, `log opt route-${sink}`) }, `log opt route-${sink}`));
    }
    sinkFilters[sink] = chain;
  }
  for (const { rule, index } of matched) {
    const { parseFilterSpec } = filterApi();
    (rule.filters ?? []).forEach((raw, i) => filters.push(parseFilterSpec(raw, `${file!.file}: rules[${index}].filters[${i}]`)));
    for (const [sink, list] of Object.entries(rule['sink-filters'] ?? {})) {
      const chain = sinkFilters[sink];
      // Filters for a sink this container does not use have nothing to do.
      if (chain === undefined) continue;
      list.forEach((raw, i) => chain.push(parseFilterSpec(raw, `${file!.file}: rules[${index}].sink-filters.${sink}[${i}]`)));
    }
  }
  const mode = options.partial.mode;
  const anyFilter = filters.length > 0 || Object.values(sinkFilters).some((c) => c.length > 0);
  return {
    options,
    filters,
    sinkFilters,
    rules: matched.map(({ rule, index }) => rule.name ?? `rules[${index}]`),
    mergePartials: mode === 'on' || (mode === 'auto' && anyFilter),
  };
}

/** planContainer, loading the filters first if this container turns out to need them. */
export async function planLoadingFilters(info: ContainerInfo, file: PipelineFile | null, sinkKinds: readonly SinkOptionOwner[], planOptions: PlanOptions = {}): Promise<ContainerPlan> {
  try {
    return planContainer(info, file, sinkKinds, planOptions);
  } catch (err) {
    if (!(err instanceof FiltersNotLoadedError)) throw err;
  }
  await loadFilters();
  return planContainer(info, file, sinkKinds, planOptions);
}

const PROBE_INFO: ContainerInfo = {
  Config: {},
  ContainerID: '0'.repeat(64),
  ContainerName: '/pipeline-file-check',
  ContainerEntrypoint: '',
  ContainerArgs: [],
  ContainerImageID: '',
  ContainerImageName: '',
  ContainerCreated: '',
  ContainerEnv: [],
  ContainerLabels: {},
  LogPath: '',
  DaemonName: 'docker',
};

/**
 * Reads, loads the user filter modules it names, and checks every rule as if a container with no
 * log-opts of its own matched it: structure, filters, conditions, sink names and sink options.
 * Every message names the file and the place in it.
 */
export async function loadPipelineFile(path: string): Promise<PipelineFile> {
  const { readPipelineFile, PipelineFileError } = await import('../config/pipeline-file.js');
  const { compileCondition } = await loadFilters();
  const file = await readPipelineFile(path);
  await loadModulesFor(file, PipelineFileError);
  const errors: string[] = [];
  file.rules.forEach((rule, index) => {
    try {
      // Match regexes compile now, not when the first container starts.
      if (rule.match !== undefined) compileCondition(rule.match, `${file.file}: rules[${index}].match`);
      for (const sink of Object.keys(rule['sink-filters'] ?? {})) {
        if (sink !== STORE_SINK && sinkFactory(sink) === undefined) throw new PipelineFileError(`${file.file}: rules[${index}].sink-filters.${sink}: unknown sink (known: ${[STORE_SINK, ...SINK_FACTORIES.map((f) => f.name)].join(', ')})`);
      }
      const plan = planContainer(PROBE_INFO, file, SINK_FACTORIES, { onlyRule: index });
      for (const name of plan.options.sinks) {
        try {
          sinkFactory(name)!.validate({ info: PROBE_INFO, options: plan.options.raw, logger: log.child({}, { level: 'silent' }), queue: plan.options.queues[name] });
        } catch (err) {
          throw new PipelineFileError(`${file.file}: rules[${index}].options: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      const message = (err as Error).message;
      errors.push(message.startsWith(file.file) ? message : `${file.file}: rules[${index}]: ${message}`);
    }
  });
  if (errors.length > 0) throw new PipelineFileError(errors.join('\n'));
  return file;
}

/** Imports the user filter modules the file's rules name, from the file's modules directory only. */
async function loadModulesFor(file: PipelineFile, PipelineFileError: new (message: string) => Error): Promise<void> {
  const names: string[] = [];
  file.rules.forEach((rule, index) => {
    const lists: Array<[string, Array<Record<string, unknown>>]> = [[`rules[${index}].filters`, rule.filters ?? []]];
    for (const [sink, list] of Object.entries(rule['sink-filters'] ?? {})) lists.push([`rules[${index}].sink-filters.${sink}`, list]);
    for (const [where, list] of lists) {
      list.forEach((spec, i) => {
        if (spec.type !== 'module') return;
        if (file.modules === null) throw new PipelineFileError(`${file.file}: ${where}[${i}]: a module filter needs "modules:", the directory user filter modules are loaded from`);
        if (typeof spec.module === 'string') names.push(spec.module);
      });
    }
  });
  if (names.length > 0) await filterApi().loadFilterModules(file.modules!, names);
}
