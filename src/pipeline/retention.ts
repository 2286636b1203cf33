import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Logger } from '../log.js';

/**
 * What happens to a container's logs once it is gone. Docker deletes json-file logs when the
 * container is removed, but a log plugin is never told about removal, so logfan sweeps its data
 * root periodically and deletes the store of a container that no longer logs and that
 *   1. the daemon answers 404 for (removed) — when its API socket is reachable;
 *   2. has not been written for longer than `maxAgeMs` (optional);
 *   3. is among the oldest stores while the data root is over `maxBytes` (optional).
 * A container that is logging is never touched.
 */
export interface RetentionOptions {
  dataRoot: string;
  /** The daemon's API socket, or '' to not ask the daemon. */
  dockerSocket: string;
  maxAgeMs: number;
  maxBytes: number;
  intervalMs: number;
  isActive(containerId: string): boolean;
  logger: Logger;
}

interface StoreInfo {
  id: string;
  dir: string;
  bytes: number;
  lastWriteMs: number;
}

export type ContainerState = 'exists' | 'removed' | 'unknown';

/** Asks the daemon whether a container exists (GET /containers/<id>/json). */
export function inspectContainer(socketPath: string, id: string, timeoutMs = 5000): Promise<ContainerState> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, method: 'GET', path: `/containers/${id}/json`, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 404 ? 'removed' : res.statusCode === 200 ? 'exists' : 'unknown');
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve('unknown'));
    req.end();
  });
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  removedStores = 0;
  removedBytes = 0;

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; concurrent calls share the pass in progress. */
  sweep(): Promise<void> {
    if (!this.running) {
      this.running = this.sweepOnce()
        .catch((err: Error) => this.options.logger.error({ err: err.message }, 'retention sweep failed'))
        .finally(() => (this.running = null));
    }
    return this.running;
  }

  private async sweepOnce(): Promise<void> {
    const stores = await this.listStores();
    const now = Date.now();
    const keep: StoreInfo[] = [];
    const socketUsable = this.options.dockerSocket !== '' && fs.existsSync(this.options.dockerSocket);
    for (const store of stores) {
      if (this.options.isActive(store.id)) {
        keep.push(store);
        continue;
      }
      if (socketUsable && (await inspectContainer(this.options.dockerSocket, store.id)) === 'removed') {
        await this.remove(store, 'container removed');
        continue;
      }
      if (this.options.maxAgeMs > 0 && now - store.lastWriteMs > this.options.maxAgeMs) {
        await this.remove(store, 'older than max-age');
        continue;
      }
      keep.push(store);
    }
    if (this.options.maxBytes > 0) {
      let total = keep.reduce((sum, s) => sum + s.bytes, 0);
      const candidates = keep.filter((s) => !this.options.isActive(s.id)).sort((a, b) => a.lastWriteMs - b.lastWriteMs);
      for (const store of candidates) {
        if (total <= this.options.maxBytes) break;
        await this.remove(store, 'data root over max-data-root-size');
        total -= store.bytes;
      }
    }
  }

  private async listStores(): Promise<StoreInfo[]> {
    const root = path.join(this.options.dataRoot, 'containers');
    let ids: string[];
    try {
      ids = await fs.promises.readdir(root);
    } catch {
      return [];
    }
    const stores: StoreInfo[] = [];
    for (const id of ids) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      const dir = path.join(root, id);
      let bytes = 0;
      let lastWriteMs = 0;
      try {
        for (const name of await fs.promises.readdir(dir)) {
          const st = await fs.promises.stat(path.join(dir, name));
          bytes += st.size;
          lastWriteMs = Math.max(lastWriteMs, st.mtimeMs);
        }
      } catch {
        continue;
      }
      stores.push({ id, dir, bytes, lastWriteMs });
    }
    return stores;
  }

  private async remove(store: StoreInfo, reason: string): Promise<void> {
    await fs.promises.rm(store.dir, { recursive: true, force: true });
    this.removedStores++;
    this.removedBytes += store.bytes;
    this.options.logger.info({ container: store.id.slice(0, 12), bytes: store.bytes, reason }, 'removed container logs');
  }
}

/** "30d", "12h", "90m", "45s", "500ms" → milliseconds; "" or "0" → 0 (off). */
export function parseRetentionDuration(text: string, option: string): number {
  if (text === '' || text === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`${option}: expected a duration such as 30d, 12h, 90m or 45s, got '${text}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
