import os from 'node:os';
import type { ContainerInfo } from '../../docker/container-info.js';
import type { LogEntry } from '../../docker/log-entry.js';
import { extraAttributes } from '../../docker/extra-attributes.js';
import { renderTag, DEFAULT_TAG_TEMPLATE } from '../../docker/tag-template.js';
import { goJsonFloat, goJsonString, goJsonStringMap, writeGoJsonString } from '../util/go-json.js';
import { maxJsonEscapedLength } from '../util/json-bytes.js';

/** info.Command(): the entrypoint and the arguments joined by spaces. */
function infoCommand(info: ContainerInfo): string {
  return [info.ContainerEntrypoint ?? '', ...(info.ContainerArgs ?? [])].join(' ');
}

/**
 * The `_`-prefixed fields Docker's gelf driver adds to every message (moby daemon/logger/gelf/
 * gelf.go New): a map of the fixed fields overlaid with the extra attributes (a label or env
 * called `container_id` replaces `_container_id`, as in Docker), json.Marshal'ed once.
 */
export function gelfExtraFields(info: ContainerInfo, raw: Record<string, string>): Record<string, string> {
  const tag = renderTag(raw['tag'] ?? '', info, DEFAULT_TAG_TEMPLATE);
  const extra: Record<string, string> = {
    _container_id: info.ContainerID,
    _container_name: info.ContainerName.replace(/^\//, ''),
    _image_id: info.ContainerImageID,
    _image_name: info.ContainerImageName,
    _command: infoCommand(info),
    _tag: tag,
    _created: info.ContainerCreated,
  };
  for (const [k, v] of Object.entries(extraAttributes(info, raw))) {
    extra[k.startsWith('_') ? k : '_' + k] = v;
  }
  return extra;
}

/**
 * GELF payloads as go-gelf's Message.MarshalJSONBuf writes them for Docker:
 *   {"version":"1.1","host":H,"short_message":M,"timestamp":T,"level":L,<extras sorted>}
 * (full_message and facility are empty and omitted). Everything but the line and the timestamp is
 * precomputed, so encoding is two copies, one escape and a number.
 */
export class GelfEncoder {
  private readonly head: Buffer;
  private readonly tailStdout: Buffer;
  private readonly tailStderr: Buffer;
  private readonly maxFixed: number;
  private static readonly MID = Buffer.from('","timestamp":');

  constructor(
    hostname: string,
    extra: Record<string, string>,
    /** Appended after each message (TCP framing: a NUL byte). */
    readonly terminator: Buffer = Buffer.alloc(0),
  ) {
    this.head = Buffer.from(`{"version":"1.1","host":${goJsonString(hostname)},"short_message":"`);
    const rawExtra = goJsonStringMap(extra);
    const inner = rawExtra.length > 2 ? ',' + rawExtra.slice(1, -1) : '';
    this.tailStdout = Buffer.concat([Buffer.from(`,"level":6${inner}}`), terminator]);
    this.tailStderr = Buffer.concat([Buffer.from(`,"level":3${inner}}`), terminator]);
    // head + mid + a timestamp (at most 24 characters) + the longer tail
    this.maxFixed = this.head.length + GelfEncoder.MID.length + 32 + Math.max(this.tailStdout.length, this.tailStderr.length);
  }

  static forContainer(info: ContainerInfo, raw: Record<string, string>, terminator?: Buffer, hostname: string = os.hostname()): GelfEncoder {
    return new GelfEncoder(hostname, gelfExtraFields(info, raw), terminator);
  }

  /** Upper bound on encode()'s output for this entry. */
  maxEncodedLength(entry: LogEntry): number {
    return this.maxFixed + maxJsonEscapedLength(entry.lineEnd - entry.lineStart);
  }

  /** Writes the message into out at pos (room: maxEncodedLength) and returns the end position. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    pos += this.head.copy(out, pos);
    pos = writeGoJsonString(out, pos, entry.buf, entry.lineStart, entry.lineEnd);
    pos += GelfEncoder.MID.copy(out, pos);
    pos = writeGelfTimestamp(out, pos, entry.timeSec, entry.timeNsec);
    const tail = entry.source === 'stderr' ? this.tailStderr : this.tailStdout;
    pos += tail.copy(out, pos);
    return pos;
  }

  /** Encodes one entry into a fresh Buffer (tests, tools). */
  encodeToBuffer(entry: LogEntry): Buffer {
    const out = Buffer.allocUnsafe(this.maxEncodedLength(entry));
    return out.subarray(0, this.encode(entry, out, 0));
  }
}

/**
 * Docker's `float64(t.UnixNano()/int64(time.Millisecond)) / 1000.0`: whole milliseconds
 * (truncated toward zero) divided by 1000 in floating point.
 */
export function gelfTimestamp(sec: number, nsec: number): number {
  let ms: number;
  if (sec >= 0) ms = sec * 1000 + Math.floor(nsec / 1_000_000);
  else ms = sec * 1000 + Math.ceil(nsec / 1_000_000);
  return ms / 1000;
}

const DIGITS = Buffer.from('0123456789');

/**
 * Writes gelfTimestamp(sec, nsec) as Go's encoding/json prints that float64, without making a
 * string: for 0 <= sec < 1e11 the shortest round-trip form of ms/1000 is the seconds, then '.'
 * and the milliseconds without trailing zeros (a float64 near 1e11 still resolves 1e-5, so no
 * shorter decimal maps to the same value). Other times go through goJsonFloat.
 */
export function writeGelfTimestamp(out: Buffer, pos: number, sec: number, nsec: number): number {
  if (!(sec >= 0 && sec < 1e11)) return pos + out.write(goJsonFloat(gelfTimestamp(sec, nsec)), pos, 'latin1');
  let digits = 1;
  for (let p = 10; p <= sec; p *= 10) digits++;
  let v = sec;
  for (let i = digits - 1; i >= 0; i--) {
    out[pos + i] = DIGITS[v % 10];
    v = Math.floor(v / 10);
  }
  pos += digits;
  let ms = Math.floor(nsec / 1_000_000);
  if (ms === 0) return pos;
  out[pos++] = 0x2e;
  out[pos++] = DIGITS[Math.floor(ms / 100)];
  ms %= 100;
  if (ms === 0) return pos;
  out[pos++] = DIGITS[Math.floor(ms / 10)];
  ms %= 10;
  if (ms === 0) return pos;
  out[pos++] = DIGITS[ms];
  return pos;
}
