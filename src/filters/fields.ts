import { z } from 'zod';
import type { FieldValue, LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { parseWith } from './options.js';

/**
 * Field filters. None drops lines; none allocates unless it has something to change.
 *
 *   {type: 'set', fields: {key: string|number|boolean, …}}     adds or overwrites fields
 *   {type: 'remove', fields: [key, …]}                        deletes fields (absent ones ignored)
 *   {type: 'rename', fields: {old: new, …}}                   moves a field's value to a new key
 *   {type: 'labels', labels: [label, …], prefix?: string}     the container's labels as fields,
 *                                                               named prefix + label; labels the
 *                                                               container lacks are skipped
 *
 * `set` and `labels` compute their fields once (labels: from ContainerLabels when the container
 * starts) and copy them onto each entry: into its fields object when it has one, otherwise as a
 * fresh clone (entries own their fields; a shared object would be changed by later filters).
 */
export interface SetOptions {
  type: 'set';
  fields: Record<string, FieldValue>;
}
export interface RemoveOptions {
  type: 'remove';
  fields: string[];
}
export interface RenameOptions {
  type: 'rename';
  fields: Record<string, string>;
}
export interface LabelsOptions {
  type: 'labels';
  labels: string[];
  prefix?: string;
}

const fieldValue = z.union([z.string(), z.number().finite(), z.boolean()]);
const nonEmpty = (o: Record<string, unknown>) => Object.keys(o).length > 0;

const setSchema = z.strictObject({
  type: z.literal('set'),
  fields: z.record(z.string().min(1), fieldValue).refine(nonEmpty, { message: 'at least one field' }),
});
const removeSchema = z.strictObject({
  type: z.literal('remove'),
  fields: z.array(z.string().min(1)).min(1),
});
const renameSchema = z.strictObject({
  type: z.literal('rename'),
  fields: z
    .record(z.string().min(1), z.string().min(1))
    .refine(nonEmpty, { message: 'at least one old: new pair' }),
});
const labelsSchema = z.strictObject({
  type: z.literal('labels'),
  labels: z.array(z.string().min(1)).min(1),
  prefix: z.string().optional(),
});

/** Adds `values` (keys in `keys`) to the entry's fields. */
function addFields(entry: LogEntry, values: Record<string, FieldValue>, keys: readonly string[]): void {
  const fields = entry.fields;
  if (fields === null) {
    entry.fields = { ...values };
    return;
  }
  for (let i = 0; i < keys.length; i++) fields[keys[i]] = values[keys[i]];
}

class AddFilter implements Filter {
  private readonly keys: string[];

  constructor(
    readonly name: string,
    private readonly values: Record<string, FieldValue>,
  ) {
    this.keys = Object.keys(values);
  }

  process(entry: LogEntry): LogEntry | null {
    if (this.keys.length !== 0) addFields(entry, this.values, this.keys);
    return entry;
  }

  stats(): Record<string, number> {
    return {};
  }
}

class RemoveFilter implements Filter {
  private removed = 0;

  constructor(
    readonly name: string,
    private readonly keys: readonly string[],
  ) {}

  process(entry: LogEntry): LogEntry | null {
    const fields = entry.fields;
    if (fields === null) return entry;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (Object.hasOwn(fields, keys[i])) {
        delete fields[keys[i]];
        this.removed++;
      }
    }
    return entry;
  }

  stats(): Record<string, number> {
    return { removed: this.removed };
  }
}

class RenameFilter implements Filter {
  private renamed = 0;
  private readonly from: string[];
  private readonly to: string[];

  constructor(
    readonly name: string,
    pairs: Record<string, string>,
  ) {
    this.from = Object.keys(pairs);
    this.to = this.from.map((k) => pairs[k]);
  }

  process(entry: LogEntry): LogEntry | null {
    const fields = entry.fields;
    if (fields === null) return entry;
    for (let i = 0; i < this.from.length; i++) {
      const old = this.from[i];
      if (!Object.hasOwn(fields, old)) continue;
      const v = fields[old];
      delete fields[old];
      fields[this.to[i]] = v;
      this.renamed++;
    }
    return entry;
  }

  stats(): Record<string, number> {
    return { renamed: this.renamed };
  }
}

export const setFactory: FilterFactory<SetOptions> = {
  type: 'set',
  parseOptions(raw: unknown, where: string): SetOptions {
    return parseWith(setSchema, raw, where, '{type: "set", fields: {name: string|number|boolean, …}}');
  },
  create(options: SetOptions, _ctx: FilterContext, name: string): Filter {
    return new AddFilter(name, { ...options.fields });
  },
};

export const removeFactory: FilterFactory<RemoveOptions> = {
  type: 'remove',
  parseOptions(raw: unknown, where: string): RemoveOptions {
    return parseWith(removeSchema, raw, where, '{type: "remove", fields: [name, …]}');
  },
  create(options: RemoveOptions, _ctx: FilterContext, name: string): Filter {
    return new RemoveFilter(name, [...options.fields]);
  },
};

export const renameFactory: FilterFactory<RenameOptions> = {
  type: 'rename',
  parseOptions(raw: unknown, where: string): RenameOptions {
    return parseWith(renameSchema, raw, where, '{type: "rename", fields: {old: new, …}}');
  },
  create(options: RenameOptions, _ctx: FilterContext, name: string): Filter {
    return new RenameFilter(name, options.fields);
  },
};

export const labelsFactory: FilterFactory<LabelsOptions> = {
  type: 'labels',
  parseOptions(raw: unknown, where: string): LabelsOptions {
    return parseWith(labelsSchema, raw, where, '{type: "labels", labels: [label name, …], prefix?: string}');
  },
  create(options: LabelsOptions, ctx: FilterContext, name: string): Filter {
    const labels = ctx.info.ContainerLabels ?? {};
    const prefix = options.prefix ?? '';
    const values: Record<string, FieldValue> = {};
    for (const label of options.labels) {
      const v = Object.hasOwn(labels, label) ? labels[label] : undefined;
      if (typeof v === 'string') values[prefix + label] = v;
    }
    return new AddFilter(name, values);
  },
};
