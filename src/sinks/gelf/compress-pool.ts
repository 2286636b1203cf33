import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GelfCompression } from './compress.js';
import type { CompressJob, CompressResult } from './compress-worker.js';

/** Called once per batch: the compressed messages in submission order, or why the worker failed. */
export type CompressCallback = (err: Error | null, compressed: Buffer[] | null) => void;

/** Workers dying (or failing to start) this many times disable the pool: sinks compress inline. */
const MAX_WORKER_FAILURES = 3;
/** Workers with nothing to do for this long are terminated (a new one starts on the next batch). */
const DEFAULT_IDLE_MS = 10_000;

interface Slot {
  worker: Worker;
  pending: Map<number, CompressCallback>;
  terminating: boolean;
}

export interface CompressPoolOptions {
  size?: number;
  /** The compiled compress-worker.js; by default the one next to this module. */
  workerUrl?: URL | null;
  idleMs?: number;
}

/** The compiled worker next to this module; from the TypeScript sources (tests), the one in dist/. */
function defaultWorkerUrl(): URL | null {
  const own = new URL('./compress-worker.js', import.meta.url);
  if (fs.existsSync(own)) return own;
  if (import.meta.url.endsWith('.ts')) {
    const built = new URL('../../../dist/sinks/gelf/compress-worker.js', import.meta.url);
    if (fs.existsSync(built)) return built;
  }
  return null;
}

/**
 * A small pool of worker threads that gzip / zlib batches of GELF messages off the main thread.
 * A batch travels as one transferred ArrayBuffer each way (no copy per message by postMessage).
 * Workers start lazily, are unref()ed (they never keep the process alive) and are terminated when
 * idle. A worker that dies fails its pending batches (the caller compresses them inline); after
 * MAX_WORKER_FAILURES the pool stops taking batches.
 */
export class CompressPool {
  readonly size: number;
  private readonly idleMs: number;
  private workerUrl: URL | null | undefined;
  private slots: Slot[] = [];
  private nextId = 1;
  private pendingJobs = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private disabled = false;

  // counters
  workersStarted = 0;
  workerFailures = 0;
  batches = 0;
  messages = 0;

  constructor(opts: CompressPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? os.availableParallelism() - 1);
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.workerUrl = opts.workerUrl;
  }

  /** False once the pool has given up (no worker file, or workers keep failing). */
  get available(): boolean {
    return !this.disabled;
  }

  /**
   * Queues a batch for compression; the callback runs later, never synchronously. Returns false
   * (and never calls back) when the pool is unavailable: compress inline then.
   */
  submit(messages: readonly Buffer[], type: GelfCompression, level: number, cb: CompressCallback): boolean {
    if (this.disabled) return false;
    const slot = this.pickSlot();
    if (!slot) return false;
    let total = 0;
    for (const m of messages) total += m.length;
    const data = new ArrayBuffer(total);
    const view = new Uint8Array(data);
    const lengths = new Uint32Array(messages.length);
    let pos = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      view.set(m, pos);
      pos += m.length;
      lengths[i] = m.length;
    }
    const job: CompressJob = { id: this.nextId++, type, level, data, lengths };
    try {
      slot.worker.postMessage(job, [data, lengths.buffer]);
    } catch {
      return false;
    }
    slot.pending.set(job.id, cb);
    this.pendingJobs++;
    this.batches++;
    this.messages += messages.length;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return true;
  }

  /** Terminates every worker; pending batches fail (their callers compress inline). */
  async terminate(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    await Promise.all(slots.map((s) => this.stopSlot(s, new Error('compression pool terminated'))));
  }

  private pickSlot(): Slot | null {
    let best: Slot | null = null;
    for (const s of this.slots) if (!best || s.pending.size < best.pending.size) best = s;
    if ((!best || best.pending.size > 0) && this.slots.length < this.size) return this.startWorker() ?? best;
    return best;
  }

  private startWorker(): Slot | null {
    if (this.workerUrl === undefined) this.workerUrl = defaultWorkerUrl();
    if (!this.workerUrl) {
      this.workerFailures++;
      this.disabled = true;
      return null;
    }
    let worker: Worker;
    try {
      worker = new Worker(this.workerUrl);
    } catch {
      this.failed();
      return null;
    }
    worker.unref();
    this.workersStarted++;
    const slot: Slot = { worker, pending: new Map(), terminating: false };
    worker.on('message', (r: CompressResult) => this.onResult(slot, r));
    worker.on('error', (err) => this.onDeath(slot, err));
    worker.on('exit', (code) => this.onDeath(slot, new Error(`compression worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private onResult(slot: Slot, r: CompressResult): void {
    const cb = slot.pending.get(r.id);
    if (!cb) return;
    slot.pending.delete(r.id);
    this.jobDone();
    if (r.error !== undefined || !r.data || !r.lengths) {
      cb(new Error(r.error ?? 'compression worker returned nothing'), null);
      return;
    }
    const out: Buffer[] = new Array<Buffer>(r.lengths.length);
    let pos = 0;
    for (let i = 0; i < r.lengths.length; i++) {
      const len = r.lengths[i]!;
      out[i] = Buffer.from(r.data, pos, len);
      pos += len;
    }
    cb(null, out);
  }

  private onDeath(slot: Slot, err: Error): void {
    if (slot.terminating) return;
    slot.terminating = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.failed();
    this.failPending(slot, err);
    slot.worker.terminate().catch(() => {});
  }

  private failed(): void {
    this.workerFailures++;
    if (this.workerFailures >= MAX_WORKER_FAILURES) this.disabled = true;
  }

  private failPending(slot: Slot, err: Error): void {
    const cbs = [...slot.pending.values()];
    slot.pending.clear();
    for (const cb of cbs) {
      this.jobDone();
      cb(err, null);
    }
  }

  private async stopSlot(slot: Slot, err: Error): Promise<void> {
    slot.terminating = true;
    this.failPending(slot, err);
    await slot.worker.terminate().catch(() => {});
  }

  private jobDone(): void {
    this.pendingJobs--;
    if (this.pendingJobs === 0 && this.slots.length > 0 && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (this.pendingJobs > 0) return;
        const slots = this.slots;
        this.slots = [];
        for (const s of slots) void this.stopSlot(s, new Error('compression pool idle'));
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }
}

let shared: CompressPool | null = null;

/** The process-wide pool (max(1, cores - 1) workers), created on first use. */
export function sharedCompressPool(): CompressPool {
  shared ??= new CompressPool();
  return shared;
}
