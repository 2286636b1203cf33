import fs from 'node:fs';
import path from 'node:path';
import type { ContainerInfo } from '../docker/container-info.js';

/**
 * What logfan must remember to re-attach to running containers after it restarts: the daemon
 * never calls StartLogging again for them (moby daemon/logger/plugin_unix.go), it just keeps
 * writing into their FIFOs. One small file per FIFO under <data-root>/state/attachments,
 * written before StartLogging is answered and removed when the FIFO reaches its end.
 */
export interface Attachment {
  File: string;
  Info: ContainerInfo;
  /** Base64 of the start of a frame read before logfan stopped; its rest is still in the pipe. */
  pending?: string;
}

export class AttachmentStore {
  private readonly dir: string;

  constructor(dataRoot: string) {
    this.dir = path.join(dataRoot, 'state', 'attachments');
  }

  private pathFor(fifoName: string): string {
    return path.join(this.dir, `${fifoName}.json`);
  }

  async save(fifoName: string, attachment: Attachment): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.pathFor(fifoName);
    const tmp = `${target}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(attachment), { mode: 0o600 });
    await fs.promises.rename(tmp, target);
  }

  async remove(fifoName: string): Promise<void> {
    await fs.promises.rm(this.pathFor(fifoName), { force: true });
  }

  /** Every saved attachment; unreadable files are removed and skipped. */
  async list(): Promise<Array<{ fifoName: string; attachment: Attachment }>> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return [];
    }
    const out: Array<{ fifoName: string; attachment: Attachment }> = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const fifoName = name.slice(0, -'.json'.length);
      try {
        const attachment = JSON.parse(await fs.promises.readFile(path.join(this.dir, name), 'utf8')) as Attachment;
        if (typeof attachment.File !== 'string' || typeof attachment.Info !== 'object') throw new Error('bad attachment');
        out.push({ fifoName, attachment });
      } catch {
        await fs.promises.rm(path.join(this.dir, name), { force: true });
      }
    }
    return out;
  }
}
