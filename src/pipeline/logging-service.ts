import fs from 'node:fs';
import path from 'node:path';
import type { ContainerInfo } from '../docker/container-info.js';
import { optionOwner, STORE_SINK } from '../config/log-opts.js';
import type { PipelineFile } from '../config/pipeline-file.js';
import type { Logger } from '../log.js';
import type { Request, Response } from 'express';
import { FrameResponseWriter, parseReadConfig, startFrameStream } from '../docker/read-logs.js';
import { JsonFileSink, jsonLogPath } from '../sinks/json-file/index.js';
import { readJsonLog } from '../sinks/json-file/reader.js';
import { SINK_FACTORIES, sinkFactory } from '../sinks/registry.js';
import type { Sink, SinkContext } from '../sinks/sink.js';
import { AttachmentStore } from './attachments.js';
import { storedRecord } from './resume-dedupe.js';
import { SpoolDrainer } from './spool-drainer.js';
import { ContainerLogger, type ContainerStats } from './container-logger.js';
import { ContainerFlow } from './flow.js';
import { planLoadingFilters, type ContainerPlan } from './plan.js';

export interface ContainerSnapshot extends ContainerStats {
  container: string;
  name: string;
}

export class StartLoggingError extends Error {
  override name = 'StartLoggingError';
}

export interface LoggingServiceOptions {
  dataRoot: string;
  /** The directory the daemon's FIFOs live in, as the plugin sees it. */
  fifoRoot: string;
  logger: Logger;
  /** Where a container's TLS file options may point (default `<data-root>/tls`). */
  tlsDirs?: readonly string[];
  /** The host-wide pipeline file, if any (replaced by `reload`). */
  pipeline?: PipelineFile | null;
}

export class ReloadError extends Error {
  override name = 'ReloadError';
}

/** One running container's plan and sinks by name, so a reload can tell what changes. */
interface ContainerState {
  plan: ContainerPlan;
  sinks: Map<string, Sink>;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;
/** How long a new logger for a container waits for the previous one (a restart) to flush. */
const PREDECESSOR_WAIT_MS = 10_000;

/** Every container being logged, keyed by the FIFO path the daemon gave (Start and Stop use it). */
export class LoggingService {
  private readonly byFile = new Map<string, ContainerLogger>();
  /** The last logger started per container, so a restarted container appends after it finished. */
  private readonly lastByContainer = new Map<string, ContainerLogger>();
  /** The open json-file store per container, which ReadLogs follows. */
  private readonly storeByContainer = new Map<string, JsonFileSink>();
  readLogsCalls = 0;
  /** Sums over containers that finished logging, so totals survive them. */
  readonly finishedTotals = { containers: 0, bytesRead: 0, frames: 0, corruptFrames: 0 };
  /** Per sink kind, every counter summed over containers that finished (drops stay visible). */
  readonly finishedSinkTotals: Record<string, Record<string, number>> = {};
  private lastHealthDrops = 0;
  corruptLinesSkipped = 0;
  private lastCorruptLogAt = 0;

  private readonly attachments: AttachmentStore;
  /** Attachment writes per FIFO, kept in order without making callers wait for the disk. */
  private readonly attachmentOps = new Map<string, Promise<void>>();

  private inOrder(fifoName: string, op: () => Promise<void>): Promise<void> {
    const next = (this.attachmentOps.get(fifoName) ?? Promise.resolve())
      .then(op)
      .catch((err: Error) => this.options.logger.error({ fifo: fifoName, err: err.message }, 'could not record logging state'));
    this.attachmentOps.set(fifoName, next);
    void next.then(() => {
      if (this.attachmentOps.get(fifoName) === next) this.attachmentOps.delete(fifoName);
    });
    return next;
  }

  private pipeline: PipelineFile | null;
  private readonly states = new Map<ContainerLogger, ContainerState>();
  /** Spools of containers no longer logging (src/pipeline/spool-drainer.ts). */
  readonly spoolDrainer: SpoolDrainer;
  reloads = 0;
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LoggingServiceOptions) {
    this.attachments = new AttachmentStore(options.dataRoot);
    this.spoolDrainer = new SpoolDrainer(options.dataRoot, options.logger, (id) => this.isLogging(id));
    this.pipeline = options.pipeline ?? null;
    this.tlsDirs = options.tlsDirs ?? [path.join(options.dataRoot, 'tls')];
  }

  private readonly tlsDirs: readonly string[];

  get pipelineFile(): PipelineFile | null {
    return this.pipeline;
  }

