import { beforeAll, describe, expect, it } from 'vitest';
import { loadFilters } from '../../src/filters/load.js';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { LogEntry } from '../../src/docker/log-entry.js';
import { parseFilterSpec } from '../../src/filters/registry.js';
import { log } from '../../src/log.js';
import { ContainerFlow } from '../../src/pipeline/flow.js';
import type { Sink } from '../../src/sinks/sink.js';

// planContainer and ContainerFlow expect the filters loaded (planLoadingFilters does it in logfan).
beforeAll(() => loadFilters());

const INFO = { ContainerID: 'c'.repeat(64), ContainerName: '/x', ContainerImageName: 'img', ContainerLabels: {}, Config: {} } as unknown as ContainerInfo;

class RecordingSink implements Sink {
  readonly blocking = false;
  readonly pendingBytes = 0;
  onDrain: (() => void) | null = null;
  readonly got: Array<{ line: string; fields: unknown; source: string }> = [];
  constructor(readonly name: string) {}
  write(entry: LogEntry): void {
    this.got.push({ line: entry.line.toString(), fields: entry.fields, source: entry.source });
  }
  flush(): void {}
  async close(): Promise<void> {}
  stats(): Record<string, number> {
    return { written: this.got.length };
  }
}

function entry(line: string, source = 'stdout', partial?: { id: string; ordinal: number; last: boolean }): LogEntry {
  return LogEntry.of({ source, timeSec: 1, timeNsec: 0, line: Buffer.from(line), partial: partial !== undefined, partialId: partial?.id, partialOrdinal: partial?.ordinal, partialLast: partial?.last });
}

const spec = (raw: Record<string, unknown>) => parseFilterSpec(raw, 'test');

describe('ContainerFlow', () => {
  it('without filters, every sink gets every entry', () => {
    const a = new RecordingSink('json-file');
    const b = new RecordingSink('fluentd');
    const flow = new ContainerFlow({ info: INFO, logger: log, reassembly: null, filters: [], slots: [{ name: 'json-file', sink: a, policy: 'store', filters: [] }, { name: 'fluentd', sink: b, policy: 'drop-newest', filters: [] }], onTimerRelease: () => undefined });
    for (const l of ['1', '2', '3']) flow.deliver(entry(l));
    expect(a.got.map((g) => g.line)).toEqual(['1', '2', '3']);
    expect(b.got.map((g) => g.line)).toEqual(['1', '2', '3']);
  });

  it('container filters apply to all sinks; a sink\'s own filters (route, set) only to it, and never leak to the next sink', () => {
    const store = new RecordingSink('json-file');
    const gelf = new RecordingSink('gelf');
    const fluentd = new RecordingSink('fluentd');
    const flow = new ContainerFlow({
      info: INFO,
      logger: log,
      reassembly: null,
      filters: [spec({ type: 'exclude', pattern: '^DEBUG' })],
      slots: [
        { name: 'gelf', sink: gelf, policy: 'drop-newest', filters: [spec({ type: 'route', when: { stream: 'stderr' } }), spec({ type: 'set', fields: { to: 'gelf' } })] },
        { name: 'json-file', sink: store, policy: 'store', filters: [] },
        { name: 'fluentd', sink: fluentd, policy: 'drop-newest', filters: [spec({ type: 'redact', patterns: ['secret\\d'] })] },
      ],
      onTimerRelease: () => undefined,
    });
    flow.deliver(entry('DEBUG noise'));
    flow.deliver(entry('out secret1'));
    flow.deliver(entry('err secret2', 'stderr'));
    expect(store.got.map((g) => [g.line, g.fields])).toEqual([
      ['out secret1', null],
      ['err secret2', null],
    ]);
    expect(gelf.got.map((g) => [g.line, g.fields])).toEqual([['err secret2', { to: 'gelf' }]]);
    expect(fluentd.got.map((g) => g.line)).toEqual(['out [REDACTED]', 'err [REDACTED]']);
    expect(flow.filterStats().container).toBeDefined();
  });

  it('joins split lines before the filters when reassembly is on, and flush passes on what is held', () => {
    const store = new RecordingSink('json-file');
    const flow = new ContainerFlow({
      info: INFO,
      logger: log,
      reassembly: { maxBytes: 1 << 20, timeoutMs: 1000 },
      filters: [spec({ type: 'exclude', pattern: 'drop-me' })],
      slots: [{ name: 'json-file', sink: store, policy: 'store', filters: [] }],
      onTimerRelease: () => undefined,
    });
    // "drop-me" straddles the split: only a whole-line view can see it
    flow.deliver(entry('aaaa drop', 'stdout', { id: 'p', ordinal: 1, last: false }));
    flow.deliver(entry('-me bbbb', 'stdout', { id: 'p', ordinal: 2, last: true }));
    flow.deliver(entry('kept'));
    flow.deliver(entry('held', 'stdout', { id: 'q', ordinal: 1, last: false }));
    expect(store.got.map((g) => g.line)).toEqual(['kept']);
    flow.flush();
    expect(store.got.map((g) => g.line)).toEqual(['kept', 'held']);
    flow.close();
  });
});
