// A logfan user filter module: adds the name of the host the line was collected on as a field,
// so that logs shipped from several Docker hosts to one server can be told apart.
//
// pipeline.yaml:
//   modules: ./filters                 # this file copied to ./filters/add-hostname.mjs
//   rules:
//     - match: { labels: { tier: ^prod$ } }
//       filters:
//         - type: module
//           module: add-hostname.mjs
//           options: { field: host, containerField: container }
//
// options:
//   field           name of the field to set (default "host")
//   value           the value to use instead of os.hostname() (e.g. a name from your inventory)
//   containerField  if set, also set this field to the container's name
import os from 'node:os';

/**
 * Called once per container when its logging starts (and on reload).
 * @param {{field?: string, value?: string, containerField?: string} | undefined} options
 * @param {{containerId: string, containerName: string, image: string, labels: Record<string, string>}} context
 * @returns {(record: {line: string, stream: 'stdout'|'stderr', time: Date, fields: Record<string, string|number|boolean>, severity: number}) => object | null}
 */
export default function createFilter(options = {}, context) {
  const field = options.field ?? 'host';
  if (typeof field !== 'string' || field === '') throw new Error('options.field must be a non-empty string');
  const host = options.value ?? os.hostname();
  if (typeof host !== 'string' || host === '') throw new Error('options.value must be a non-empty string');
  const containerField = options.containerField;
  const containerName = context.containerName;
  // Called for every line, synchronously: keep it cheap, and return the record (or null to drop it).
  return (record) => {
    record.fields[field] = host;
    if (containerField) record.fields[containerField] = containerName;
    return record;
  };
}
