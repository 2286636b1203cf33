import type { LogEntry } from '../../docker/log-entry.js';
import { TimestampWriter } from '../../docker/timestamp.js';
import { maxEscapedLength, writeLogString } from './escape.js';

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
  private static readonly LOG_KEY = Buffer.from('{"log":"');
  private static readonly TIME_END = Buffer.from('"}\n');

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
    return maxEscapedLength(entry.line.length) + 2 + 64 + attrsLength + 40 + entry.source.length * 6;
  }

  get attrsLength(): number {
    return this.attrsJson === null ? 0 : Buffer.byteLength(this.attrsJson);
  }

  /** Writes one encoded entry at pos; `out` must hold maxEncodedLength bytes there. Returns the new position. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    const line = entry.line;
    const withNewline = !entry.partial || entry.partialLast;
    const start = pos;
    const noLogKey = line.length === 0 && !withNewline;
    if (noLogKey) {
      // moby omits the "log" key when the value is empty (only possible for a non-last fragment).
      out[pos++] = 0x7b; // {
    } else {
      pos += JsonFileEncoder.LOG_KEY.copy(out, pos);
      pos = writeLogString(out, pos, line, 0, line.length);
      if (withNewline) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      }
    }
    const src = entry.source;
    if (src === 'stdout') pos += this.stdoutMiddle.copy(out, pos);
    else if (src === 'stderr') pos += this.stderrMiddle.copy(out, pos);
    else pos = this.writeOtherMiddle(out, pos, src);
    if (noLogKey) pos = this.fixupNoLog(out, start, pos);
    pos = this.timestamps.write(out, pos, entry.timeSec, entry.timeNsec);
    pos += JsonFileEncoder.TIME_END.copy(out, pos);
    return pos;
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
