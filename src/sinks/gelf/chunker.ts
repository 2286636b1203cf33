import { randomFillSync } from 'node:crypto';

/**
 * GELF UDP chunking exactly as go-gelf's UDPWriter (vendored in moby v20.10.24,
 * github.com/Graylog2/go-gelf/gelf/udpwriter.go):
 *
 * - a payload of at most CHUNK_SIZE (1420) bytes goes out as one datagram, as is;
 * - a longer one is cut into pieces of CHUNK_DATA_LEN (1408) bytes, each sent as
 *   `1e 0f` + 8-byte message id + 1-byte sequence number (from 0) + 1-byte count + data;
 * - the count is ⌊len / 1408⌋ + 1, so a payload that is an exact multiple of 1408 bytes gets a
 *   final empty chunk (go-gelf does this; Graylog accepts it);
 * - more than MAX_CHUNKS (128) chunks: the message is refused ("msg too large, would need N chunks").
 *
 * The message id is random, like go-gelf's crypto/rand, drawn from a pool refilled 1024 ids at a time.
 */
export const CHUNK_SIZE = 1420;
export const CHUNK_HEADER_LEN = 12;
export const CHUNK_DATA_LEN = CHUNK_SIZE - CHUNK_HEADER_LEN;
export const MAX_CHUNKS = 128;
/** The largest payload that can be sent: 127 full chunks and a partial one. */
export const MAX_CHUNKED_PAYLOAD = (MAX_CHUNKS - 1) * CHUNK_DATA_LEN + CHUNK_DATA_LEN - 1;

export class GelfMessageTooLargeError extends Error {
  override name = 'GelfMessageTooLargeError';
}

/** go-gelf numChunks. */
export function numChunks(payloadLength: number): number {
  if (payloadLength <= CHUNK_SIZE) return 1;
  return Math.floor(payloadLength / CHUNK_DATA_LEN) + 1;
}

const ID_POOL_IDS = 1024;
let idPool = Buffer.alloc(0);
let idPos = 0;

/** Copies a fresh random 8-byte message id into out at pos. */
export function writeMessageId(out: Buffer, pos: number): void {
  if (idPos + 8 > idPool.length) {
    idPool = randomFillSync(Buffer.allocUnsafe(ID_POOL_IDS * 8));
    idPos = 0;
  }
  idPool.copy(out, pos, idPos, idPos + 8);
  idPos += 8;
}

/**
 * The datagrams for one (already compressed) payload. A payload that fits is returned as the only
 * element, not copied. Throws GelfMessageTooLargeError above 128 chunks.
 * `messageId` is for tests; by default a random id is drawn.
 */
export function chunkPayload(payload: Buffer, messageId?: Buffer): Buffer[] {
  const n = numChunks(payload.length);
  if (n === 1) return [payload];
  if (n > MAX_CHUNKS) throw new GelfMessageTooLargeError(`msg too large, would need ${n} chunks`);
  // One allocation for all datagrams; each is a view.
  const total = n * CHUNK_HEADER_LEN + payload.length;
  const block = Buffer.allocUnsafe(total);
  const idPosInFirst = 2;
  if (messageId) messageId.copy(block, idPosInFirst, 0, 8);
  else writeMessageId(block, idPosInFirst);
  const out: Buffer[] = new Array<Buffer>(n);
  let pos = 0;
  let left = payload.length;
  for (let i = 0; i < n; i++) {
    const start = pos;
    block[pos] = 0x1e;
    block[pos + 1] = 0x0f;
    if (i > 0) block.copy(block, pos + 2, idPosInFirst, idPosInFirst + 8);
    block[pos + 10] = i;
    block[pos + 11] = n;
    pos += CHUNK_HEADER_LEN;
    const len = left < CHUNK_DATA_LEN ? left : CHUNK_DATA_LEN;
    const off = i * CHUNK_DATA_LEN;
    pos += payload.copy(block, pos, off, off + len);
    left -= len;
    out[i] = block.subarray(start, pos);
  }
  return out;
}
