/**
 * The parsers Docker applies to log-opt values, with their semantics and error texts:
 * go-units FromHumanSize / RAMInBytes, strconv.Atoi, strconv.ParseBool.
 */

const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

export class GoParseError extends Error {
  override name = 'GoParseError';
}

/** go-units v0.5 parseSize. Returns bytes, truncated toward zero like int64(float). */
function parseSize(text: string, units: Record<string, number>): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(text[i])) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new GoParseError(`invalid size: '${text}'`);
  let num: string;
  let sfx: string;
  if (text[sep] !== ' ') {
    num = text.slice(0, sep + 1);
    sfx = text.slice(sep + 1);
  } else {
    num = text.slice(0, sep);
    sfx = text.slice(sep + 1);
  }
  let size = parseGoFloat(num);
  if (size < 0) throw new GoParseError(`invalid size: '${text}'`);
  if (sfx.length === 0) return Math.trunc(size);
  if (sfx.length > 3) throw new GoParseError(`invalid suffix: '${sfx}'`);
  const lower = sfx.toLowerCase();
  if (lower[0] === 'b') {
    if (lower.length > 1) throw new GoParseError(`invalid suffix: '${lower}'`);
    return Math.trunc(size);
  }
  const mul = units[lower[0]];
  if (mul === undefined) throw new GoParseError(`invalid suffix: '${lower}'`);
  size *= mul;
  if ((lower.length === 2 && lower[1] !== 'b') || (lower.length === 3 && lower.slice(1) !== 'ib')) {
    throw new GoParseError(`invalid suffix: '${lower}'`);
  }
  return Math.trunc(size);
}

/** strconv.ParseFloat for the plain decimal forms a size can take. */
function parseGoFloat(num: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new GoParseError(`strconv.ParseFloat: parsing "${num}": invalid syntax`);
  }
  return Number(num);
}

/** units.FromHumanSize: decimal multipliers (k = 1000). Used by json-file's max-size. */
export function fromHumanSize(text: string): number {
  return parseSize(text, DECIMAL);
}

/** units.RAMInBytes: binary multipliers (k = 1024). Used by max-buffer-size. */
export function ramInBytes(text: string): number {
  return parseSize(text, BINARY);
}

/** strconv.Atoi. */
export function atoi(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new GoParseError(`strconv.Atoi: parsing "${text}": invalid syntax`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new GoParseError(`strconv.Atoi: parsing "${text}": value out of range`);
  return n;
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool. */
export function parseBool(text: string): boolean {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new GoParseError(`strconv.ParseBool: parsing "${text}": invalid syntax`);
}
