import { parentPort } from 'node:worker_threads';
import { compressPayload, type GelfCompression } from './compress.js';

/** A batch from CompressPool: the messages back to back in `data`, their sizes in `lengths`. */
export interface CompressJob {
  id: number;
  type: GelfCompression;
  level: number;
  data: ArrayBuffer;
  lengths: Uint32Array;
}

/** The answer: the compressed messages back to back, in the same order; or the error. */
export interface CompressResult {
  id: number;
  data?: ArrayBuffer;
  lengths?: Uint32Array;
  error?: string;
}

const port = parentPort;
if (port) {
  port.on('message', (job: CompressJob) => {
    try {
      const input = Buffer.from(job.data);
      const n = job.lengths.length;
      const outs: Buffer[] = new Array<Buffer>(n);
      const lengths = new Uint32Array(n);
      let off = 0;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const len = job.lengths[i]!;
        // The same function as the synchronous path, so the bytes (and Go's header bytes) are the same.
        const c = compressPayload(input.subarray(off, off + len), job.type, job.level);
        off += len;
        outs[i] = c;
        lengths[i] = c.length;
        total += c.length;
      }
      const data = new ArrayBuffer(total);
      const view = new Uint8Array(data);
      let pos = 0;
      for (let i = 0; i < n; i++) {
        view.set(outs[i]!, pos);
        pos += outs[i]!.length;
      }
      const result: CompressResult = { id: job.id, data, lengths };
      port.postMessage(result, [data, lengths.buffer]);
    } catch (err) {
      const result: CompressResult = { id: job.id, error: err instanceof Error ? err.message : String(err) };
      port.postMessage(result);
    }
  });
}
