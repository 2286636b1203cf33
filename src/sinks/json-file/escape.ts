import { writeJsonBytes } from '../util/json-bytes.js';

/**
 * json-file's `log` and `stream` strings, as moby's ffjson writer escapes them
 * (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go): a tab is `\u0009`. The rules are in
 * ../util/json-bytes.ts; the `attrs` object is Go's encoding/json (../util/go-json.ts).
 */
export function writeLogString(out: Buffer, pos: number, src: Buffer, start: number, end: number): number {
  return writeJsonBytes(out, pos, src, start, end, false);
}
