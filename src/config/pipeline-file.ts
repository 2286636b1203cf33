import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The host-wide pipeline file (`logfan serve --config FILE`, JSON or YAML): rules that give
 * containers matched by name, image or label extra sinks, default log-opts, filters and per-sink
 * filters. Read at start and on reload (SIGHUP, `logfan reload`); a file that does not validate is
 * refused with messages naming the file, the path inside it and what was expected, and the
 * running configuration stays.
 *
 *   modules: ./filters            # directory of user filter modules (the only place code is loaded from)
 *   rules:
 *     - name: prod-to-fluentd
 *       match: { labels: { tier: ^prod$ } }      # name, image, labels: regexes, all must hold
 *       sinks: [fluentd]
 *       options: { fluentd-address: 127.0.0.1:24224 }
 *       filters: [ { type: exclude, pattern: "GET /health" } ]
 *       sink-filters: { fluentd: [ { type: route, when: { stream: stderr } } ] }
 */

export class PipelineFileError extends Error {
  override name = 'PipelineFileError';
}

const MAX_FILE_BYTES = 1024 * 1024;

const filterList = z.array(z.record(z.string(), z.unknown()).refine((f) => typeof f.type === 'string', { message: 'each filter needs a "type" string' }));

const ruleSchema = z
  .object({
    name: z.string().min(1).max(128).optional(),
    match: z
      .object({
        name: z.string().optional(),
        image: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    sinks: z.array(z.string().min(1)).optional(),
    options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v))).optional(),
    filters: filterList.optional(),
    'sink-filters': z.record(z.string(), filterList).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    modules: z.string().min(1).optional(),
    rules: z.array(ruleSchema).max(1000).default([]),
  })
  .strict();

export type PipelineRuleInput = z.infer<typeof ruleSchema>;

export interface PipelineFile {
  /** Absolute path of the file it came from (for messages). */
  file: string;
  /** Absolute directory of user filter modules, or null. */
  modules: string | null;
  rules: PipelineRuleInput[];
}

function describeIssue(file: string, issue: z.core.$ZodIssue): string {
  let where = '';
  for (const key of issue.path) where += typeof key === 'number' ? `[${key}]` : where === '' ? String(key) : `.${String(key)}`;
  return `${file}: ${where === '' ? '(top level)' : where}: ${issue.message}`;
}

/** Structure only; filters, conditions and sink options are checked by the pipeline plan builder. */
export function parsePipelineText(text: string, file: string): PipelineFile {
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new PipelineFileError(`${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) data = {};
  const result = fileSchema.safeParse(data);
  if (!result.success) throw new PipelineFileError(result.error.issues.map((i) => describeIssue(file, i)).join('\n'));
  const modules = result.data.modules === undefined ? null : path.resolve(path.dirname(file), result.data.modules);
  return { file, modules, rules: result.data.rules };
}

export async function readPipelineFile(file: string): Promise<PipelineFile> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    const stat = await fs.promises.stat(absolute);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    text = await fs.promises.readFile(absolute, 'utf8');
  } catch (err) {
    throw new PipelineFileError(`${absolute}: cannot read the pipeline file: ${(err as Error).message}`);
  }
  return parsePipelineText(text, absolute);
}
