import type { ContainerInfo } from '../docker/container-info.js';
import { LogEntry } from '../docker/log-entry.js';
import type { QueuePolicy } from '../config/filter-opts.js';
import type { FilterChain, FilterSpec } from '../filters/registry.js';
import { filterApi } from '../filters/load.js';
import type { Logger } from '../log.js';
import type { Sink } from '../sinks/sink.js';
import { Reassembler, type ReassemblyOptions } from './reassembly.js';

/** One sink in a container's fan-out, with its own filters and what it does when behind. */
export interface SinkSlot {
  readonly name: string;
  readonly sink: Sink;
  /** 'store' for the json-file store (always holds the container back, as Docker's json-file). */
  readonly policy: QueuePolicy | 'store';
  readonly filters: FilterSpec[];
  /** Pending bytes above which this sink, if it holds the container back, pauses the FIFO. */
  readonly highWater?: number;
}

export interface FlowOptions {
  info: ContainerInfo;
  logger: Logger;
  reassembly: ReassemblyOptions | null;
  filters: FilterSpec[];
  slots: SinkSlot[];
  /** Entries released by a timer (reassembly or multiline timeout) went to the sinks: flush them. */
  onTimerRelease: () => void;
}

/**
 * The part of a container's flow between the frame decoder and the sinks:
 * reassembly → container filter chain → fan-out → per-sink filter chain → sink.
 *
 * Immutable once built: a reload builds a new flow and the container logger switches between two
 * reads, after `flush` passed on what the old one held, so no line is lost or seen twice.
 * With no filters and no reassembly, `deliver` is a loop over the sinks, as before filters existed.
 */
export class ContainerFlow {
  private readonly reassembler: Reassembler | null;
  private readonly chain: FilterChain | null;
  private readonly sinks: Sink[];
  private readonly sinkChains: (FilterChain | null)[];
  private readonly scratch = new LogEntry();
  /** Set when a timer released entries outside a read; the logger flushes the sinks once. */
  readonly deliver: (entry: LogEntry) => void;

  constructor(readonly options: FlowOptions) {
    const { info, logger } = options;
    this.sinks = options.slots.map((s) => s.sink);
    const timerEmit = () => options.onTimerRelease();
    this.sinkChains = options.slots.map((slot) => {
      if (slot.filters.length === 0) return null;
      const sink = slot.sink;
      // Filters in the plan means planLoadingFilters loaded them.
      return new (filterApi().FilterChain)(slot.filters, { info, logger, onRelease: timerEmit }, (entry) => sink.write(entry));
    });
    const fanOut = this.sinkChains.every((c) => c === null) ? (entry: LogEntry) => this.writeAll(entry) : (entry: LogEntry) => this.writeRouted(entry);
    this.chain = options.filters.length === 0 ? null : new (filterApi().FilterChain)(options.filters, { info, logger, onRelease: timerEmit }, fanOut);
    const afterReassembly = this.chain === null ? fanOut : (entry: LogEntry) => this.chain!.process(entry);
    this.reassembler = options.reassembly === null ? null : new Reassembler(options.reassembly, afterReassembly, timerEmit);
    this.deliver = this.reassembler === null ? afterReassembly : (entry: LogEntry) => this.reassembler!.push(entry);
  }

  get slots(): readonly SinkSlot[] {
    return this.options.slots;
  }

  private writeAll(entry: LogEntry): void {
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i].write(entry);
  }

  private writeRouted(entry: LogEntry): void {
    const sinks = this.sinks;
    const chains = this.sinkChains;
    for (let i = 0; i < sinks.length; i++) {
      const chain = chains[i];
      if (chain === null) sinks[i].write(entry);
      // A sink's filters may change the entry; the next sink must see it as it was.
      else chain.process(this.scratch.assign(entry, false));
    }
  }

  /** Passes on everything held (partial lines, multiline records), in chain order. */
  flush(): void {
    this.reassembler?.flush();
    this.chain?.flush();
    for (const chain of this.sinkChains) chain?.flush();
  }

  close(): void {
    this.reassembler?.close();
    this.chain?.close();
    for (const chain of this.sinkChains) chain?.close();
  }

  /** Filter counters by chain: `container` and one entry per sink that has filters. */
  filterStats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    const reassembly = this.reassembler;
    if (reassembly !== null) out['reassembly'] = { joined: reassembly.joined, timedOut: reassembly.timedOut, oversized: reassembly.oversized, heldBytes: reassembly.heldBytes };
    if (this.chain !== null) out['container'] = this.chain.stats();
    this.sinkChains.forEach((chain, i) => {
      if (chain !== null) out[this.options.slots[i].name] = chain.stats();
    });
    return out;
  }
}
