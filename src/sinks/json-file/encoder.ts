import type { LogEntry } from '../../docker/log-entry.js';
import { formatSecondsUtc, TimestampWriter, writeFraction } from '../../docker/timestamp.js';
import { copySmall, maxJsonEscapedLength } from '../util/json-bytes.js';
import { writeLogString } from './escape.js';

/**
 * Encodes entries exactly as moby's json-file driver (jsonfilelog.go marshalMessage +
 * jsonlog.JSONLogs.MarshalJSONBuf): `{"log":…,"stream":…,"attrs":…,"time":…}\n`.
 * Everything after the log string is constant per stream and precomputed.
 */
export class JsonFileEncoder {
  private readonly timestamps = new TimestampWriter();
  private readonly stdoutMiddle: Buffer;
  private readonly stderrMiddle: Buffer;
  private readonly attrsJson: string | null;
  /** Per stream: middle + the date part of the time, rebuilt when the second changes. */
  private stdoutTail: Buffer = Buffer.alloc(0);
  private stderrTail: Buffer = Buffer.alloc(0);
  private tailSec = Number.NaN;
  private static readonly TIME_END = Buffer.from('Z"}\n');

  /** @param attrsJson the precomputed `attrs` object (Go json.Marshal output), or null for none. */
  constructor(attrsJson: string | null) {
    this.attrsJson = attrsJson;
    this.stdoutMiddle = this.middleFor('stdout');
    this.stderrMiddle = this.middleFor('stderr');
  }

  /** The bytes between the end of the log string's quote and the time value, for one stream. */
  private middleFor(stream: string): Buffer {
    let s = '"';
    if (stream !== '') s += ',"stream":"' + stream + '"';
    if (this.attrsJson !== null) s += ',"attrs":' + this.attrsJson;
    s += ',"time":"';
    return Buffer.from(s);
  }

  /** An upper bound on the encoded size of an entry. */
  static maxEncodedLength(entry: LogEntry, attrsLength: number): number {
    return maxJsonEscapedLength(entry.lineEnd - entry.lineStart) + 2 + 64 + attrsLength + 40 + entry.source.length * 6;
  }

  get attrsLength(): number {
    return this.attrsJson === null ? 0 : Buffer.byteLength(this.attrsJson);
  }

  /** Writes one encoded entry at pos; `out` must hold maxEncodedLength bytes there. Returns the new position. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    const withNewline = !entry.partial || entry.partialLast;
    const start = pos;
    const noLogKey = entry.lineEnd === entry.lineStart && !withNewline;
    if (noLogKey) {
      // moby omits the "log" key when the value is empty (only possible for a non-last fragment).
      out[pos++] = 0x7b; // {
    } else {
      // {"log":"
      out[pos] = 0x7b;
      out[pos + 1] = 0x22;
      out[pos + 2] = 0x6c;
      out[pos + 3] = 0x6f;
      out[pos + 4] = 0x67;
      out[pos + 5] = 0x22;
      out[pos + 6] = 0x3a;
      out[pos + 7] = 0x22;
      pos = writeLogString(out, pos + 8, entry.buf, entry.lineStart, entry.lineEnd);
      if (withNewline) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      }
    }
    const src = entry.source;
    if (src === 'stdout' || src === 'stderr') {
      // One copy for everything from the log value's closing quote to the time's seconds.
      if (entry.timeSec !== this.tailSec) this.rebuildTails(entry.timeSec);
      const tail = src === 'stdout' ? this.stdoutTail : this.stderrTail;
      pos += tail.copy(out, pos);
      if (noLogKey) pos = this.fixupNoLog(out, start, pos);
      pos = writeFraction(out, pos, entry.timeNsec);
      // Z"}\n
      out[pos] = 0x5a;
      out[pos + 1] = 0x22;
      out[pos + 2] = 0x7d;
      out[pos + 3] = 0x0a;
      return pos + 4;
    }
    pos = this.writeOtherMiddle(out, pos, src);
    if (noLogKey) pos = this.fixupNoLog(out, start, pos);
    pos = this.timestamps.write(out, pos, entry.timeSec, entry.timeNsec);
    return copySmall(JsonFileEncoder.TIME_END, out, pos - 1);
  }

  private rebuildTails(sec: number): void {
    const date = Buffer.from(formatSecondsUtc(sec), 'latin1');
    this.stdoutTail = Buffer.concat([this.stdoutMiddle, date]);
    this.stderrTail = Buffer.concat([this.stderrMiddle, date]);
    this.tailSec = sec;
  }

  private writeOtherMiddle(out: Buffer, pos: number, src: string): number {
    const srcBuf = Buffer.from(src);
    out[pos++] = 0x22;
    if (src !== '') {
      pos += out.write(',"stream":"', pos, 'latin1');
      pos = writeLogString(out, pos, srcBuf, 0, srcBuf.length);
      out[pos++] = 0x22;
    }
    if (this.attrsJson !== null) pos += out.write(',"attrs":' + this.attrsJson, pos);
    pos += out.write(',"time":"', pos, 'latin1');
    return pos;
  }

  /** Rewrites `{"` + `,"stream"…` into `{"stream"…` for an entry without a log key. */
  private fixupNoLog(out: Buffer, start: number, pos: number): number {
    // After "{" we wrote `",` (end quote + comma) followed by the next key; remove those two bytes.
    out.copy(out, start + 1, start + 3, pos);
    return pos - 2;
  }
}
