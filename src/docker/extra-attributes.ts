import type { ContainerInfo } from './container-info.js';

/**
 * moby's Info.ExtraAttributes (daemon/logger/loginfo.go): the labels, labels-regex, env and
 * env-regex options turned into a key/value map. Order matters: env beats a label of the same
 * name, and the env steps are skipped when the container has no env at all.
 */
export function extraAttributes(info: ContainerInfo, config: Record<string, string>): Record<string, string> {
  const extra: Record<string, string> = {};
  const labels = info.ContainerLabels ?? {};

  const labelNames = config['labels'];
  if (labelNames !== undefined && labelNames !== '') {
    for (const name of labelNames.split(',')) {
      if (Object.prototype.hasOwnProperty.call(labels, name)) extra[name] = labels[name];
    }
  }
  const labelsRegex = config['labels-regex'];
  if (labelsRegex !== undefined && labelsRegex !== '') {
    const re = compileGoRegexp(labelsRegex, 'labels-regex');
    for (const [name, value] of Object.entries(labels)) {
      if (re.test(name)) extra[name] = value;
    }
  }

  const envEntries = info.ContainerEnv ?? [];
  const env = new Map<string, string>();
  for (const entry of envEntries) {
    const eq = entry.indexOf('=');
    if (eq >= 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  if (env.size === 0) return extra;

  const envNames = config['env'];
  if (envNames !== undefined && envNames !== '') {
    for (const name of envNames.split(',')) {
      const value = env.get(name);
      if (value !== undefined) extra[name] = value;
    }
  }
  const envRegex = config['env-regex'];
  if (envRegex !== undefined && envRegex !== '') {
    const re = compileGoRegexp(envRegex, 'env-regex');
    for (const [name, value] of env) {
      if (re.test(name)) extra[name] = value;
    }
  }
  return extra;
}

export class RegexpOptionError extends Error {
  override name = 'RegexpOptionError';
}

/**
 * Compiles an RE2 pattern as a JS RegExp for an unanchored match. Leading RE2 flag groups such
 * as (?i) or (?s), which JS on Node 20 lacks, become RegExp flags.
 */
export function compileGoRegexp(pattern: string, option: string): RegExp {
  let flags = 'u';
  let body = pattern;
  const flagGroup = /^\(\?([imsU]+)\)/.exec(body);
  if (flagGroup) {
    for (const f of flagGroup[1]) {
      if (f === 'i' && !flags.includes('i')) flags += 'i';
      else if (f === 'm' && !flags.includes('m')) flags += 'm';
      else if (f === 's' && !flags.includes('s')) flags += 's';
      else if (f === 'U') throw new RegexpOptionError(`${option}: the RE2 flag U (ungreedy) is not supported: '${pattern}'`);
    }
    body = body.slice(flagGroup[0].length);
  }
  try {
    return new RegExp(body, flags);
  } catch (err) {
    throw new RegexpOptionError(`${option}: invalid regular expression '${pattern}': ${(err as Error).message}`);
  }
}
