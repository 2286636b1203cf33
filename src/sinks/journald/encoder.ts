import type { ContainerInfo } from '../../docker/container-info.js';
import type { LogEntry } from '../../docker/log-entry.js';

/**
 * The journal's native protocol as Docker v20.10.24 speaks it (moby daemon/logger/journald/
 * journald.go + vendored github.com/coreos/go-systemd/v22/journal.Send): one datagram per entry,
 *
 *   PRIORITY=<6 stdout | 3 stderr>\n  MESSAGE=<line>\n  <the container's vars>  <partial fields>
 *
 * and each field `NAME=value\n`, or, when the value contains a newline, `NAME\n` + the value's
 * length as a 64-bit little-endian integer + the value + `\n`.
 *
 * Docker keeps the container's fields in a Go map, so after PRIORITY and MESSAGE their order is
 * random per message; here it is fixed: CONTAINER_ID, CONTAINER_ID_FULL, CONTAINER_NAME,
 * CONTAINER_TAG, IMAGE_NAME, SYSLOG_IDENTIFIER, the extra attributes, then the partial fields.
 * Map semantics are kept: an extra attribute whose sanitised name equals a built-in field replaces
 * its value (one field, not two), the partial fields replace an extra attribute of the same name,
 * and an extra named PRIORITY or MESSAGE is sent a second time, as Docker does.
 */

const PARTIAL_ID = 'CONTAINER_PARTIAL_ID';
const PARTIAL_ORDINAL = 'CONTAINER_PARTIAL_ORDINAL';
const PARTIAL_LAST = 'CONTAINER_PARTIAL_LAST';
const PARTIAL_MESSAGE = 'CONTAINER_PARTIAL_MESSAGE';

const PRIORITY_INFO = Buffer.from('PRIORITY=6\n');
const PRIORITY_ERR = Buffer.from('PRIORITY=3\n');
const MESSAGE_EQ = Buffer.from('MESSAGE=');
const MESSAGE_NL = Buffer.from('MESSAGE\n');
const PARTIAL_ID_EQ = Buffer.from(`${PARTIAL_ID}=`);
const PARTIAL_ORDINAL_EQ = Buffer.from(`${PARTIAL_ORDINAL}=`);
const PARTIAL_LAST_TRUE = Buffer.from(`${PARTIAL_LAST}=true\n`);
const PARTIAL_LAST_FALSE = Buffer.from(`${PARTIAL_LAST}=false\n`);
const PARTIAL_MESSAGE_TRUE = Buffer.from(`${PARTIAL_MESSAGE}=true\n`);

/**
 * journald.go sanitizeKeyMod: a-z upper-cased, every other rune outside [A-Z0-9] becomes `_`, and
 * underscores are skipped while nothing has been written yet (so the name never starts with one).
 * Go iterates runes; a JS string's code points are the same runes.
 */
export function sanitizeKeyMod(s: string): string {
  let n = '';
  for (const ch of s) {
    let v = ch;
    const c = ch.codePointAt(0)!;
    if (c >= 0x61 && c <= 0x7a) v = String.fromCharCode(c - 32);
    else if ((c > 0x5a || c < 0x41) && (c > 0x39 || c < 0x30)) v = '_';
    if (!(n === '' && v === '_')) n += v;
  }
  return n;
}

/** go-systemd appendVariable, for a name and value given as strings (Go strings are UTF-8 bytes). */
export function encodeField(name: string, value: string | Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const valueBytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (valueBytes.indexOf(0x0a) < 0) {
    return Buffer.concat([nameBytes, Buffer.from('='), valueBytes, Buffer.from('\n')]);
  }
  const len = Buffer.allocUnsafe(8);
  len.writeBigUInt64LE(BigInt(valueBytes.length), 0);
  return Buffer.concat([nameBytes, Buffer.from('\n'), len, valueBytes, Buffer.from('\n')]);
}

/**
 * journald.go New(): the fields every entry of the container carries, in a stable order, with
 * the extra attributes (already computed from labels/env options) merged in under sanitised names.
 */
