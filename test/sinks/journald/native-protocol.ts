/**
 * A strict parser for journald's native protocol (systemd journald-native.c), for tests: fields
 * `NAME=value\n`, or `NAME\n` + 64-bit little-endian length + value + `\n`. Returns the fields in
 * order, values as bytes.
 */
export type NativeField = [name: string, value: Buffer];

export function parseNative(buf: Buffer): NativeField[] {
  const out: NativeField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`field at ${pos} without newline`);
    const eq = buf.indexOf(0x3d, pos);
    if (eq >= 0 && eq < nl) {
      out.push([buf.toString('latin1', pos, eq), Buffer.from(buf.subarray(eq + 1, nl))]);
      pos = nl + 1;
      continue;
    }
    const name = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    if (pos + 8 > buf.length) throw new Error(`binary field ${name}: truncated length`);
    const len = Number(buf.readBigUInt64LE(pos));
    pos += 8;
    if (pos + len + 1 > buf.length) throw new Error(`binary field ${name}: value overruns`);
    if (buf[pos + len] !== 0x0a) throw new Error(`binary field ${name}: no newline after value`);
    out.push([name, Buffer.from(buf.subarray(pos, pos + len))]);
    pos += len + 1;
  }
  return out;
}

/** Fields as name → value (utf8), for assertions where names are unique. */
export function fieldsObject(fields: NativeField[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of fields) o[k] = v.toString('utf8');
  return o;
}
