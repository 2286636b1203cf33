import { z } from 'zod';
import { compileSafeRegex } from './safe-regex.js';

/**
 * Shared by the filter factories' `parseOptions`: validates a plain config object with a zod
 * schema and turns the first problem into an Error whose message starts with `where`, names the
 * offending key and ends with the form that was expected, e.g.
 *
 *   pipeline.yaml: rules[0].filters[1]: stream: Invalid option: expected one of "stdout"|"stderr"
 *   (expected {type: "exclude", pattern?: string, flags?: string, field?: string, stream?: "stdout"|"stderr"})
 */
export class FilterConfigError extends Error {
  override name = 'FilterConfigError';
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

export function parseWith<T>(schema: z.ZodType<T>, raw: unknown, where: string, expected: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = formatPath(issue.path);
  throw new FilterConfigError(`${where}: ${path === '' ? '' : `${path}: `}${issue.message} (expected ${expected})`);
}

/**
 * Regex flags a user may give: i, m and s. Not g/y (they make `test` stateful), and not u: V8's
 * linear-time engine, which compileSafeRegex relies on, supports neither u nor i. `i` is provided
 * by rewriting the pattern (see foldCase).
 */
export const FLAGS = z.string().regex(/^(?!.*(.).*\1)[ims]*$/, 'flags may only be i, m and s, each at most once');

/**
 * Compiles a user pattern through compileSafeRegex, naming the option in errors. With the `i`
 * flag the pattern is first checked as written, then compiled case-folded (foldCase), because
 * V8's linear-time engine cannot run /i.
 */
export function userRegex(pattern: string, flags: string, where: string, key: string): RegExp {
  const at = `${where}: ${key}`;
  if (!flags.includes('i')) return compileSafeRegex(pattern, flags, at);
  const rest = flags.replace('i', '');
  compileSafeRegex(pattern, rest, at);
  return compileSafeRegex(foldCase(pattern), rest, at);
}

/** The other case of a one-character string, or '' when it has none (or it is not one character). */
function otherCase(ch: string): string {
  const up = ch.toUpperCase();
  if (up !== ch && up.length === 1) return up;
  const low = ch.toLowerCase();
  if (low !== ch && low.length === 1) return low;
  return '';
}

function escapeInClass(ch: string): string {
  if (ch === '') return '';
  return /[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * Rewrites a pattern so that it matches as with /i, without the flag: every letter outside a class
 * becomes `[xX]`, and every class gets the other case of the letters (and letter ranges) it lists.
 * Escapes (`\d`, `\w`, `\x41`, `\.`), group syntax (`(?:`, `(?<name>`, lookaround) and quantifier
 * braces are kept as written.
 */
export function foldCase(pattern: string): string {
  let out = '';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const ch = pattern[i];
    if (ch === '\\') {
      const len = pattern[i + 1] === 'c' ? 3 : 2; // \cX: a control character, X is not a letter to fold
      out += pattern.slice(i, i + len);
      i += len;
      continue;
    }
    if (ch === '(' && pattern[i + 1] === '?') {
      // (?:  (?=  (?!  (?<=  (?<!  (?<name>
      if (pattern[i + 2] === '<' && pattern[i + 3] !== '=' && pattern[i + 3] !== '!') {
        const close = pattern.indexOf('>', i);
        const end = close < 0 ? n : close + 1;
        out += pattern.slice(i, end);
        i = end;
      } else {
        const len = pattern[i + 2] === '<' ? 4 : 3;
        out += pattern.slice(i, i + len);
        i += len;
      }
      continue;
    }
    if (ch === '[') {
      // A class: `[]` matches nothing and `[^]` anything in JS; a leading ']' is not literal.
      let j = i + 1;
      let body = '';
      let extra = '';
      if (pattern[j] === '^') {
        body += '^';
        j++;
      }
      const atomAt = (k: number): string => (pattern[k] === '\\' ? pattern.slice(k, pattern[k + 1] === 'c' ? k + 3 : k + 2) : pattern[k]);
      while (j < n && pattern[j] !== ']') {
        const lo = atomAt(j);
        j += lo.length;
        if (pattern[j] === '-' && j + 1 < n && pattern[j + 1] !== ']') {
          const hi = atomAt(j + 1);
          j += 1 + hi.length;
          body += `${lo}-${hi}`;
          if (lo.length === 1 && hi.length === 1) {
            const a = lo.charCodeAt(0);
            const z = hi.charCodeAt(0);
            if (z >= a && z - a <= 512) {
              for (let c = a; c <= z; c++) {
                const o = otherCase(String.fromCharCode(c));
                if (o !== '' && (o.charCodeAt(0) < a || o.charCodeAt(0) > z)) extra += escapeInClass(o);
              }
            }
          }
          continue;
        }
        // A literal '-' is escaped so that what is appended cannot turn it into a range.
        body += lo === '-' ? '\\-' : lo;
        if (lo.length === 1) extra += escapeInClass(otherCase(lo));
      }
      out += `[${body}${extra}]`;
      i = j + 1;
      continue;
    }
    if (ch === '{') {
      // a quantifier {n}, {n,}, {n,m}: digits and a comma
      const m = /^\{\d+(?:,\d*)?\}/.exec(pattern.slice(i, i + 24));
      if (m !== null) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const o = otherCase(ch);
    out += o === '' ? ch : `[${ch}${o}]`;
    i++;
  }
  return out;
}

/** Monotonic milliseconds (performance.now); filters take a `now` option so tests control time. */
export type Clock = () => number;
export const monotonicMs: Clock = () => performance.now();
