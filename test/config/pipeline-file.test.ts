import { describe, expect, it } from 'vitest';
import { parsePipelineText } from '../../src/config/pipeline-file.js';

describe('pipeline file structure', () => {
  it('reads YAML and JSON alike, resolving the modules directory next to the file', () => {
    const yaml = parsePipelineText(
      ['modules: ./filters', 'rules:', '  - name: prod', '    match: { labels: { tier: ^prod$ } }', '    sinks: [fluentd]', '    options: { fluentd-address: "127.0.0.1:24224", fluentd-async: true }', '    filters:', '      - { type: exclude, pattern: health }'].join('\n'),
      '/etc/logfan/pipeline.yaml',
    );
    expect(yaml.modules).toBe('/etc/logfan/filters');
    expect(yaml.rules[0].options).toEqual({ 'fluentd-address': '127.0.0.1:24224', 'fluentd-async': 'true' });
    const json = parsePipelineText(JSON.stringify({ rules: [{ match: { name: '^api' }, 'sink-filters': { gelf: [{ type: 'route', when: { stream: 'stderr' } }] } }] }), '/x/p.json');
    expect(json.modules).toBeNull();
    expect(json.rules[0]['sink-filters']!.gelf[0]).toEqual({ type: 'route', when: { stream: 'stderr' } });
    expect(parsePipelineText('', '/x/empty.yaml').rules).toEqual([]);
  });

  it('names the file, the path inside it and what was expected', () => {
    expect(() => parsePipelineText('rules:\n  - sinks: fluentd\n', '/p.yaml')).toThrow(/^\/p\.yaml: rules\[0\]\.sinks: Invalid input: expected array/);
    expect(() => parsePipelineText('rules:\n  - mach: {}\n', '/p.yaml')).toThrow(/\/p\.yaml: rules\[0\]: Unrecognized key: "mach"/);
    expect(() => parsePipelineText('rules:\n  - filters: [ { pattern: x } ]\n', '/p.yaml')).toThrow(/rules\[0\]\.filters\[0\]: each filter needs a "type" string/);
    expect(() => parsePipelineText('rules: [\n', '/p.yaml')).toThrow(/^\/p\.yaml: not valid YAML or JSON/);
    expect(() => parsePipelineText('rulez: []\n', '/p.yaml')).toThrow(/\/p\.yaml: \(top level\): Unrecognized key: "rulez"/);
  });
});
