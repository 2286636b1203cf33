import fs from 'node:fs';
import path from 'node:path';
import type { ContainerInfo } from '../docker/container-info.js';
import type { Logger } from '../log.js';
import { sinkFactory } from '../sinks/registry.js';
import type { Sink, SinkContext, SinkQueueOptions } from '../sinks/sink.js';

/**
 * Spools whose container is no longer logging: a container that ended while its log server was
 * away (a `docker run --rm` job during an outage), or one that stopped while logfan was down. A
 * sink is built again from what it was built from (saved next to its spool, `owner.json`), sends
 * what the spool holds when the server is back, and the spool is removed once it is empty. When
 * the container starts logging again first, its new sink takes the spool over.
 */

const OWNER_FILE = 'owner.json';
const CHECK_MS = 1_000;

interface SpoolOwner {
  sink: string;
  info: ContainerInfo;
  options: Record<string, string>;
  queue: SinkQueueOptions;
}

interface Drain {
  sink: Sink;
  timer: NodeJS.Timeout;
}

export class SpoolDrainer {
  private readonly root: string;
  private readonly drains = new Map<string, Drain>();
  private closed = false;
  drained = 0;

  constructor(
    dataRoot: string,
    private readonly logger: Logger,
    private readonly isLogging: (containerId: string) => boolean,
  ) {
    this.root = path.join(dataRoot, 'spool');
  }

  /** Before a container's sink opens its spool: stop a drain of it and record the new owner. */
  async claim(ctx: SinkContext, sink: string): Promise<void> {
    if (ctx.spoolDir === undefined || ctx.queue === undefined) return;
    await this.stop(ctx.spoolDir);
    await fs.promises.mkdir(ctx.spoolDir, { recursive: true, mode: 0o700 });
    const owner: SpoolOwner = { sink, info: ctx.info, options: ctx.options, queue: ctx.queue };
    const tmp = path.join(ctx.spoolDir, `${OWNER_FILE}.tmp`);
    await fs.promises.writeFile(tmp, JSON.stringify(owner), { mode: 0o600 });
    await fs.promises.rename(tmp, path.join(ctx.spoolDir, OWNER_FILE));
  }

  /** After a container's sinks closed: drain what its spools kept. */
  async afterContainer(containerId: string): Promise<void> {
    await this.scanContainer(containerId);
  }

  /** At start: drain the spools of every container that is not logging. */
  async scan(): Promise<void> {
    let ids: string[];
    try {
      ids = await fs.promises.readdir(this.root);
    } catch {
      return;
    }
    for (const id of ids) await this.scanContainer(id);
  }

  private async scanContainer(containerId: string): Promise<void> {
    if (this.closed || this.isLogging(containerId)) return;
    const dir = path.join(this.root, containerId);
    let sinks: string[];
    try {
      sinks = await fs.promises.readdir(dir);
    } catch {
      return;
    }
    for (const name of sinks) {
      const spoolDir = path.join(dir, name);
      if (this.drains.has(spoolDir) || this.isLogging(containerId)) continue;
      let owner: SpoolOwner;
      try {
        owner = JSON.parse(await fs.promises.readFile(path.join(spoolDir, OWNER_FILE), 'utf8')) as SpoolOwner;
      } catch {
        continue; // not written by this version, or being written: left as it is
      }
      await this.start(spoolDir, owner);
    }
    await fs.promises.rmdir(dir).catch(() => undefined);
  }

  private async start(spoolDir: string, owner: SpoolOwner): Promise<void> {
    const factory = sinkFactory(owner.sink);
    if (!factory) return;
    // It closes only when its spool is empty or someone takes it over: never wait to deliver then.
    const ctx: SinkContext = { info: owner.info, options: owner.options, logger: this.logger, queue: owner.queue, spoolDir, closeDeadlineMs: 0 };
    let sink: Sink;
    try {
      factory.validate(ctx);
      sink = await factory.create(ctx);
    } catch (err) {
      this.logger.warn({ container: owner.info.ContainerID.slice(0, 12), sink: owner.sink, spool: spoolDir, err: (err as Error).message }, 'cannot drain a left-over spool');
      return;
    }
    if (sink.spoolReady === undefined) {
      await sink.close();
      return;
    }
    // Only a spool that is open counts its disk part in pendingBytes.
    await sink.spoolReady();
    const drain: Drain = {
      sink,
      timer: setInterval(() => {
        if (sink.pendingBytes === 0) void this.complete(spoolDir, drain, true);
      }, CHECK_MS),
    };
    this.drains.set(spoolDir, drain);
    this.logger.info({ container: owner.info.ContainerID.slice(0, 12), sink: owner.sink, queued: sink.stats()['queued'] }, 'draining the spool of a container that is not logging');
  }

  private async complete(spoolDir: string, drain: Drain, emptied: boolean): Promise<void> {
    if (this.drains.get(spoolDir) !== drain) return;
    this.drains.delete(spoolDir);
    clearInterval(drain.timer);
    const stats = drain.sink.stats();
    await drain.sink.close().catch(() => undefined);
    if (emptied && (drain.sink.stats()['spooledAtClose'] ?? 0) === 0) {
      await fs.promises.rm(spoolDir, { recursive: true, force: true });
      await fs.promises.rmdir(path.dirname(spoolDir)).catch(() => undefined);
      this.drained++;
      this.logger.info({ spool: spoolDir, sent: stats['sent'] }, 'left-over spool drained');
    }
  }

  private async stop(spoolDir: string): Promise<void> {
    const drain = this.drains.get(spoolDir);
    if (drain) await this.complete(spoolDir, drain, false);
  }

  get activeCount(): number {
    return this.drains.size;
  }

  /** Shutdown: every drain closes, its spool kept for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.drains.keys()].map((dir) => this.stop(dir)));
  }
}
