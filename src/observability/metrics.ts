import { Counter, Gauge, Registry } from 'prom-client';
import type { LoggingService } from '../pipeline/logging-service.js';

/**
 * Prometheus metrics, read from the pipeline's own counters when scraped: nothing is incremented
 * per line for them. Per-container series carry the short container id and name; totals over
 * containers that finished are kept by the service.
 */
export function createMetrics(service: LoggingService): Registry {
  const registry = new Registry();
  const perContainer = ['container', 'name'] as const;

  new Gauge({
    name: 'logfan_process_memory_bytes',
    help: "logfan's memory by kind (process.memoryUsage(): rss, heapTotal, heapUsed, external, arrayBuffers), read when scraped",
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const m = process.memoryUsage();
      this.set({ kind: 'rss' }, m.rss);
      this.set({ kind: 'heapTotal' }, m.heapTotal);
      this.set({ kind: 'heapUsed' }, m.heapUsed);
      this.set({ kind: 'external' }, m.external);
      this.set({ kind: 'arrayBuffers' }, m.arrayBuffers);
    },
  });
  new Gauge({
    name: 'logfan_containers_logging',
    help: 'Containers whose FIFO logfan is reading',
    registers: [registry],
    collect() {
      this.set(service.activeCount);
    },
  });
  const fifo = (name: string, help: string, key: 'bytesRead' | 'frames' | 'corruptFrames' | 'bytesSkipped' | 'bytesSkippedOnResume') =>
    new Counter({
      name,
      help,
      labelNames: perContainer,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of service.snapshot()) this.inc({ container: c.container, name: c.name }, c[key]);
      },
    });
  fifo('logfan_fifo_bytes_read_total', 'Bytes read from the container FIFO', 'bytesRead');
  fifo('logfan_entries_in_total', 'Log entries decoded from the FIFO', 'frames');
  fifo('logfan_decode_errors_total', 'Corrupt or oversized frames skipped', 'corruptFrames');
  fifo('logfan_decode_skipped_bytes_total', 'Bytes skipped to get back in step after a corrupt frame', 'bytesSkipped');
  fifo('logfan_fifo_repeated_bytes_total', 'Bytes at the FIFO head after a restart that the store already had (skipped, not written twice)', 'bytesSkippedOnResume');

  new Gauge({
    name: 'logfan_sink_stat',
    help: 'Every counter a sink keeps (entries and bytes out, drops by reason, queue bytes, reconnects, up), by name',
    labelNames: [...perContainer, 'sink', 'stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of service.snapshot()) {
        for (const [sink, stats] of Object.entries(c.sinks)) {
          for (const [stat, value] of Object.entries(stats)) this.set({ container: c.container, name: c.name, sink, stat }, value);
        }
      }
    },
  });
  new Gauge({
    name: 'logfan_filter_stat',
    help: 'Every counter a filter chain keeps (lines dropped, redacted, joined, routed away, …) by chain (container, reassembly or a sink) and stat',
    labelNames: [...perContainer, 'chain', 'stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of service.snapshot()) {
        for (const [chain, stats] of Object.entries(c.filters)) {
          for (const [stat, value] of Object.entries(stats)) this.set({ container: c.container, name: c.name, chain, stat }, value);
        }
      }
    },
  });
  new Gauge({
    name: 'logfan_spool_drains_active',
    help: 'Left-over spools of containers no longer logging that are being sent',
    registers: [registry],
    collect() {
      this.set(service.spoolDrainer.activeCount);
    },
  });
  new Counter({
    name: 'logfan_spool_drains_completed_total',
    help: 'Left-over spools sent completely and removed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.spoolDrainer.drained);
    },
  });
  new Counter({
    name: 'logfan_reloads_total',
    help: 'Pipeline file reloads applied',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.reloads);
    },
  });
  new Counter({
    name: 'logfan_finished_sink_stat_total',
    help: 'Sink counters summed over containers that stopped logging since logfan started, by sink kind',
    labelNames: ['sink', 'stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, stats] of Object.entries(service.finishedSinkTotals)) {
        for (const [stat, value] of Object.entries(stats)) this.inc({ sink, stat }, value);
      }
    },
  });
  new Counter({
    name: 'logfan_readlogs_calls_total',
    help: 'docker logs requests served (ReadLogs)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.readLogsCalls);
    },
  });
  new Counter({
    name: 'logfan_store_corrupt_lines_total',
    help: 'Lines in the json-file store that could not be parsed and were skipped when read',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.corruptLinesSkipped);
    },
  });
  new Counter({
    name: 'logfan_finished_entries_total',
    help: 'Entries decoded for containers that have stopped logging since logfan started',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.finishedTotals.frames);
    },
  });
  return registry;
}
