import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CHUNK_DATA_LEN, CHUNK_SIZE, MAX_CHUNKED_PAYLOAD, chunkPayload, numChunks } from '../../../src/sinks/gelf/chunker.js';
import { compressPayload } from '../../../src/sinks/gelf/compress.js';

const ID = Buffer.from('0102030405060708', 'hex');

describe('GELF UDP chunking (go-gelf)', () => {
  it('sends a payload of up to 1420 bytes as one datagram, unchanged', () => {
    const p = Buffer.alloc(CHUNK_SIZE, 1);
    const d = chunkPayload(p, ID);
    expect(d).toHaveLength(1);
    expect(d[0]).toBe(p);
  });

  it('cuts 1421 bytes into 1408 + 13 with the 12-byte header', () => {
    const p = Buffer.alloc(1421);
    for (let i = 0; i < p.length; i++) p[i] = i & 0xff;
    const d = chunkPayload(p, ID);
    expect(d).toHaveLength(2);
    expect(d[0].subarray(0, 12).toString('hex')).toBe('1e0f' + '0102030405060708' + '00' + '02');
    expect(d[1].subarray(0, 12).toString('hex')).toBe('1e0f' + '0102030405060708' + '01' + '02');
    expect(d[0].length).toBe(1420);
    expect(d[1].length).toBe(12 + 13);
    expect(Buffer.concat(d.map((x) => x.subarray(12)))).toEqual(p);
  });

  it('sends an empty last chunk when the length is an exact multiple of 1408 (go-gelf quirk)', () => {
    const p = Buffer.alloc(CHUNK_DATA_LEN * 3, 7);
    expect(numChunks(p.length)).toBe(4);
    const d = chunkPayload(p, ID);
    expect(d.map((x) => x.length)).toEqual([1420, 1420, 1420, 12]);
    expect(d[3].subarray(10, 12)).toEqual(Buffer.from([3, 4]));
  });

  it('refuses more than 128 chunks with go-gelf\'s message', () => {
    expect(chunkPayload(Buffer.alloc(MAX_CHUNKED_PAYLOAD)).length).toBe(128);
    expect(() => chunkPayload(Buffer.alloc(MAX_CHUNKED_PAYLOAD + 1))).toThrow('msg too large, would need 129 chunks');
  });

  it('draws a different random id per message', () => {
    const a = chunkPayload(Buffer.alloc(3000))[0].subarray(2, 10);
    const b = chunkPayload(Buffer.alloc(3000))[0].subarray(2, 10);
    expect(a.equals(b)).toBe(false);
  });
});

describe('compression with Go headers', () => {
  const json = Buffer.from('{"version":"1.1","short_message":"hello"}');
  it('gzip: Go header (XFL by level, OS 255) and decodes back', () => {
    for (const [level, xfl] of [[1, 4], [9, 2], [-1, 0], [0, 0], [5, 0]] as const) {
      const gz = compressPayload(json, 'gzip', level);
      expect(gz.subarray(0, 10).toString('hex')).toBe('1f8b0800000000' + '00' + xfl.toString(16).padStart(2, '0') + 'ff');
      expect(zlib.unzipSync(gz)).toEqual(json);
    }
  });
  it('zlib: Go header bytes by level', () => {
    const hdr = (level: number) => compressPayload(json, 'zlib', level).subarray(0, 2).toString('hex');
    expect(hdr(1)).toBe('7801');
    expect(hdr(0)).toBe('7801');
    expect(hdr(3)).toBe('785e');
    expect(hdr(-1)).toBe('789c');
    expect(hdr(6)).toBe('789c');
    expect(hdr(9)).toBe('78da');
    expect(zlib.unzipSync(compressPayload(json, 'zlib', 1))).toEqual(json);
  });
  it('none: the payload itself', () => {
    expect(compressPayload(json, 'none', 1)).toBe(json);
  });
});
