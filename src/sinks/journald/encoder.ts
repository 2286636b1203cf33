import type { ContainerInfo } from '../../docker/container-info.js';
import type { FieldValue, LogEntry } from '../../docker/log-entry.js';
import { copySmall } from '../util/json-bytes.js';

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
 *
 * Filters (off the fast path): PRIORITY is entry.severity when it is 0..7 (else 6 / 3 by stream).
 * Each of entry.fields is a journal field named by sanitizeKeyMod (as Docker names labels and
 * env), its value as text (numbers as JS prints them, booleans true/false; the binary form when it
 * holds a newline), written after everything else in the fields object's order. A field replaces
 * an extra attribute of the same sanitised name (one field, not two); two keys that sanitise to
 * one name keep the later key's value. Skipped: names that sanitise to '' and the names the driver
 * owns — MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, IMAGE_NAME and every CONTAINER_* (ID, NAME, TAG,
 * PARTIAL_*…) — so a log line cannot forge them. (Journal-trusted `_` fields cannot arise: the
 * sanitiser strips leading underscores.)
 */

const PARTIAL_ID = 'CONTAINER_PARTIAL_ID';
const PARTIAL_ORDINAL = 'CONTAINER_PARTIAL_ORDINAL';
const PARTIAL_LAST = 'CONTAINER_PARTIAL_LAST';
const PARTIAL_MESSAGE = 'CONTAINER_PARTIAL_MESSAGE';

const PRIORITY_INFO = Buffer.from('PRIORITY=6\n');
const PRIORITY_ERR = Buffer.from('PRIORITY=3\n');
/** PRIORITY=0..7, by severity. */
const PRIORITIES = Array.from({ length: 8 }, (_, i) => Buffer.from(`PRIORITY=${i}\n`));
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

/** Whether a filter field may not use this (sanitised) name: the driver's own fields. */
export function reservedFieldName(name: string): boolean {
  return name === 'MESSAGE' || name === 'PRIORITY' || name === 'SYSLOG_IDENTIFIER' || name === 'IMAGE_NAME' || name.startsWith('CONTAINER_');
}

/** The journal name for a filter field's key: sanitizeKeyMod, or '' when the field is skipped. */
export function journaldFieldName(key: string): string {
  const name = sanitizeKeyMod(key);
  return reservedFieldName(name) ? '' : name;
}

/** A filter field's journal name, with the bytes that start it in each form. */
interface FieldName {
  name: string;
  /** `NAME=` */
  eq: Buffer;
  /** `NAME\n` (the binary form) */
  bin: Buffer;
}

/** Writes `NAME=value\n`, or the binary form when the value holds a newline, at pos. */
function writeField(out: Buffer, pos: number, f: FieldName, value: string): number {
  const n = value.length;
  if (n <= 48) {
    // Short ASCII without a newline (the usual value) by hand: cheaper than native calls.
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80 || c === 0x0a) break;
    }
    if (i === n) {
      pos = copySmall(f.eq, out, pos);
      for (let k = 0; k < n; k++) out[pos + k] = value.charCodeAt(k);
      pos += n;
      out[pos++] = 0x0a;
      return pos;
    }
  }
  if (value.indexOf('\n') < 0) {
    pos = copySmall(f.eq, out, pos);
    pos += out.write(value, pos, 'utf8');
  } else {
    pos = copySmall(f.bin, out, pos);
    const len = Buffer.byteLength(value, 'utf8');
    out.writeUInt32LE(len >>> 0, pos);
    out.writeUInt32LE(Math.floor(len / 0x1_0000_0000), pos + 4);
    pos += 8;
    pos += out.write(value, pos, 'utf8');
  }
  out[pos++] = 0x0a;
  return pos;
}