export function containerVars(info: ContainerInfo, tag: string, extra: Record<string, string>): Map<string, string> {
  const vars = new Map<string, string>();
  vars.set('CONTAINER_ID', info.ContainerID.slice(0, 12));
  vars.set('CONTAINER_ID_FULL', info.ContainerID);
  vars.set('CONTAINER_NAME', info.ContainerName.startsWith('/') ? info.ContainerName.slice(1) : info.ContainerName);
  vars.set('CONTAINER_TAG', tag);
  vars.set('IMAGE_NAME', info.ContainerImageName);
  vars.set('SYSLOG_IDENTIFIER', tag);
  // Info.ExtraAttributes(sanitizeKeyMod): keys are sanitised as the map is built, later ones win.
  for (const [k, v] of Object.entries(extra)) vars.set(sanitizeKeyMod(k), v);
  return vars;
}

function encodeVars(vars: Map<string, string>, without: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of vars) if (!without.includes(k)) parts.push(encodeField(k, v));
  return Buffer.concat(parts);
}

/** Encodes entries into native-protocol datagrams for one container. */
export class JournaldEncoder {
  /** The container's fields for a whole line. */
  private readonly staticBlock: Buffer;
  /** The same without the fields a closing fragment sets (ID, ORDINAL, LAST). */
  private readonly lastFragmentBlock: Buffer;
  /** The same without the fields a non-closing fragment sets (ID, ORDINAL, LAST, MESSAGE). */
  private readonly fragmentBlock: Buffer;

  constructor(vars: Map<string, string>) {
    this.staticBlock = encodeVars(vars, []);
    this.lastFragmentBlock = encodeVars(vars, [PARTIAL_ID, PARTIAL_ORDINAL, PARTIAL_LAST]);
    this.fragmentBlock = encodeVars(vars, [PARTIAL_ID, PARTIAL_ORDINAL, PARTIAL_LAST, PARTIAL_MESSAGE]);
  }

  /** Bytes of the per-container fields, the size every datagram of this container starts from. */
  get staticLength(): number {
    return this.staticBlock.length;
  }

  /** An upper bound on encode()'s output for this entry. */
  maxEncodedLength(entry: LogEntry): number {
    let n = PRIORITY_INFO.length + MESSAGE_NL.length + 8 + entry.lineLength + 1 + this.staticBlock.length;
    // the partial ID arrives as a latin1 string from the decoder: one byte per char
    if (entry.partial) n += PARTIAL_ID_EQ.length + 8 + entry.partialId.length + 1 + PARTIAL_ORDINAL_EQ.length + 12 + PARTIAL_LAST_FALSE.length + PARTIAL_MESSAGE_TRUE.length;
    return n;
  }

  /** Writes the datagram for `entry` into out at pos (room for maxEncodedLength); returns the end. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    pos += (entry.source === 'stderr' ? PRIORITY_ERR : PRIORITY_INFO).copy(out, pos);
    const buf = entry.buf;
    const start = entry.lineStart;
    const end = entry.lineEnd;
    // Docker's lines never hold a newline (the copier splits on them), but a value that does is
    // sent in the binary form. indexOf stops at the first newline at or after the line.
    const nl = start < end ? buf.indexOf(0x0a, start) : -1;
    if (nl >= 0 && nl < end) {
      pos += MESSAGE_NL.copy(out, pos);
      out.writeUInt32LE((end - start) >>> 0, pos);
      out.writeUInt32LE(Math.floor((end - start) / 0x1_0000_0000), pos + 4);
      pos += 8;
    } else {
      pos += MESSAGE_EQ.copy(out, pos);
    }
    if (end - start >= 64) pos += buf.copy(out, pos, start, end);
    else for (let i = start; i < end; i++) out[pos++] = buf[i];
    out[pos++] = 0x0a;
    if (!entry.partial) {
      pos += this.staticBlock.copy(out, pos);
      return pos;
    }
    pos += (entry.partialLast ? this.lastFragmentBlock : this.fragmentBlock).copy(out, pos);
    const id = entry.partialId;
    if (id.indexOf('\n') >= 0) {
      pos += encodeField(PARTIAL_ID, Buffer.from(id, 'latin1')).copy(out, pos);
    } else {
      pos += PARTIAL_ID_EQ.copy(out, pos);
      pos += out.write(id, pos, 'latin1');
      out[pos++] = 0x0a;
    }
    pos += PARTIAL_ORDINAL_EQ.copy(out, pos);
    pos += out.write(String(entry.partialOrdinal), pos, 'latin1');
    out[pos++] = 0x0a;
    if (entry.partialLast) {
      pos += PARTIAL_LAST_TRUE.copy(out, pos);
    } else {
      pos += PARTIAL_LAST_FALSE.copy(out, pos);
      pos += PARTIAL_MESSAGE_TRUE.copy(out, pos);
    }
    return pos;
  }
}
