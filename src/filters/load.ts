import type * as Registry from './registry.js';
import type * as Route from './route.js';
import type * as ModuleFilter from './module-filter.js';

/**
 * The filters, with zod and their option schemas, load when a container or the pipeline file
 * first needs one, not at start: ~6 MB of RSS that a host without filters never pays (measured
 * importing them into an idle logfan; the memory target is 150 MB for 100 containers).
 */
export interface FilterApi {
  parseFilterSpec: typeof Registry.parseFilterSpec;
  FilterChain: typeof Registry.FilterChain;
  compileCondition: typeof Route.compileCondition;
  matchesContainer: typeof Route.matchesContainer;
  parseConditionString: typeof Route.parseConditionString;
  loadFilterModules: typeof ModuleFilter.loadFilterModules;
}

/** What planContainer throws when it meets a filter before loadFilters() ran (see planLoadingFilters). */
export class FiltersNotLoadedError extends Error {
  constructor() {
    super('internal: the filters are not loaded (await loadFilters() first)');
  }
}

let api: FilterApi | null = null;

export async function loadFilters(): Promise<FilterApi> {
  if (api !== null) return api;
  const [registry, route, moduleFilter] = await Promise.all([import('./registry.js'), import('./route.js'), import('./module-filter.js')]);
  api = {
    parseFilterSpec: registry.parseFilterSpec,
    FilterChain: registry.FilterChain,
    compileCondition: route.compileCondition,
    matchesContainer: route.matchesContainer,
    parseConditionString: route.parseConditionString,
    loadFilterModules: moduleFilter.loadFilterModules,
  };
  return api;
}

/** The filters once loaded; throws FiltersNotLoadedError before. */
export function filterApi(): FilterApi {
  if (api === null) throw new FiltersNotLoadedError();
  return api;
}
