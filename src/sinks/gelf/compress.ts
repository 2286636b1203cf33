import zlib from 'node:zlib';

export type GelfCompression = 'gzip' | 'zlib' | 'none';

/**
 * Per-message compression as go-gelf does it (a fresh gzip / zlib stream per message at the
 * chosen level). The deflate bytes come from zlib, not Go's compress/flate, so they differ from
 * Docker's, but they decode to the same payload; the headers are made Go's:
 *
 * - gzip: Go writes MTIME 0, XFL 4 at level 1 (BestSpeed), 2 at level 9, otherwise 0, and
 *   OS 255; zlib writes XFL by its own rule and OS 3, so bytes 8 and 9 are patched;
 * - zlib: the 2-byte header zlib writes (0x78, FLEVEL from the level) is the one Go writes.
 */
export function compressPayload(payload: Buffer, type: GelfCompression, level: number): Buffer {
  if (type === 'none') return payload;
  if (type === 'zlib') return zlib.deflateSync(payload, { level });
  const gz = zlib.gzipSync(payload, { level });
  gz[8] = level === 9 ? 2 : level === 1 ? 4 : 0;
  gz[9] = 255;
  return gz;
}