  private sinkContext(info: ContainerInfo, plan: ContainerPlan, name: string): SinkContext {
    const queue = plan.options.queues[name];
    const spoolDir = queue?.spool ? path.join(this.options.dataRoot, 'spool', info.ContainerID, name) : undefined;
    return { info, options: plan.options.raw, logger: this.options.logger, queue, spoolDir };
  }

  /** A network sink; one that spools takes its spool over from a drain of it first. */
  private async createSink(info: ContainerInfo, plan: ContainerPlan, name: string): Promise<Sink> {
    const ctx = this.sinkContext(info, plan, name);
    if (ctx.spoolDir !== undefined) await this.spoolDrainer.claim(ctx, name);
    return sinkFactory(name)!.create(ctx);
  }

  private buildFlow(logger: ContainerLogger, plan: ContainerPlan, sinks: Map<string, Sink>): ContainerFlow {
    const partial = plan.options.partial;
    return new ContainerFlow({
      info: logger.info,
      logger: this.options.logger,
      reassembly: plan.mergePartials ? { maxBytes: partial.maxBytes, timeoutMs: partial.timeoutMs } : null,
      filters: plan.filters,
      slots: [...sinks.entries()].map(([name, sink]) => ({
        name,
        sink,
        policy: name === STORE_SINK ? 'store' : plan.options.queues[name].policy,
        // A blocking sink must pause the FIFO before its queue (or the host-wide budget) drops.
        highWater: name === STORE_SINK ? undefined : Math.min(8 * 1024 * 1024, plan.options.queues[name].maxBytes / 2),
        filters: plan.sinkFilters[name] ?? [],
      })),
      onTimerRelease: () => logger.onTimerRelease(),
    });
  }