/** Sanitised names by key: filters use a handful of keys, so each is worked out once. */
const NAME_CACHE_MAX = 4096;

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
  /** The container's fields one by one, for entries whose filter fields replace some of them. */
  private readonly vars: Array<{ name: string; bytes: Buffer }> = [];
  private readonly varNames: Set<string>;
  private readonly names = new Map<string, FieldName | null>();
  private readonly scratchNames: FieldName[] = [];
  private readonly scratchValues: FieldValue[] = [];

  constructor(vars: Map<string, string>) {
    for (const [k, v] of vars) this.vars.push({ name: k, bytes: encodeField(k, v) });
    this.varNames = new Set(vars.keys());
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
    if (entry.fields !== null) {
      const fields = entry.fields;
      // a name has at most one character per UTF-16 unit; a value at most 3 bytes per unit
      for (const k of Object.keys(fields)) {
        const v = fields[k];
        n += k.length + 10 + (typeof v === 'string' ? v.length * 3 : 32);
      }
    }
    return n;
  }

  /** Writes the datagram for `entry` into out at pos (room for maxEncodedLength); returns the end. */
  encode(entry: LogEntry, out: Buffer, pos: number): number {
    const sev = entry.severity;
    if (sev >= 0 && sev <= 7) pos += PRIORITIES[sev | 0].copy(out, pos);
    else pos += (entry.source === 'stderr' ? PRIORITY_ERR : PRIORITY_INFO).copy(out, pos);
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
    if (entry.fields !== null) return this.encodeWithFields(entry, entry.fields, out, pos);
    if (!entry.partial) {
      pos += this.staticBlock.copy(out, pos);
      return pos;
    }
    pos += (entry.partialLast ? this.lastFragmentBlock : this.fragmentBlock).copy(out, pos);
    return this.writePartial(entry, out, pos);
  }

  /** After MESSAGE: the container's fields minus those the filter fields replace, partial fields, filter fields. */
  private encodeWithFields(entry: LogEntry, fields: Record<string, FieldValue>, out: Buffer, pos: number): number {
    // Scratch arrays kept on the encoder: no allocation per entry.
    const names = this.scratchNames;
    const values = this.scratchValues;
    let n = 0;
    let index: Map<string, number> | null = null;
    let overridden: Set<string> | null = null;
    const keys = Object.keys(fields);
    for (let k = 0; k < keys.length; k++) {
      const f = this.fieldName(keys[k]);
      if (f === null) continue;
      const value = fields[keys[k]];
      // A later key with the same name replaces the earlier one's value (a short scan, or a map
      // once there are many fields).
      let at = -1;
      if (index === null && n > 16) {
        index = new Map();
        for (let i = 0; i < n; i++) index.set(names[i].name, i);
      }
      if (index !== null) at = index.get(f.name) ?? -1;
      else for (let i = 0; i < n; i++) if (names[i].name === f.name) at = i;
      if (at >= 0) {
        values[at] = value;
        continue;
      }
      index?.set(f.name, n);
      names[n] = f;
      values[n] = value;
      n++;
      if (this.varNames.has(f.name)) (overridden ??= new Set()).add(f.name);
    }
    if (overridden === null) {
      if (!entry.partial) pos += this.staticBlock.copy(out, pos);
      else pos += (entry.partialLast ? this.lastFragmentBlock : this.fragmentBlock).copy(out, pos);
    } else {
      for (const v of this.vars) {
        if (overridden.has(v.name)) continue;
        // Partial pieces set these per entry (see the blocks in the constructor).
        if (entry.partial && (v.name === PARTIAL_ID || v.name === PARTIAL_ORDINAL || v.name === PARTIAL_LAST || (!entry.partialLast && v.name === PARTIAL_MESSAGE))) continue;
        pos += v.bytes.copy(out, pos);
      }
    }
    if (entry.partial) pos = this.writePartial(entry, out, pos);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      pos = writeField(out, pos, names[i], typeof v === 'string' ? v : String(v));
    }
    // Do not keep values alive past the call.
    values.fill(0, 0, n);
    return pos;
  }

  private fieldName(key: string): FieldName | null {
    let f = this.names.get(key);
    if (f === undefined) {
      if (this.names.size >= NAME_CACHE_MAX) this.names.clear();
      const name = journaldFieldName(key);
      f = name === '' ? null : { name, eq: Buffer.from(name + '=', 'latin1'), bin: Buffer.from(name + '\n', 'latin1') };
      this.names.set(key, f);
    }
    return f;
  }

  /** CONTAINER_PARTIAL_ID, _ORDINAL, _LAST (and _MESSAGE for a piece that is not the last). */
  private writePartial(entry: LogEntry, out: Buffer, pos: number): number {
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
