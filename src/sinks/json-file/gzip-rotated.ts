import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

/**
 * Compresses a rotated log file the way moby's logfile.go compressFile does: NAME.1 → NAME.1.gz,
 * the source removed only once the .gz is complete, a partial .gz removed on failure. The gzip
 * header carries Go's layout (FEXTRA only, MTIME 0, OS 255) and the extra field holds
 * {"lastTime":"<RFC3339Nano>"}, which Docker's reader uses to skip files older than --since.
 * Node's gzip cannot write a header extra, so the member is built around raw deflate.
 */
export async function gzipRotatedFile(source: string, lastTime: string): Promise<void> {
  const target = source + '.gz';
  const extra = Buffer.from(JSON.stringify({ lastTime }));
  const header = Buffer.alloc(12);
  header[0] = 0x1f;
  header[1] = 0x8b;
  header[2] = 0x08; // deflate
  header[3] = 0x04; // FEXTRA
  // MTIME 0 (bytes 4..7), XFL 0 (default level)
  header[9] = 0xff; // OS unknown, as Go writes
  header.writeUInt16LE(extra.length, 10);

  let crc = 0;
  let size = 0;
  const checksum = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      crc = zlib.crc32(chunk, crc);
      size = (size + chunk.length) >>> 0;
      cb(null, chunk);
    },
  });
  const out = fs.createWriteStream(target, { flags: 'w+', mode: 0o640 });
  try {
    out.write(header);
    out.write(extra);
    const deflate = zlib.createDeflateRaw();
    await pipeline(fs.createReadStream(source), checksum, deflate, async function* (deflated: AsyncIterable<Buffer>) {
      for await (const piece of deflated) yield piece;
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size, 4);
      yield trailer;
    }, out);
  } catch (err) {
    out.destroy();
    await fs.promises.rm(target, { force: true });
    throw err;
  }
  await fs.promises.rm(source, { force: true });
}