  /**
   * Applies a new pipeline file to new containers and to running ones. Every running container's
   * new plan is built (so validated) before anything changes: a file that fails for one container
   * changes nothing. New sinks connect first; then each container switches flows between two
   * reads, after its old flow passed on what it held, so no line is lost or repeated. Rotation
   * options of the json-file store and local-store stay as the container started with.
   */
  reload(file: PipelineFile | null): Promise<{ containers: number }> {
    const run = this.reloading.then(() => this.applyReload(file));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(file: PipelineFile | null): Promise<{ containers: number }> {
    const running = [...this.states.entries()].filter(([logger]) => !logger.isStopping);
    const plans = new Map<ContainerLogger, ContainerPlan>();
    const errors: string[] = [];
    for (const [logger, state] of running) {
      try {
        const plan = await planLoadingFilters(logger.info, file, SINK_FACTORIES, { tlsDirs: this.tlsDirs });
        // The store stays as it started: its files back docker logs.
        plan.options.localStore = state.sinks.has(STORE_SINK);
        const selected = [...(plan.options.localStore ? [STORE_SINK] : []), ...plan.options.sinks];
        if (selected.length === 0) throw new Error('no sink would receive the logs');
        if (state.plan.options.localStore && !plan.sinkFilters[STORE_SINK]) plan.sinkFilters[STORE_SINK] = [];
        for (const name of plan.options.sinks) sinkFactory(name)!.validate(this.sinkContext(logger.info, plan, name));
        plans.set(logger, plan);
      } catch (err) {
        errors.push(`container ${logger.info.ContainerName.replace(/^\//, '') || logger.containerId.slice(0, 12)}: ${(err as Error).message}`);
      }
    }
    if (errors.length > 0) throw new ReloadError(`reload refused, nothing changed:\n${errors.join('\n')}`);
    this.pipeline = file;
    this.reloads++;
    await Promise.all(
      [...plans.entries()].map(async ([logger, plan]) => {
        const state = this.states.get(logger);
        if (state === undefined || logger.isStopping) return;
        const next = new Map<string, Sink>();
        const retired: Sink[] = [];
        if (state.sinks.has(STORE_SINK)) next.set(STORE_SINK, state.sinks.get(STORE_SINK)!);
        for (const name of plan.options.sinks) {
          const current = state.sinks.get(name);
          if (current !== undefined && sinkSignature(name, state.plan) === sinkSignature(name, plan)) {
            next.set(name, current);
          } else {
            next.set(name, await this.createSink(logger.info, plan, name));
          }
        }
        for (const [name, sink] of state.sinks) if (next.get(name) !== sink) retired.push(sink);
        if (!this.states.has(logger) || logger.isStopping) {
          // Stopped while the new sinks connected: they never carried a line.
          await Promise.all([...next.values()].filter((s) => !state.sinks.has(s.name) || state.sinks.get(s.name) !== s).map((s) => s.close()));
          return;
        }
        logger.useFlow(this.buildFlow(logger, plan, next));
        this.states.set(logger, { plan, sinks: next });
        for (const sink of retired) {
          void sink.close().catch((err: Error) => this.options.logger.error({ container: logger.containerId.slice(0, 12), sink: sink.name, err: err.message }, 'sink close failed'));
        }
      }),
    );
    this.options.logger.info({ file: file?.file ?? null, containers: plans.size }, 'pipeline reloaded');
    return { containers: plans.size };
  }

  /** Every container being logged, with its reader's and sinks' counters. */
  snapshot(): ContainerSnapshot[] {
    return [...this.byFile.values()].map((l) => ({ container: l.containerId.slice(0, 12), name: l.info.ContainerName.replace(/^\//, ''), ...l.stats() }));
  }

  /**
   * Degraded when a sink reports itself down (stat `up` = 0) or when drops rose since the last
   * health check.
   */
  health(): { status: 'ok' | 'degraded'; reasons: string[] } {
    const reasons: string[] = [];
    let drops = 0;
    for (const c of this.snapshot()) {
      for (const [sink, stats] of Object.entries(c.sinks)) {
        if (stats.up === 0) reasons.push(`${c.name || c.container}: ${sink} is down`);
        for (const [k, v] of Object.entries(stats)) if (k.startsWith('dropped') || k === 'writeErrors') drops += v;
      }
    }
    if (drops > this.lastHealthDrops) reasons.push(`${drops - this.lastHealthDrops} lines or writes dropped since the last check`);
    this.lastHealthDrops = drops;
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons };
  }

  /**
   * After a restart: resume reading the FIFOs of containers that were logging when logfan
   * stopped. Whatever the daemon wrote meanwhile waited in the pipe. A FIFO that is gone (the
   * container stopped while logfan was down) is forgotten.
   */
  async reattach(): Promise<number> {
    let count = 0;
    for (const { fifoName, attachment } of await this.attachments.list()) {
      const fifo = path.join(this.options.fifoRoot, fifoName);
      const isFifo = await fs.promises.stat(fifo).then(
        (st) => st.isFIFO(),
        () => false,
      );
      if (!isFifo) {
        await this.attachments.remove(fifoName);
        continue;
      }
      try {
        await this.startLogging(attachment.File, attachment.Info, attachment.pending ? Buffer.from(attachment.pending, 'base64') : null, true);
        count++;
      } catch (err) {
        this.options.logger.error({ file: attachment.File, err: (err as Error).message }, 'could not re-attach to a FIFO');
        await this.attachments.remove(fifoName);
      }
    }
    if (count > 0) this.options.logger.info({ containers: count }, 're-attached to running containers');
    await this.spoolDrainer.scan();
    return count;
  }

  get activeCount(): number {
    return this.byFile.size;
  }

  /** True while a logger for this container exists (its store must not be deleted). */
  isLogging(containerId: string): boolean {
    return this.lastByContainer.has(containerId) || this.storeByContainer.has(containerId);
  }

  async startLogging(file: unknown, info: unknown, resumeBytes: Buffer | null = null, reattaching = false): Promise<void> {
    const fifo = this.checkFile(file);
    const containerInfo = this.checkInfo(info);
    if (this.byFile.has(fifo)) throw new StartLoggingError(`already logging to ${fifo}`);
    const id = containerInfo.ContainerID;
    let plan: ContainerPlan;
    let store: JsonFileSink | null = null;
    try {
      plan = await planLoadingFilters(containerInfo, this.pipeline, SINK_FACTORIES, { tlsDirs: this.tlsDirs });
      // tag templates and regex options fail here, with the option named in the message
      if (plan.options.localStore) store = new JsonFileSink(jsonLogPath(this.options.dataRoot, id), containerInfo, plan.options, this.options.logger);
      for (const name of plan.options.sinks) sinkFactory(name)!.validate(this.sinkContext(containerInfo, plan, name));
    } catch (err) {
      throw new StartLoggingError((err as Error).message);
    }
    // Loading the filters (the first container that has some) lets other requests in.
    if (this.byFile.has(fifo)) throw new StartLoggingError(`already logging to ${fifo}`);
    const options = plan.options;
    const sinks = new Map<string, Sink>();
    if (store) sinks.set(STORE_SINK, store);
    const logger = new ContainerLogger(fifo, containerInfo, this.options.logger);
    this.byFile.set(fifo, logger);
    const previous = this.lastByContainer.get(id);
    this.lastByContainer.set(id, logger);
    try {
      // A restarted container appends after its previous logger has flushed.
      if (previous && previous !== logger) await waitAtMost(previous.finished, PREDECESSOR_WAIT_MS);
      if (store) await store.open();
      // Network sinks connect in the background: a log server that is down never stops a start.
      for (const name of options.sinks) sinks.set(name, await this.createSink(containerInfo, plan, name));
      // Every sink is ready before the first entry can be read.
      logger.useFlow(this.buildFlow(logger, plan, sinks));
      this.states.set(logger, { plan, sinks });
      if (resumeBytes) logger.prime(resumeBytes);
      if (store && reattaching) {
        // The FIFO's head may repeat what the store wrote just before logfan stopped.
        const last = store.lastRecord;
        logger.skipStoredOnResume(last ? storedRecord(last) : null);
        if (store.tornTailBytes > 0) this.options.logger.warn({ container: id.slice(0, 12), bytes: store.tornTailBytes }, 'cut an unfinished last record off the json-file store (logfan was killed while writing it)');
      }
      await logger.start();
      if (store) this.storeByContainer.set(id, store);
      // Recorded after the answer, not before: StartLogging latency is docker run's and docker logs'.
      void this.inOrder(path.basename(fifo), () => this.attachments.save(path.basename(fifo), { File: file as string, Info: containerInfo }));
    } catch (err) {
      this.byFile.delete(fifo);
      this.states.delete(logger);
      if (this.lastByContainer.get(id) === logger) this.lastByContainer.delete(id);
      await Promise.all([...sinks.values()].filter((s) => s !== store).map((s) => s.close().catch(() => undefined)));
      await logger.abort().catch(() => undefined);
      throw new StartLoggingError(`container ${id}: ${(err as Error).message}`);
    }
    void logger.finished.then(async () => {
      // Keep the attachment when logfan itself is stopping (see shutdown): the FIFO is read on
      // after a restart.
      const st = logger.stats();
      this.finishedTotals.containers++;
      this.finishedTotals.bytesRead += st.bytesRead;
      this.finishedTotals.frames += st.frames;
      this.finishedTotals.corruptFrames += st.corruptFrames;
      for (const [sink, stats] of Object.entries(st.sinks)) {
        const total = (this.finishedSinkTotals[sink] ??= {});
        for (const [k, v] of Object.entries(stats)) if (k !== 'pendingBytes' && k !== 'up') total[k] = (total[k] ?? 0) + v;
      }
      this.states.delete(logger);
      if (logger.reachedEnd) await this.inOrder(path.basename(fifo), () => this.attachments.remove(path.basename(fifo)));
      if (this.byFile.get(fifo) === logger) this.byFile.delete(fifo);
      if (this.lastByContainer.get(id) === logger) this.lastByContainer.delete(id);
      if (store && this.storeByContainer.get(id) === store) this.storeByContainer.delete(id);
      // Lines a stopped container's spools kept go out when their server is back.
      if (logger.reachedEnd) await this.spoolDrainer.afterContainer(id);
    });
    this.options.logger.info({ container: id.slice(0, 12), containerName: containerInfo.ContainerName }, 'logging started');
  }

  /** Never fails: an error here would make the daemon leak the FIFO (moby daemon/logger/plugin.go). */
  stopLogging(file: unknown): void {
    const logger = typeof file === 'string' ? this.byFile.get(this.resolveFifo(file)) : undefined;
    if (!logger) {
      this.options.logger.warn({ file }, 'StopLogging for a FIFO not being logged');
      return;
    }
    logger.stop();
    void logger.finished.then(() =>
      this.options.logger.info({ container: logger.containerId.slice(0, 12), ...logger.stats() }, 'logging stopped'),
    );
  }

  /**
   * ReadLogs: streams the container's json-file store as LogEntry frames. An unknown container
   * gets an empty stream, not an error, so `docker logs` shows nothing rather than failing.
   */
  readLogs(req: Request, res: Response): void {
    this.readLogsCalls++;
    const body = (req.body ?? {}) as { Info?: { ContainerID?: unknown }; Config?: unknown };
    const id = body.Info?.ContainerID;
    let opts;
    try {
      opts = parseReadConfig(body.Config);
    } catch (err) {
      res.status(400).json({ Err: (err as Error).message });
      return;
    }
    startFrameStream(req, res);
    const since = opts.since;
    const until = opts.until;
    const empty =
      typeof id !== 'string' || !CONTAINER_ID.test(id) || (since !== null && until !== null && (since.sec > until.sec || (since.sec === until.sec && since.nsec > until.nsec)));
    if (empty) {
      res.end();
      return;
    }
    const writer = this.storeByContainer.get(id)?.rotatingWriter ?? null;
    const out = new FrameResponseWriter(res);
    const handle = readJsonLog(jsonLogPath(this.options.dataRoot, id), writer, opts, {
      lines: (batch) => out.lines(batch),
      corrupt: (file, offset) => {
        this.corruptLinesSkipped++;
        const now = Date.now();
        if (now - this.lastCorruptLogAt < 1000) return;
        this.lastCorruptLogAt = now;
        this.options.logger.warn({ container: id.slice(0, 12), file, offset, corruptLinesSkipped: this.corruptLinesSkipped }, 'skipped a corrupt line in the json-file store');
      },
    });
    out.onDrain = () => handle.resume();
    res.on('close', () => handle.stop());
    handle.done.then(
      () => {
        out.flush();
        res.end();
      },
      (err: Error) => {
        this.options.logger.error({ container: id.slice(0, 12), err: err.message }, 'ReadLogs failed');
        res.destroy(err);
      },
    );
  }

  /**
   * Flushes everything read so far and lets go of every FIFO, leaving unread data in the pipes
   * and, in each attachment, the start of a frame read only in part: a restarted logfan resumes
   * exactly there.
   */
  async shutdown(): Promise<void> {
    await this.spoolDrainer.close();
    await Promise.all(
      [...this.byFile.entries()].map(async ([fifo, logger]) => {
        await logger.abort();
        if (logger.leftover) {
          const name = path.basename(fifo);
          await this.inOrder(name, () => this.attachments.save(name, { File: `/run/docker/logging/${name}`, Info: logger.info, pending: logger.leftover!.toString('base64') }));
        } else {
          await this.attachmentOps.get(path.basename(fifo));
        }
      }),
    );
  }

  /** Maps the daemon's path to where the FIFO is for us, refusing anything outside the FIFO root. */
  private resolveFifo(file: string): string {
    const base = path.basename(file);
    return path.join(this.options.fifoRoot, base);
  }

  private checkFile(file: unknown): string {
    if (typeof file !== 'string' || file === '') throw new StartLoggingError('StartLogging: missing File');
    const base = path.basename(file);
    if (path.posix.dirname(file) !== '/run/docker/logging' || !/^[0-9a-f]{64}$/.test(base)) {
      throw new StartLoggingError(`StartLogging: File must be /run/docker/logging/<64 hex digits>, got '${file.slice(0, 200)}'`);
    }
    return this.resolveFifo(file);
  }

  private checkInfo(info: unknown): ContainerInfo {
    if (typeof info !== 'object' || info === null) throw new StartLoggingError('StartLogging: missing Info');
    const i = info as Partial<ContainerInfo>;
    if (typeof i.ContainerID !== 'string' || !CONTAINER_ID.test(i.ContainerID)) {
      throw new StartLoggingError(`StartLogging: Info.ContainerID must be 64 hex digits, got '${String(i.ContainerID).slice(0, 100)}'`);
    }
    if (i.Config !== undefined && i.Config !== null && typeof i.Config !== 'object') {
      throw new StartLoggingError('StartLogging: Info.Config must be an object of strings');
    }
    return {
      Config: i.Config ?? {},
      ContainerID: i.ContainerID,
      ContainerName: typeof i.ContainerName === 'string' ? i.ContainerName : '',
      ContainerEntrypoint: typeof i.ContainerEntrypoint === 'string' ? i.ContainerEntrypoint : '',
      ContainerArgs: Array.isArray(i.ContainerArgs) ? i.ContainerArgs : [],
      ContainerImageID: typeof i.ContainerImageID === 'string' ? i.ContainerImageID : '',
      ContainerImageName: typeof i.ContainerImageName === 'string' ? i.ContainerImageName : '',
      ContainerCreated: typeof i.ContainerCreated === 'string' ? i.ContainerCreated : '',
      ContainerEnv: Array.isArray(i.ContainerEnv) ? i.ContainerEnv : [],
      ContainerLabels: i.ContainerLabels && typeof i.ContainerLabels === 'object' ? i.ContainerLabels : {},
      LogPath: typeof i.LogPath === 'string' ? i.LogPath : '',
      DaemonName: typeof i.DaemonName === 'string' ? i.DaemonName : 'docker',
    };
  }
}

function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** What a sink is built from: when it changes on reload, the sink is replaced. */
function sinkSignature(name: string, plan: ContainerPlan): string {
  const raw = plan.options.raw;
  const keys = Object.keys(raw)
    .filter((k) => optionOwner(k, SINK_FACTORIES) === name || ['tag', 'labels', 'labels-regex', 'env', 'env-regex'].includes(k))
    .sort();
  return JSON.stringify([keys.map((k) => [k, raw[k]]), plan.options.queues[name]]);
}
