import path from 'node:path';
import type { ContainerInfo } from '../../docker/container-info.js';
import type { LogEntry } from '../../docker/log-entry.js';
import { extraAttributes } from '../../docker/extra-attributes.js';
import { renderTag } from '../../docker/tag-template.js';
import { formatRfc3339NanoUtc } from '../../docker/timestamp.js';
import type { LogOptions } from '../../config/log-opts.js';
import type { Logger } from '../../log.js';
import type { Sink } from '../sink.js';
import { goJsonStringMap } from '../util/go-json.js';
import { JsonFileEncoder } from './encoder.js';
import { RotatingWriter } from './rotating-writer.js';

/** A read's records are encoded into batches of this size (64 KiB: with 100 containers, larger ones cost real memory). */
const BATCH_BYTES = 64 * 1024;

/** <data-root>/containers/<ContainerID>/<ContainerID>-json.log, as Docker lays its own out. */
export function jsonLogPath(dataRoot: string, containerId: string): string {
  return path.join(dataRoot, 'containers', containerId, `${containerId}-json.log`);
}

/**
 * The attrs object json-file adds to every line: the extra attributes plus `tag` when the user
 * set one that renders non-empty (json-file has no default tag).
 */
export function jsonFileAttrs(info: ContainerInfo, raw: Record<string, string>): string | null {
  const attrs = extraAttributes(info, raw);
  const tag = renderTag(raw['tag'] ?? '', info, '');
  if (tag !== '') attrs['tag'] = tag;
  return Object.keys(attrs).length > 0 ? goJsonStringMap(attrs) : null;
}

/** Docker-exact json-file store with max-size / max-file / compress rotation. */
export class JsonFileSink implements Sink {
  readonly name = 'json-file';
  readonly blocking = true;
  onDrain: (() => void) | null = null;
  private readonly encoder: JsonFileEncoder;
  private readonly storeFields: boolean;
  private readonly attrsLength: number;
  private readonly writer: RotatingWriter;
  private batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private batchStart = 0;
  private batchPos = 0;
  private lastSec = 0;
  private lastNsec = 0;
  private lastErrorLogAt = 0;
  entriesWritten = 0;

  constructor(
    readonly filePath: string,
    info: ContainerInfo,
    options: LogOptions,
    private readonly logger: Logger,
  ) {
    const attrs = jsonFileAttrs(info, options.raw);
    this.storeFields = options.jsonFile.fields;
    this.encoder = new JsonFileEncoder(attrs);
    this.attrsLength = this.encoder.attrsLength;
    this.writer = new RotatingWriter(filePath, options.jsonFile, {
      onError: (err, during) => this.reportError(err, during),
      onDrain: () => this.onDrain?.(),
    });
  }

  open(): Promise<void> {
    return this.writer.open();
  }

  /** The last record the store held when opened (for the restart dedupe), or null. */
  get lastRecord(): Buffer | null {
    return this.writer.lastLine;
  }

  get tornTailBytes(): number {
    return this.writer.tornTailBytes;
  }

  get pendingBytes(): number {
    return this.writer.pendingBytes + (this.batchPos - this.batchStart);
  }

  write(entry: LogEntry): void {
    const fields = entry.fields;
    if (fields !== null && !this.storeFields) {
      // The entry is shared with the other sinks: hide its fields only for this write.
      entry.fields = null;
      this.write(entry);
      entry.fields = fields;
      return;
    }
    if (this.writer.full) {
      this.cutBatch();
      this.writer.rotateBeforeNext(formatRfc3339NanoUtc(this.lastSec, this.lastNsec));
    }
    const need = JsonFileEncoder.maxEncodedLength(entry, this.attrsLength);
    if (this.batch.length - this.batchPos < need) {
      this.cutBatch();
      this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, need));
      this.batchStart = 0;
      this.batchPos = 0;
    }
    const start = this.batchPos;
    this.batchPos = this.encoder.encode(entry, this.batch, start);
    // The rotation check counts bytes as they would land, so cut-over points match Docker's.
    this.writer.logicalSize += this.batchPos - start;
    this.lastSec = entry.timeSec;
    this.lastNsec = entry.timeNsec;
    this.entriesWritten++;
  }

  flush(): void {
    this.cutBatch();
  }

  /** Moves the encoded-but-unqueued bytes to the writer. */
  private cutBatch(): void {
    if (this.batchPos === this.batchStart) return;
    const piece = this.batch.subarray(this.batchStart, this.batchPos);
    // logicalSize already counts these bytes; enqueueWrite would add them again.
    this.writer.logicalSize -= piece.length;
    this.writer.enqueueWrite(piece);
    this.batchStart = this.batchPos;
  }

  async close(): Promise<void> {
    this.flush();
    await this.writer.close();
  }

  /** The file writer, for readers that follow the live file (ReadLogs with Follow). */
  get rotatingWriter(): RotatingWriter {
    return this.writer;
  }

  stats(): Record<string, number> {
    return {
      entriesWritten: this.entriesWritten,
      bytesWritten: this.writer.bytesWritten,
      writeErrors: this.writer.writeErrors,
      bytesDropped: this.writer.bytesDropped,
      rotations: this.writer.rotations,
    };
  }

  private reportError(err: Error, during: string): void {
    // A failing disk fails every batch: log at most once a second, the counters keep the rest.
    const now = Date.now();
    if (now - this.lastErrorLogAt < 1000) return;
    this.lastErrorLogAt = now;
    this.logger.error({ sink: this.name, file: this.filePath, during, err: err.message, writeErrors: this.writer.writeErrors }, 'json-file sink error');
  }
}
