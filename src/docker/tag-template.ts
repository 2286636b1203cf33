/**
 * Docker's log `tag` option: a Go text/template executed against the logger Info, exactly as moby's
 * daemon/logger/loggerutils/log_tag.go (ParseLogTag), daemon/logger/templates/templates.go (the extra
 * functions) and daemon/logger/loginfo.go (the Info methods) do.
 *
 * The lexer, parser and evaluator below follow Go's text/template (lex.go, parse.go, exec.go, funcs.go)
 * closely, including their error texts, so a tag that works with Docker's own drivers renders the same
 * here, and a tag that Docker rejects is rejected here with the same message. Values are modelled after
 * the Go types of logger.Info: string, []string (GoSlice), map[string]string (GoMap), time.Time (GoTime),
 * *logger.Info (InfoRef), plus the int / float64 / bool values that literals and builtins produce.
 */
import { hostname as osHostname } from 'node:os';
import type { ContainerInfo } from './container-info.js';

/** The template name Docker gives the tag template; it appears in every error message. */
const NAME = 'log-tag';

/** loggerutils.DefaultTemplate: what most drivers pass as `defaultTemplate`. */
export const DEFAULT_TAG_TEMPLATE = '{{.ID}}';

export class TagTemplateError extends Error {
  override name = 'TagTemplateError';
}

export type TagRenderer = (info: ContainerInfo, hostname?: string) => string;

// ---------------------------------------------------------------------------------------------------
// Go string helpers. Go strings are bytes; JS strings are UTF-16. Lengths, truncation and indexing
// count UTF-8 bytes like Go does.
// ---------------------------------------------------------------------------------------------------

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
/** Bytes back to a string; a sequence cut in the middle becomes U+FFFD (Go would keep the raw bytes). */
const fromUtf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** strings.Compare: byte-wise (UTF-8) order, which is also the order fmt and encoding/json sort map keys in. */
function compareGo(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(utf8(a), utf8(b));
}

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isPrint(r: number): boolean {
  if (r === 0x20) return true;
  if (r < 0 || r > 0x10ffff) return false;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(r));
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** strconv.Quote / %q for strings. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, '"');
  return out + '"';
}

function escapeRune(r: number, quote: string): string {
  const ch = String.fromCodePoint(r);
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (r >= 0xd800 && r <= 0xdfff) return '\ufffd';
  if (isPrint(r)) return ch;
  switch (r) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return '\\x' + hex(r, 2);
  if (r < 0x10000) return '\\u' + hex(r, 4);
  return '\\U' + hex(r, 8);
}

/** %#U, used by the lexer's "bad character" messages: U+002D '-'. */
function fmtU(r: number): string {
  const code = 'U+' + r.toString(16).toUpperCase().padStart(4, '0');
  return isPrint(r) ? `${code} '${String.fromCodePoint(r)}'` : code;
}

/** %.Nq: quote the first n runes. */
function quotePrefix(s: string, n: number): string {
  return goQuote(Array.from(s).slice(0, n).join(''));
}

// ---------------------------------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go), with the default delimiters and comments not emitted.
// ---------------------------------------------------------------------------------------------------

type ItemType =
  | 'error' | 'bool' | 'char' | 'charConstant' | 'complex' | 'assign' | 'declare' | 'eof' | 'field'
  | 'identifier' | 'leftDelim' | 'leftParen' | 'number' | 'pipe' | 'rawString' | 'rightDelim'
  | 'rightParen' | 'space' | 'string' | 'text' | 'variable'
  // Keywords; Go prints these as <val> in messages.
  | 'block' | 'break' | 'continue' | 'define' | 'dot' | 'else' | 'end' | 'if' | 'nil' | 'range'
  | 'template' | 'with';

const KEYWORDS: ReadonlyMap<string, ItemType> = new Map<string, ItemType>([
  ['.', 'dot'], ['block', 'block'], ['break', 'break'], ['continue', 'continue'], ['define', 'define'],
  ['else', 'else'], ['end', 'end'], ['if', 'if'], ['nil', 'nil'], ['range', 'range'],
  ['template', 'template'], ['with', 'with'],
]);
const KEYWORD_TYPES: ReadonlySet<ItemType> = new Set(KEYWORDS.values());

interface Item {
  typ: ItemType;
  val: string;
  pos: number; // UTF-16 index into the template
  line: number;
}

function itemString(i: Item): string {
  if (i.typ === 'eof') return 'EOF';
  if (i.typ === 'error') return i.val;
  if (KEYWORD_TYPES.has(i.typ)) return `<${i.val}>`;
  if (byteLength(i.val) > 10) return quotePrefix(i.val, 10) + '...';
  return goQuote(i.val);
}

const LEFT_DELIM = '{{';
const RIGHT_DELIM = '}}';
const EOF = -1;

const isSpace = (r: number): boolean => r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;
const isDigit = (r: number): boolean => r >= 0x30 && r <= 0x39;
function isAlphaNumeric(r: number): boolean {
  if (r === 0x5f) return true;
  if (r < 0) return false;
  if (r < 0x80) return isDigit(r) || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a);
  return /^[\p{L}\p{Nd}]$/u.test(String.fromCodePoint(r));
}

/** "{{- " : a minus and a space right after the left delimiter. */
const hasLeftTrimMarker = (s: string, i: number): boolean => s[i] === '-' && isSpace(s.charCodeAt(i + 1));
/** " -}}" : a space and a minus right before the right delimiter. */
const hasRightTrimMarker = (s: string, i: number): boolean => isSpace(s.charCodeAt(i)) && s[i + 1] === '-';

function leftTrimLength(s: string, from: number): number {
  let i = from;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i - from;
}

function rightTrimLength(s: string): number {
  let i = s.length;
  while (i > 0 && isSpace(s.charCodeAt(i - 1))) i--;
  return s.length - i;
}

type StateFn = (l: Lexer) => StateFn | null;

class Lexer {
  readonly items: Item[] = [];
  pos = 0;
  start = 0;
  private width = 0;
  parenDepth = 0;

  constructor(readonly input: string) {}

  run(): Item[] {
    let state: StateFn | null = lexText;
    while (state) state = state(this);
    return this.items;
  }

  next(): number {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    const r = this.input.codePointAt(this.pos)!;
    this.width = r > 0xffff ? 2 : 1;
    this.pos += this.width;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    this.pos -= this.width;
  }

  lineAt(pos: number): number {
    let line = 1;
    for (let i = this.input.indexOf('\n'); i !== -1 && i < pos; i = this.input.indexOf('\n', i + 1)) line++;
    return line;
  }

  emit(typ: ItemType): void {
    this.items.push({ typ, val: this.input.slice(this.start, this.pos), pos: this.start, line: this.lineAt(this.start) });
    this.start = this.pos;
  }

  ignore(): void {
    this.start = this.pos;
  }

  /** Emits an error item and stops lexing; the parser reports it when it reaches it. */
  errorf(message: string): null {
    const line = this.lineAt(this.start);
    this.items.push({ typ: 'error', val: message, pos: this.start, line });
    this.items.push({ typ: 'eof', val: '', pos: this.input.length, line });
    return null;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  acceptRun(valid: string): void {
    while (this.accept(valid));
  }

  atRightDelim(): { delim: boolean; trim: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith(RIGHT_DELIM, this.pos + 2)) {
      return { delim: true, trim: true };
    }
    if (this.input.startsWith(RIGHT_DELIM, this.pos)) return { delim: true, trim: false };
    return { delim: false, trim: false };
  }

  atTerminator(): boolean {
    const r = this.peek();
    if (isSpace(r) || r === EOF) return true;
    if ('.,|:()'.includes(String.fromCodePoint(r))) return true;
    return this.input.startsWith(RIGHT_DELIM, this.pos);
  }

  scanNumber(): boolean {
    this.accept('+-');
    let digits = '0123456789_';
    if (this.accept('0')) {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (digits.length === 11 && this.accept('eE')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    if (digits.length === 23 && this.accept('pP')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    this.accept('i');
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }
}

function lexText(l: Lexer): StateFn | null {
  const x = l.input.indexOf(LEFT_DELIM, l.pos);
  if (x < 0) {
    l.pos = l.input.length;
    if (l.pos > l.start) l.emit('text');
    l.emit('eof');
    return null;
  }
  if (x > l.pos) {
    l.pos = x;
    const trim = hasLeftTrimMarker(l.input, x + LEFT_DELIM.length) ? rightTrimLength(l.input.slice(l.start, l.pos)) : 0;
    l.pos -= trim;
    if (l.pos > l.start) l.emit('text');
    l.pos += trim;
    l.ignore();
  }
  return lexLeftDelim;
}

function lexLeftDelim(l: Lexer): StateFn | null {
  l.pos += LEFT_DELIM.length;
  const afterMarker = hasLeftTrimMarker(l.input, l.pos) ? 2 : 0;
  if (l.input.startsWith('/*', l.pos + afterMarker)) {
    l.pos += afterMarker;
    l.ignore();
    return lexComment;
  }
  l.emit('leftDelim');
  l.pos += afterMarker;
  l.ignore();
  l.parenDepth = 0;
  return lexInsideAction;
}

function lexComment(l: Lexer): StateFn | null {
  l.pos += 2;
  const x = l.input.indexOf('*/', l.pos);
  if (x < 0) return l.errorf('unclosed comment');
  l.pos = x + 2;
  const { delim, trim } = l.atRightDelim();
  if (!delim) return l.errorf('comment ends before closing delimiter');
  if (trim) l.pos += 2;
  l.pos += RIGHT_DELIM.length;
  if (trim) l.pos += leftTrimLength(l.input, l.pos);
  l.ignore();
  return lexText;
}

function lexRightDelim(l: Lexer): StateFn | null {
  const { trim } = l.atRightDelim();
  if (trim) {
    l.pos += 2;
    l.ignore();
  }
  l.pos += RIGHT_DELIM.length;
  l.emit('rightDelim');
  if (trim) {
    l.pos += leftTrimLength(l.input, l.pos);
    l.ignore();
  }
  return lexText;
}

function lexInsideAction(l: Lexer): StateFn | null {
  if (l.atRightDelim().delim) {
    if (l.parenDepth === 0) return lexRightDelim;
    return l.errorf('unclosed left paren');
  }
  const r = l.next();
  if (r === EOF) return l.errorf('unclosed action');
  if (isSpace(r)) {
    l.backup(); // Put the space back in case we have " -}}".
    return lexSpace;
  }
  const c = String.fromCodePoint(r);
  switch (c) {
    case '=':
      l.emit('assign');
      return lexInsideAction;
    case ':':
      if (l.next() !== 0x3d) return l.errorf('expected :=');
      l.emit('declare');
      return lexInsideAction;
    case '|':
      l.emit('pipe');
      return lexInsideAction;
    case '"':
      return lexQuote;
    case '`':
      return lexRawQuote;
    case '$':
      return lexVariable;
    case "'":
      return lexChar;
    case '(':
      l.parenDepth++;
      l.emit('leftParen');
      return lexInsideAction;
    case ')':
      l.parenDepth--;
      if (l.parenDepth < 0) return l.errorf('unexpected right paren');
      l.emit('rightParen');
      return lexInsideAction;
    case '.':
      // ".field", unless a digit follows: then it is a number like .5
      if (l.pos < l.input.length && !isDigit(l.input.charCodeAt(l.pos))) return lexField;
      l.backup();
      return lexNumber;
  }
  if (c === '+' || c === '-' || isDigit(r)) {
    l.backup();
    return lexNumber;
  }
  if (isAlphaNumeric(r)) {
    l.backup();
    return lexIdentifier;
  }
  if (r < 0x80 && isPrint(r)) {
    l.emit('char');
    return lexInsideAction;
  }
  return l.errorf(`unrecognized character in action: ${fmtU(r)}`);
}

function lexSpace(l: Lexer): StateFn | null {
  let numSpaces = 0;
  while (isSpace(l.peek())) {
    l.next();
    numSpaces++;
  }
  // A trim-marked closing delimiter has a minus after a space: leave that space for the delimiter.
  if (hasRightTrimMarker(l.input, l.pos - 1) && l.input.startsWith(RIGHT_DELIM, l.pos + 1)) {
    l.pos--;
    if (numSpaces === 1) return lexRightDelim;
  }
  l.emit('space');
  return lexInsideAction;
}

function lexIdentifier(l: Lexer): StateFn | null {
  let r: number;
  do r = l.next();
  while (isAlphaNumeric(r));
  l.backup();
  const word = l.input.slice(l.start, l.pos);
  if (!l.atTerminator()) return l.errorf(`bad character ${fmtU(r)}`);
  const keyword = KEYWORDS.get(word);
  if (keyword) l.emit(keyword);
  else if (word === 'true' || word === 'false') l.emit('bool');
  else l.emit('identifier');
  return lexInsideAction;
}

const lexField: StateFn = (l) => lexFieldOrVariable(l, 'field');
const lexVariable: StateFn = (l) => lexFieldOrVariable(l, 'variable');

function lexFieldOrVariable(l: Lexer, typ: 'field' | 'variable'): StateFn | null {
  if (l.atTerminator()) {
    // Nothing interesting follows: "." or "$".
    l.emit(typ === 'variable' ? 'variable' : 'dot');
    return lexInsideAction;
  }
  let r: number;
  do r = l.next();
  while (isAlphaNumeric(r));
  l.backup();
  if (!l.atTerminator()) return l.errorf(`bad character ${fmtU(r)}`);
  l.emit(typ);
  return lexInsideAction;
}

function lexChar(l: Lexer): StateFn | null {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== EOF && r !== 0x0a) continue;
    }
    if (r === EOF || r === 0x0a) return l.errorf('unterminated character constant');
    if (r === 0x27) break;
  }
  l.emit('charConstant');
  return lexInsideAction;
}

function lexQuote(l: Lexer): StateFn | null {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== EOF && r !== 0x0a) continue;
    }
    if (r === EOF || r === 0x0a) return l.errorf('unterminated quoted string');
    if (r === 0x22) break;
  }
  l.emit('string');
  return lexInsideAction;
}

function lexRawQuote(l: Lexer): StateFn | null {
  for (;;) {
    const r = l.next();
    if (r === EOF) return l.errorf('unterminated raw quoted string');
    if (r === 0x60) break;
  }
  l.emit('rawString');
  return lexInsideAction;
}

function lexNumber(l: Lexer): StateFn | null {
  if (!l.scanNumber()) return l.errorf(`bad number syntax: ${goQuote(l.input.slice(l.start, l.pos))}`);
  const sign = l.peek();
  if (sign === 0x2b || sign === 0x2d) {
    // Complex: 1+2i. No spaces, must end in 'i'.
    if (!l.scanNumber() || l.input[l.pos - 1] !== 'i') {
      return l.errorf(`bad number syntax: ${goQuote(l.input.slice(l.start, l.pos))}`);
    }
    l.emit('complex');
    return lexInsideAction;
  }
  l.emit('number');
  return lexInsideAction;
}

// ---------------------------------------------------------------------------------------------------
// Go literal syntax: strconv.Unquote, UnquoteChar, ParseInt(s, 0, 64), ParseFloat.
// ---------------------------------------------------------------------------------------------------

interface UnquotedChar {
  value: number;
  isByte: boolean; // \x and octal escapes give a byte, not a rune
  next: number;
}

function unquoteChar(s: string, i: number, quote: string): UnquotedChar | null {
  const c = s.codePointAt(i);
  if (c === undefined) return null;
  const ch = String.fromCodePoint(c);
  if (ch === quote) return null;
  if (ch !== '\\') return { value: c, isByte: false, next: i + ch.length };
  const e = s[i + 1];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };
  if (e === undefined) return null;
  if (e in simple) return { value: simple[e], isByte: false, next: i + 2 };
  if (e === "'" || e === '"') return e === quote ? { value: e.charCodeAt(0), isByte: false, next: i + 2 } : null;
  if (e === 'x' || e === 'u' || e === 'U') {
    const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
    const digits = s.slice(i + 2, i + 2 + n);
    if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== n) return null;
    const value = parseInt(digits, 16);
    if (e === 'x') return { value, isByte: true, next: i + 2 + n };
    if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return null;
    return { value, isByte: false, next: i + 2 + n };
  }
  if (e >= '0' && e <= '7') {
    const digits = s.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(digits)) return null;
    const value = parseInt(digits, 8);
    if (value > 255) return null;
    return { value, isByte: true, next: i + 4 };
  }
  return null;
}

/** strconv.Unquote for "..." and `...` literals; null means "invalid syntax". */
function unquote(lit: string): string | null {
  if (lit.length < 2) return null;
  const quote = lit[0];
  if (lit[lit.length - 1] !== quote) return null;
  const body = lit.slice(1, -1);
  if (quote === '`') return body.includes('`') ? null : body.replace(/\r/g, '');
  if (quote !== '"' || body.includes('\n')) return null;
  const bytes: number[] = [];
  for (let i = 0; i < body.length; ) {
    const c = unquoteChar(body, i, '"');
    if (!c) return null;
    if (c.isByte) bytes.push(c.value);
    else for (const b of utf8(String.fromCodePoint(c.value))) bytes.push(b);
    i = c.next;
  }
  return fromUtf8(Uint8Array.from(bytes));
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** The value of strconv.ParseInt(text, 0, 64) / ParseUint as a bigint, or null on a syntax error. */
function parseGoInteger(text: string): bigint | null {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(text);
  if (!m) return null;
  let digits = m[2].replace(/_/g, '');
  if (/^0[0-7]+$/.test(digits)) digits = '0o' + digits.slice(1);
  else if (/^0[oO]/.test(digits)) digits = '0o' + digits.slice(2);
  const value = BigInt(digits);
  return m[1] === '-' ? -value : value;
}

/** strconv.ParseFloat(text, 64) for Go float literal syntax, or null. */
function parseGoFloat(text: string): number | null {
  const dec = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
  const hexf = /^([+-]?)0[xX](_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)?(?:\.([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)?)?[pP]([+-]?\d(?:_?\d)*)$/;
  let value: number;
  if (dec.test(text)) {
    value = Number(text.replace(/_/g, ''));
  } else {
    const m = hexf.exec(text);
    if (!m || (!m[2] && !m[3])) return null;
    const intPart = (m[2] ?? '').replace(/_/g, '');
    const fracPart = (m[3] ?? '').replace(/_/g, '');
    const mantissa = parseInt(intPart + fracPart || '0', 16);
    value = mantissa * 2 ** (Number(m[4].replace(/_/g, '')) - 4 * fracPart.length);
    if (m[1] === '-') value = -value;
  }
  return Number.isFinite(value) ? value : null;
}

// ---------------------------------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go).
// ---------------------------------------------------------------------------------------------------

interface ListNode { type: 'list'; pos: number; nodes: Node[] }
interface TextNode { type: 'text'; pos: number; text: string }
interface ActionNode { type: 'action'; pos: number; pipe: PipeNode }
interface BranchNode { type: 'if' | 'range' | 'with'; pos: number; pipe: PipeNode; list: ListNode; elseList: ListNode | null }
interface LoopControlNode { type: 'break' | 'continue'; pos: number }
interface TemplateNode { type: 'template'; pos: number; name: string; pipe: PipeNode | null }
/** {{end}} and {{else}}: only ever seen by the parser. */
interface DelimNode { type: 'end' | 'else'; pos: number }
type Node = ListNode | TextNode | ActionNode | BranchNode | LoopControlNode | TemplateNode | DelimNode;

interface PipeNode { type: 'pipe'; pos: number; isAssign: boolean; decl: VariableNode[]; cmds: CommandNode[] }
interface CommandNode { type: 'command'; pos: number; args: ArgNode[] }
interface FieldNode { type: 'field'; pos: number; ident: string[] }
interface VariableNode { type: 'variable'; pos: number; ident: string[] }
interface ChainNode { type: 'chain'; pos: number; node: ArgNode; field: string[] }
interface IdentifierNode { type: 'identifier'; pos: number; ident: string }
interface DotNode { type: 'dot'; pos: number }
interface NilNode { type: 'nil'; pos: number }
interface BoolNode { type: 'bool'; pos: number; value: boolean }
interface StringNode { type: 'string'; pos: number; quoted: string; text: string }
interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int: number;
  float: number;
}
type ArgNode =
  | PipeNode | FieldNode | VariableNode | ChainNode | IdentifierNode | DotNode | NilNode | BoolNode
  | StringNode | NumberNode;
type AnyNode = Node | ArgNode | CommandNode;

/** Node.String(): used in error contexts and a few messages. */
function nodeString(n: AnyNode): string {
  switch (n.type) {
    case 'list': return n.nodes.map(nodeString).join('');
    case 'text': return n.text;
    case 'action': return `{{${nodeString(n.pipe)}}}`;
    case 'if':
    case 'range':
    case 'with': {
      const elseList = n.elseList ? `{{else}}${nodeString(n.elseList)}` : '';
      return `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}${elseList}{{end}}`;
    }
    case 'break':
    case 'continue':
    case 'end':
    case 'else':
      return `{{${n.type}}}`;
    case 'template':
      return n.pipe ? `{{template ${goQuote(n.name)} ${nodeString(n.pipe)}}}` : `{{template ${goQuote(n.name)}}}`;
    case 'pipe': {
      let s = '';
      if (n.decl.length > 0) s = n.decl.map(nodeString).join(', ') + (n.isAssign ? ' = ' : ' := ');
      return s + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'field': return '.' + n.ident.join('.');
    case 'variable': return n.ident.join('.');
    case 'chain': {
      const base = n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node);
      return base + n.field.map((f) => '.' + f).join('');
    }
    case 'identifier': return n.ident;
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'bool': return n.value ? 'true' : 'false';
    case 'string': return n.quoted;
    case 'number': return n.text;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parser (text/template/parse/parse.go).
// ---------------------------------------------------------------------------------------------------

class Parser {
  private readonly items: Item[];
  private i = 0;
  private line = 1; // line of the last token read: what Go's parse errors report
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(input: string) {
    this.items = new Lexer(input).run();
  }

  private fail(message: string): TagTemplateError {
    return new TagTemplateError(`template: ${NAME}:${this.line}: ${message}`);
  }

  private next(): Item {
    const item = this.items[Math.min(this.i, this.items.length - 1)];
    this.i++;
    this.line = item.line;
    return item;
  }

  private backup(): void {
    this.i--;
  }

  private peek(): Item {
    const item = this.next();
    this.backup();
    return item;
  }

  private nextNonSpace(): Item {
    let item: Item;
    do item = this.next();
    while (item.typ === 'space');
    return item;
  }

  private peekNonSpace(): Item {
    const item = this.nextNonSpace();
    this.backup();
    return item;
  }

  private expect(typ: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== typ) throw this.unexpected(token, context);
    return token;
  }

  private unexpected(token: Item, context: string): TagTemplateError {
    if (token.typ === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${NAME}:${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      return this.fail(token.val + extra);
    }
    return this.fail(`unexpected ${itemString(token)} in ${context}`);
  }

  parse(): ListNode {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== 'eof') {
      if (this.peek().typ === 'leftDelim') {
        const mark = this.i;
        this.next();
        if (this.nextNonSpace().typ === 'define') throw this.fail('{{define}} is not supported in a log tag');
        this.i = mark;
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') throw this.fail(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  private itemList(): [ListNode, DelimNode] {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    throw this.fail('unexpected EOF');
  }

  private textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case 'text':
        return { type: 'text', pos: token.pos, text: token.val };
      case 'leftDelim':
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      default:
        throw this.unexpected(token, 'input');
    }
  }

  private action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case 'block': throw this.fail('{{block}} is not supported in a log tag');
      case 'break':
      case 'continue': return this.loopControl(token);
      case 'else': return this.elseControl();
      case 'end': return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
      case 'range':
      case 'with': return this.parseControl(token.typ);
      case 'template': return this.templateControl();
    }
    this.backup();
    const first = this.peek();
    // Variables declared here are not popped: they persist until the enclosing {{end}}.
    return { type: 'action', pos: first.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(token: Item): LoopControlNode {
    const kind = token.typ === 'break' ? 'break' : 'continue';
    const next = this.nextNonSpace();
    if (next.typ !== 'rightDelim') throw this.unexpected(next, `{{${kind}}}`);
    if (this.rangeDepth === 0) throw this.fail(`{{${kind}}} outside {{range}}`);
    return { type: kind, pos: token.pos };
  }

  private elseControl(): DelimNode {
    // "{{else if ..." and "{{else with ..." are treated as "{{else}}{{if ...".
    const peek = this.peekNonSpace();
    if (peek.typ === 'if' || peek.typ === 'with') return { type: 'else', pos: peek.pos };
    return { type: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private parseControl(context: 'if' | 'range' | 'with'): BranchNode {
    const varsMark = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      const [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        const chained = this.peek().typ;
        if ((context === 'if' && chained === 'if') || (context === 'with' && chained === 'with')) {
          this.next();
          elseList = { type: 'list', pos: next.pos, nodes: [this.parseControl(context)] };
        } else {
          const [list2, next2] = this.itemList();
          if (next2.type !== 'end') throw this.fail(`expected end; found ${nodeString(next2)}`);
          elseList = list2;
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsMark;
    }
  }

  private templateControl(): TemplateNode {
    const context = 'template clause';
    const token = this.nextNonSpace();
    if (token.typ !== 'string' && token.typ !== 'rawString') throw this.unexpected(token, context);
    const name = unquote(token.val);
    if (name === null) throw this.fail('invalid syntax');
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const first = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: first.pos, isAssign: false, decl: [], cmds: [] };
    // Declarations or assignments: "$x :=", "$x =", "$i, $v :=" (range only).
    for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== 'variable') break;
      const vIndex = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.typ === 'assign' || next.typ === 'declare') {
        pipe.isAssign = next.typ === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: v.val.split('.') });
        this.vars.push(v.val);
        break;
      }
      if (next.typ === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: v.val.split('.') });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().typ;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          throw this.fail('range can only initialize variables');
        }
        throw this.fail(`too many declarations in ${context}`);
      }
      this.i = vIndex; // an operand, not a declaration
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      if (token.typ === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (token.typ) {
        case 'bool': case 'charConstant': case 'complex': case 'dot': case 'field': case 'identifier':
        case 'number': case 'nil': case 'rawString': case 'string': case 'variable': case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          throw this.unexpected(token, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) throw this.fail(`missing value for ${context}`);
    // Only the first command of a pipeline can start with a non-executable operand.
    pipe.cmds.forEach((c, i) => {
      if (i > 0 && ['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0].type)) {
        throw this.fail(`non executable command in pipeline stage ${i + 1}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace(); // skip leading spaces
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const token = this.next();
      if (token.typ === 'space') continue;
      if (token.typ === 'rightDelim' || token.typ === 'rightParen') this.backup();
      else if (token.typ !== 'pipe') throw this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) throw this.fail('empty command');
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().typ !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().typ === 'field') fields.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos, ident: [...node.ident, ...fields] };
      case 'bool': case 'string': case 'number': case 'nil': case 'dot':
        throw this.fail(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { type: 'chain', pos, node, field: fields };
    }
  }

  private term(): ArgNode | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case 'identifier':
        if (!FUNCS.has(token.val)) throw this.fail(`function ${goQuote(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, ident: token.val };
      case 'dot':
        return { type: 'dot', pos: token.pos };
      case 'nil':
        return { type: 'nil', pos: token.pos };
      case 'variable': {
        const ident = token.val.split('.');
        if (!this.vars.includes(ident[0])) throw this.fail(`undefined variable ${goQuote(ident[0])}`);
        return { type: 'variable', pos: token.pos, ident };
      }
      case 'field':
        return { type: 'field', pos: token.pos, ident: [token.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: token.pos, value: token.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        return this.number(token);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString': {
        const text = unquote(token.val);
        if (text === null) throw this.fail('invalid syntax');
        return { type: 'string', pos: token.pos, quoted: token.val, text };
      }
    }
    this.backup();
    return null;
  }

  /** parse.newNumber. */
  private number(token: Item): NumberNode {
    const text = token.val;
    const n: NumberNode = {
      type: 'number', pos: token.pos, text, isInt: false, isUint: false, isFloat: false, isComplex: false, int: 0, float: 0,
    };
    if (token.typ === 'charConstant') {
      const c = unquoteChar(text, 1, "'");
      if (!c) throw this.fail('invalid syntax');
      if (text.slice(c.next) !== "'") throw this.fail(`malformed character constant: ${text}`);
      n.isInt = n.isUint = n.isFloat = true;
      n.int = n.float = c.value;
      return n;
    }
    if (token.typ === 'complex' || (text.endsWith('i') && parseGoFloat(text.slice(0, -1)) !== null)) {
      n.isComplex = true;
      return n;
    }
    const big = parseGoInteger(text);
    if (big !== null) {
      if (big >= 0n && big <= UINT64_MAX) n.isUint = true;
      if (big >= INT64_MIN && big <= INT64_MAX) {
        n.isInt = true;
        n.int = Number(big);
      }
      if (n.isInt || n.isUint) {
        n.isFloat = true;
        n.float = Number(big);
      }
    } else {
      const f = parseGoFloat(text);
      if (f !== null) {
        // Parsed as a float but looks like an integer: a huge number too large to fit in an int.
        if (!/[.eEpP]/.test(text)) throw this.fail(`integer overflow: ${goQuote(text)}`);
        n.isFloat = true;
        n.float = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.int = f;
          n.isUint = f >= 0;
        }
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) throw this.fail(`illegal number syntax: ${goQuote(text)}`);
    return n;
  }
}

// ---------------------------------------------------------------------------------------------------
// Values.
// ---------------------------------------------------------------------------------------------------

/** []string; items null is a nil slice (prints [], encodes as JSON null). */
class GoSlice {
  constructor(readonly items: readonly string[] | null) {}
  get length(): number {
    return this.items ? this.items.length : 0;
  }
}

/** map[string]string; entries null is a nil map (prints map[], encodes as JSON null). */
class GoMap {
  constructor(readonly entries: Readonly<Record<string, string>> | null) {}
  get(key: string): string | undefined {
    return this.entries && Object.prototype.hasOwnProperty.call(this.entries, key) ? String(this.entries[key]) : undefined;
  }
  keys(): string[] {
    return this.entries ? Object.keys(this.entries).sort(compareGo) : [];
  }
}

class GoFloat {
  constructor(readonly value: number) {}
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** time.Time, kept as the RFC 3339 text the daemon sent. */
class GoTime {
  constructor(readonly raw: string) {}

  private parts(): { date: string; clock: string; frac: string; offset: string | null } | null {
    if (this.raw === '') return { date: '0001-01-01', clock: '00:00:00', frac: '', offset: null };
    const m = RFC3339.exec(this.raw);
    if (!m) return null;
    const frac = (m[7] ?? '').slice(0, 9).replace(/0+$/, '');
    const zone = m[8].toUpperCase();
    const offset = zone === 'Z' || /^[+-]00:00$/.test(zone) ? null : zone;
    return { date: `${m[1]}-${m[2]}-${m[3]}`, clock: `${m[4]}:${m[5]}:${m[6]}`, frac: frac && '.' + frac, offset };
  }

  /** time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST". */
  toString(): string {
    const p = this.parts();
    if (!p) return this.raw;
    // A non-UTC offset parses into an unnamed fixed zone, whose name Go prints as the offset again.
    const zone = p.offset === null ? '+0000 UTC' : `${p.offset.replace(':', '')} ${p.offset.replace(':', '')}`;
    return `${p.date} ${p.clock}${p.frac} ${zone}`;
  }

  /** time.Time.MarshalJSON: RFC 3339 with nanoseconds, trailing zeros trimmed. */
  toRFC3339(): string {
    const p = this.parts();
    if (!p) return this.raw;
    return `${p.date}T${p.clock}${p.frac}${p.offset ?? 'Z'}`;
  }
}

/** *logger.Info. */
class InfoRef {
  constructor(readonly info: ContainerInfo, private readonly hostnameArg: string | undefined) {}
  get hostname(): string {
    return this.hostnameArg ?? osHostname();
  }
}

/** null is Go's invalid value: a missing map key ("<no value>") or an untyped nil. */
type Value = null | string | number | boolean | GoFloat | GoSlice | GoMap | GoTime | InfoRef;

const str = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : String(v));
const strings = (v: unknown): readonly string[] | null => (Array.isArray(v) ? v.map(str) : null);
const strMap = (v: unknown): Record<string, string> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : null;

/** stringid.TruncateID: drop an "algo:" prefix, keep at most 12 characters. */
function truncateID(id: string): string {
  const i = id.indexOf(':');
  if (i >= 0) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}

function infoCommand(info: ContainerInfo): string {
  return [str(info.ContainerEntrypoint), ...(strings(info.ContainerArgs) ?? [])].join(' ');
}

const INFO_FIELDS = [
  'Config', 'ContainerID', 'ContainerName', 'ContainerEntrypoint', 'ContainerArgs', 'ContainerImageID',
  'ContainerImageName', 'ContainerCreated', 'ContainerEnv', 'ContainerLabels', 'LogPath', 'DaemonName',
] as const;
type InfoField = (typeof INFO_FIELDS)[number];
const INFO_FIELD_SET: ReadonlySet<string> = new Set(INFO_FIELDS);

function infoField(info: ContainerInfo, name: InfoField): Value {
  switch (name) {
    case 'Config':
    case 'ContainerLabels':
      return new GoMap(strMap(info[name]));
    case 'ContainerArgs':
    case 'ContainerEnv':
      return new GoSlice(strings(info[name]));
    case 'ContainerCreated':
      return new GoTime(str(info.ContainerCreated));
    default:
      return str(info[name]);
  }
}

function typeName(v: Value): string {
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'string': return 'string';
    case 'number': return 'int';
    case 'boolean': return 'bool';
  }
  if (v instanceof GoFloat) return 'float64';
  if (v instanceof GoSlice) return '[]string';
  if (v instanceof GoMap) return 'map[string]string';
  if (v instanceof GoTime) return 'time.Time';
  return '*logger.Info';
}

/** The type after one pointer indirection, as the builtins report it. */
const derefTypeName = (v: Value): string => (v instanceof InfoRef ? 'logger.Info' : typeName(v));

function isTrue(v: Value): boolean {
  if (v === null) return false;
  switch (typeof v) {
    case 'string': return v.length > 0;
    case 'number': return v !== 0;
    case 'boolean': return v;
  }
  if (v instanceof GoFloat) return v.value !== 0;
  if (v instanceof GoSlice) return v.length > 0;
  if (v instanceof GoMap) return v.keys().length > 0;
  return true; // structs are always true, a non-nil pointer is true
}

// ---------------------------------------------------------------------------------------------------
// fmt: printing values the way fmt.Fprint / Sprint / Sprintf do.
// ---------------------------------------------------------------------------------------------------

/** %v of a float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6 on, e.g. 1e+06. */
function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, exponent] = x.toExponential().split('e');
  const exp = Number(exponent);
  if (exp >= -4 && exp < 6) return String(x);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** The fields of logger.Info printed with %v: {map[] id /name ...}. */
function formatStruct(ref: InfoRef): string {
  return '{' + INFO_FIELDS.map((f) => fmtV(infoField(ref.info, f))).join(' ') + '}';
}

/** fmt %v. */
function fmtV(v: Value): string {
  if (v === null) return '<nil>';
  switch (typeof v) {
    case 'string': return v;
    case 'number': return String(v);
    case 'boolean': return v ? 'true' : 'false';
  }
  if (v instanceof GoFloat) return formatFloat(v.value);
  if (v instanceof GoSlice) return '[' + (v.items ?? []).join(' ') + ']';
  if (v instanceof GoMap) return 'map[' + v.keys().map((k) => `${k}:${v.get(k)}`).join(' ') + ']';
  if (v instanceof GoTime) return v.toString();
  return '&' + formatStruct(v);
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: readonly Value[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtV(a);
  });
  return out;
}

interface FmtFlags {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number; // -1: absent
  prec: number; // -1: absent
}

const NO_FLAGS: FmtFlags = { minus: false, plus: false, sharp: false, space: false, zero: false, width: -1, prec: -1 };

function pad(s: string, f: FmtFlags): string {
  const n = Array.from(s).length;
  if (f.width < 0 || n >= f.width) return s;
  const fill = (f.zero && !f.minus ? '0' : ' ').repeat(f.width - n);
  return f.minus ? s + fill : fill + s;
}

function fmtInteger(n: number, verb: string, f: FmtFlags): string {
  const base = verb === 'b' ? 2 : verb === 'o' || verb === 'O' ? 8 : verb === 'x' || verb === 'X' ? 16 : 10;
  let digits = Math.abs(n).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  const sign = n < 0 ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  let prefix = '';
  if (verb === 'O' || (f.sharp && verb === 'o' && digits[0] !== '0')) prefix = '0o'.slice(verb === 'O' ? 0 : 1);
  if (f.sharp && (verb === 'x' || verb === 'X')) prefix = verb === 'x' ? '0x' : '0X';
  if (f.sharp && verb === 'b') prefix = '0b';
  if (f.prec >= 0) {
    if (f.prec === 0 && n === 0) digits = '';
    digits = digits.padStart(f.prec, '0');
  } else if (f.zero && !f.minus && f.width > 0) {
    digits = digits.padStart(f.width - sign.length - prefix.length, '0');
  }
  return pad(sign + prefix + digits, { ...f, zero: false });
}

function fmtFloatVerb(x: number, verb: string, f: FmtFlags): string {
  let s: string;
  switch (verb) {
    case 'f':
    case 'F':
      s = x.toFixed(f.prec < 0 ? 6 : f.prec);
      break;
    case 'e':
    case 'E': {
      const [m, e] = x.toExponential(f.prec < 0 ? 6 : f.prec).split('e');
      s = `${m}e${e[0]}${e.slice(1).padStart(2, '0')}`;
      if (verb === 'E') s = s.toUpperCase();
      break;
    }
    default:
      s = formatFloat(x);
  }
  if (f.plus && x >= 0) s = '+' + s;
  return pad(s, f);
}

function badVerb(verb: string, arg: Value): string {
  if (arg === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(arg)}=${fmtV(arg)})`;
}

/** One Sprintf operand. Supports the usual verbs; elements of slices and maps take the verb too. */
function fmtArg(arg: Value, verb: string, f: FmtFlags): string {
  if (arg === null) return verb === 'v' ? pad('<nil>', f) : badVerb(verb, arg);
  if (typeof arg === 'string') {
    if (verb === 'q' || (verb === 'v' && f.sharp)) return pad(goQuote(arg), f);
    switch (verb) {
      case 'v':
      case 's':
        return pad(f.prec >= 0 ? Array.from(arg).slice(0, f.prec).join('') : arg, f);
      case 'x':
      case 'X': {
        const h = utf8(arg).toString('hex');
        return pad(verb === 'X' ? h.toUpperCase() : h, f);
      }
    }
    return badVerb(verb, arg);
  }
  if (typeof arg === 'number') {
    switch (verb) {
      case 'v': case 'd': case 'b': case 'o': case 'O': case 'x': case 'X':
        return fmtInteger(arg, verb, f);
      case 'c':
        return pad(String.fromCodePoint(arg), f);
      case 'q':
        return pad(`'${escapeRune(arg, "'")}'`, f);
      case 'U':
        return pad('U+' + arg.toString(16).toUpperCase().padStart(4, '0'), f);
    }
    return badVerb(verb, arg);
  }
  if (typeof arg === 'boolean') return verb === 'v' || verb === 't' ? pad(String(arg), f) : badVerb(verb, arg);
  if (arg instanceof GoFloat) {
    return 'vfFeEgG'.includes(verb) ? fmtFloatVerb(arg.value, verb, f) : badVerb(verb, arg);
  }
  if (arg instanceof GoSlice) return '[' + (arg.items ?? []).map((s) => fmtArg(s, verb, f)).join(' ') + ']';
  if (arg instanceof GoMap) {
    return 'map[' + arg.keys().map((k) => `${fmtArg(k, verb, f)}:${fmtArg(arg.get(k)!, verb, f)}`).join(' ') + ']';
  }
  if (arg instanceof GoTime) return 'vsqxX'.includes(verb) ? fmtArg(arg.toString(), verb, f) : badVerb(verb, arg);
  return verb === 'v' || verb === 's' ? pad(fmtV(arg), f) : badVerb(verb, arg);
}

/** fmt.Sprintf. Not supported: explicit argument indexes (%[1]s) and '*' widths. */
function sprintf(format: string, args: readonly Value[]): string {
  let out = '';
  let argNum = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: FmtFlags = { ...NO_FLAGS };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') {
        f.minus = true;
        f.zero = false;
      } else if (c === '+') f.plus = true;
      else if (c === '#') f.sharp = true;
      else if (c === ' ') f.space = true;
      else if (c === '0') f.zero = !f.minus;
      else break;
    }
    const width = /^\d+/.exec(format.slice(i));
    if (width) {
      f.width = Number(width[0]);
      i += width[0].length;
    }
    if (format[i] === '.') {
      const prec = /^\d*/.exec(format.slice(i + 1))![0];
      f.prec = prec === '' ? 0 : Number(prec);
      i += 1 + prec.length;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') out += '%';
    else if (argNum >= args.length) out += `%!${verb}(MISSING)`;
    else out += fmtArg(args[argNum++], verb, f);
  }
  if (argNum < args.length) {
    const extra = args.slice(argNum).map((a) => (a === null ? '<nil>' : `${typeName(a)}=${fmtV(a)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

/** text/template evalArgs: Sprint after printableValue (pointers dereferenced, nil is "<no value>"). */
function evalArgs(args: readonly Value[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === null ? '<no value>' : a instanceof InfoRef ? formatStruct(a) : a)));
}

// ---------------------------------------------------------------------------------------------------
// encoding/json with SetEscapeHTML(false), as moby's `json` function uses it.
// ---------------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function jsonString(s: string): string {
  return JSON.stringify(s.replace(LONE_SURROGATE, '\ufffd')).replace(/[\u2028\u2029]/g, (c) =>
    c === '\u2028' ? '\\u2028' : '\\u2029',
  );
}

function jsonEncode(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return jsonString(v);
    case 'number': return String(v);
    case 'boolean': return String(v);
  }
  if (v instanceof GoFloat) return Number.isFinite(v.value) ? String(v.value) : ''; // Go: unsupported value
  if (v instanceof GoSlice) return v.items === null ? 'null' : '[' + v.items.map(jsonString).join(',') + ']';
  if (v instanceof GoMap) {
    if (v.entries === null) return 'null';
    return '{' + v.keys().map((k) => `${jsonString(k)}:${jsonString(v.get(k)!)}`).join(',') + '}';
  }
  if (v instanceof GoTime) return jsonString(v.toRFC3339());
  return '{' + INFO_FIELDS.map((f) => `${jsonString(f)}:${jsonEncode(infoField(v.info, f))}`).join(',') + '}';
}

// ---------------------------------------------------------------------------------------------------
// Functions: text/template builtins and moby's templates.basicFunctions.
// ---------------------------------------------------------------------------------------------------

/** Go parameter types, as far as validateType and evalArg need them. */
type ParamType = 'any' | 'string' | 'int' | '[]string' | 'func';

const GO_TYPE: Record<ParamType, string> = {
  any: 'interface {}',
  string: 'string',
  int: 'int',
  '[]string': '[]string',
  func: 'func(string) string',
};

interface GoFunc {
  params: ParamType[];
  variadic?: ParamType;
  /** and / or: arguments are evaluated lazily. */
  shortCircuit?: boolean;
  call(args: Value[]): Value;
}

/** An error returned (or a panic raised) by a Go function: "error calling NAME: MESSAGE". */
class CallError extends Error {}

function indexArg(index: Value, cap: number): number {
  if (index === null) throw new CallError('cannot index slice/array with nil');
  if (typeof index !== 'number') throw new CallError(`cannot index slice/array with type ${typeName(index)}`);
  if (index < 0 || index > cap) throw new CallError(`index out of range: ${index}`);
  return index;
}

function index(args: Value[]): Value {
  let item = args[0];
  if (item === null) throw new CallError('index of untyped nil');
  for (const i of args.slice(1)) {
    if (typeof item === 'string') {
      const bytes = utf8(item);
      const x = indexArg(i, bytes.length);
      if (x === bytes.length) throw new CallError(`index out of range: ${x}`);
      item = bytes[x];
    } else if (item instanceof GoSlice) {
      const x = indexArg(i, item.length);
      if (x === item.length) throw new CallError(`index out of range: ${x}`);
      item = item.items![x];
    } else if (item instanceof GoMap) {
      if (i === null) throw new CallError('value is nil; should be of type string');
      if (typeof i !== 'string') throw new CallError(`value has type ${typeName(i)}; should be string`);
      item = item.get(i) ?? '';
    } else {
      throw new CallError(`can't index item of type ${derefTypeName(item)}`);
    }
  }
  return item;
}

function slice(args: Value[]): Value {
  const item = args[0];
  const indexes = args.slice(1);
  if (item === null) throw new CallError('slice of untyped nil');
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new CallError('cannot 3-index slice a string');
    len = byteLength(item);
  } else if (item instanceof GoSlice) {
    len = item.length;
  } else {
    throw new CallError(`can't slice item of type ${derefTypeName(item)}`);
  }
  const idx = [0, len, len];
  indexes.forEach((v, i) => (idx[i] = indexArg(v, len)));
  if (idx[0] > idx[1]) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === 'string') return fromUtf8(utf8(item).subarray(idx[0], idx[1]));
  return new GoSlice(item.items === null ? null : item.items.slice(idx[0], idx[1]));
}

function length(args: Value[]): Value {
  const v = args[0];
  if (v === null) throw new CallError('len of untyped nil');
  if (typeof v === 'string') return byteLength(v);
  if (v instanceof GoSlice) return v.length;
  if (v instanceof GoMap) return v.keys().length;
  throw new CallError(`len of type ${derefTypeName(v)}`);
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | null;

function basicKind(v: Value): BasicKind {
  switch (typeof v) {
    case 'boolean': return 'bool';
    case 'number': return 'int';
    case 'string': return 'string';
  }
  return v instanceof GoFloat ? 'float' : null;
}

const primitive = (v: Value): unknown => (v instanceof GoFloat ? v.value : v);
const isNilValue = (v: Value): boolean =>
  v === null || ((v instanceof GoSlice || v instanceof GoMap) && (v instanceof GoSlice ? v.items : v.entries) === null);

function eq(args: Value[]): Value {
  const [a, ...rest] = args;
  if (rest.length === 0) throw new CallError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth: boolean;
    if (k1 !== k2) {
      if (a !== null && b !== null) throw new CallError('incompatible types for comparison');
      truth = isNilValue(a) && isNilValue(b);
    } else if (k1 !== null) {
      truth = primitive(a) === primitive(b);
    } else if (a === null || b === null || isNilValue(a) || isNilValue(b)) {
      if (a !== null && b !== null && a.constructor !== b.constructor) {
        throw new CallError('incompatible types for comparison');
      }
      truth = isNilValue(a) === isNilValue(b);
    } else if (a.constructor !== b.constructor) {
      throw new CallError('incompatible types for comparison');
    } else if (a instanceof GoTime && b instanceof GoTime) {
      truth = a.raw === b.raw;
    } else if (a instanceof InfoRef && b instanceof InfoRef) {
      truth = a.info === b.info;
    } else {
      throw new CallError(`non-comparable type ${fmtV(b)}: ${typeName(b)}`);
    }
    if (truth) return true;
  }
  return false;
}

function lt(args: Value[]): boolean {
  const [a, b] = args;
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === null || k2 === null) throw new CallError('invalid type for comparison');
  if (k1 !== k2) throw new CallError('incompatible types for comparison');
  if (k1 === 'bool') throw new CallError('invalid type for comparison');
  if (k1 === 'string') return compareGo(a as string, b as string) < 0;
  return (primitive(a) as number) < (primitive(b) as number);
}

const le = (args: Value[]): boolean => lt(args) || (eq(args) as boolean);

/** strings.Repeat(" ", n), with Go's panic for a negative count. */
function spaces(n: number): string {
  if (n < 0) throw new CallError('strings: negative Repeat count');
  return ' '.repeat(n);
}

/** unicode.ToUpper / ToLower / ToTitle: one rune to one rune (JS full case mapping may give several). */
function mapRune(ch: string, to: 'upper' | 'lower' | 'title'): string {
  if (to === 'title') {
    const r = ch.codePointAt(0)!;
    // The Latin digraphs are the only runes whose title case differs from their upper case.
    for (const base of [0x1c4, 0x1c7, 0x1ca, 0x1f1]) if (r >= base && r <= base + 2) return String.fromCodePoint(base + 1);
  }
  if (to === 'lower' && ch === '\u0130') return 'i';
  const mapped = to === 'lower' ? ch.toLowerCase() : ch.toUpperCase();
  return Array.from(mapped).length === 1 ? mapped : ch;
}

function mapRunes(s: string, to: 'upper' | 'lower'): string {
  if (/^[\x00-\x7f]*$/.test(s)) return to === 'upper' ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) out += mapRune(ch, to);
  return out;
}

/** strings.Title: upper-case (title-case) the first letter of each word. */
function title(s: string): string {
  const isSeparator = (ch: string): boolean => {
    const r = ch.codePointAt(0)!;
    if (r <= 0x7f) return !(isAlphaNumeric(r));
    if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
    return /^\s$/u.test(ch);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? mapRune(ch, 'title') : ch;
    prev = ch;
  }
  return out;
}

function htmlEscape(s: string): string {
  const table: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\0': '\ufffd' };
  return s.replace(/["'&<>\0]/g, (c) => table[c]);
}

function jsEscape(s: string): string {
  const table: Record<string, string> = {
    '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D',
  };
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch in table) out += table[ch];
    else if (r < 0x20) out += '\\u00' + hex(r, 2).toUpperCase();
    else if (r < 0x80 || isPrint(r)) out += ch;
    else out += '\\u' + r.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of utf8(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + hex(b, 2).toUpperCase();
  }
  return out;
}

const FUNCS: ReadonlyMap<string, GoFunc> = new Map<string, GoFunc>([
  // text/template builtins
  ['and', { params: ['any'], variadic: 'any', shortCircuit: true, call: (a) => a[a.length - 1] }],
  ['or', { params: ['any'], variadic: 'any', shortCircuit: true, call: (a) => a[a.length - 1] }],
  ['not', { params: ['any'], call: (a) => !isTrue(a[0]) }],
  ['call', {
    params: ['any'],
    variadic: 'any',
    call: (a) => {
      throw new CallError(a[0] === null ? 'call of nil' : `non-function of type ${typeName(a[0])}`);
    },
  }],
  ['html', { params: [], variadic: 'any', call: (a) => htmlEscape(evalArgs(a)) }],
  ['js', { params: [], variadic: 'any', call: (a) => jsEscape(evalArgs(a)) }],
  ['urlquery', { params: [], variadic: 'any', call: (a) => queryEscape(evalArgs(a)) }],
  ['index', { params: ['any'], variadic: 'any', call: index }],
  ['slice', { params: ['any'], variadic: 'any', call: slice }],
  ['len', { params: ['any'], call: length }],
  ['print', { params: [], variadic: 'any', call: sprint }],
  ['printf', { params: ['string'], variadic: 'any', call: (a) => sprintf(a[0] as string, a.slice(1)) }],
  ['println', { params: [], variadic: 'any', call: (a) => a.map(fmtV).join(' ') + '\n' }],
  ['eq', { params: ['any'], variadic: 'any', call: eq }],
  ['ne', { params: ['any', 'any'], call: (a) => !eq(a) }],
  ['lt', { params: ['any', 'any'], call: lt }],
  ['le', { params: ['any', 'any'], call: le }],
  ['gt', { params: ['any', 'any'], call: (a) => !le(a) }],
  ['ge', { params: ['any', 'any'], call: (a) => !lt(a) }],
  // moby daemon/logger/templates
  ['json', { params: ['any'], call: (a) => jsonEncode(a[0]).trim() }],
  ['split', {
    params: ['string', 'string'],
    call: ([s, sep]) => new GoSlice(sep === '' ? Array.from(s as string) : (s as string).split(sep as string)),
  }],
  ['join', { params: ['[]string', 'string'], call: ([s, sep]) => ((s as GoSlice).items ?? []).join(sep as string) }],
  ['title', { params: ['string'], call: ([s]) => title(s as string) }],
  ['lower', { params: ['string'], call: ([s]) => mapRunes(s as string, 'lower') }],
  ['upper', { params: ['string'], call: ([s]) => mapRunes(s as string, 'upper') }],
  ['pad', {
    params: ['string', 'int', 'int'],
    call: ([s, prefix, suffix]) => (s === '' ? '' : spaces(prefix as number) + s + spaces(suffix as number)),
  }],
  ['truncate', {
    params: ['string', 'int'],
    call: ([s, n]) => {
      const bytes = utf8(s as string);
      if (bytes.length < (n as number)) return s;
      if ((n as number) < 0) throw new CallError(`runtime error: slice bounds out of range [:${n}]`);
      return fromUtf8(bytes.subarray(0, n as number));
    },
  }],
]);

// ---------------------------------------------------------------------------------------------------
// Methods of *logger.Info (loginfo.go).
// ---------------------------------------------------------------------------------------------------

interface Method {
  params: ParamType[];
  call(recv: InfoRef, args: Value[]): Value;
}

function compileRegexp(expr: string): RegExp {
  try {
    return new RegExp(expr);
  } catch (e) {
    throw new CallError(`error parsing regexp: ${(e as Error).message}`);
  }
}

/** Info.ExtraAttributes(nil): the labels / env the log-opts `labels`, `labels-regex`, `env`, `env-regex` select. */
function extraAttributes(info: ContainerInfo): GoMap {
  const extra: Record<string, string> = Object.create(null) as Record<string, string>;
  const config = new GoMap(strMap(info.Config));
  const labels = new GoMap(strMap(info.ContainerLabels));
  const opt = (key: string): string => config.get(key) ?? '';
  if (opt('labels') !== '') {
    for (const l of opt('labels').split(',')) {
      const v = labels.get(l);
      if (v !== undefined) extra[l] = v;
    }
  }
  if (opt('labels-regex') !== '') {
    const re = compileRegexp(opt('labels-regex'));
    for (const k of labels.keys()) if (re.test(k)) extra[k] = labels.get(k)!;
  }
  const env = new Map<string, string>();
  for (const e of strings(info.ContainerEnv) ?? []) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  if (env.size > 0) {
    if (opt('env') !== '') {
      for (const l of opt('env').split(',')) if (env.has(l)) extra[l] = env.get(l)!;
    }
    if (opt('env-regex') !== '') {
      const re = compileRegexp(opt('env-regex'));
      for (const [k, v] of env) if (re.test(k)) extra[k] = v;
    }
  }
  return new GoMap(extra);
}

const INFO_METHODS: ReadonlyMap<string, Method> = new Map<string, Method>([
  ['ID', { params: [], call: (r) => truncateID(str(r.info.ContainerID)) }],
  ['FullID', { params: [], call: (r) => str(r.info.ContainerID) }],
  ['Name', { params: [], call: (r) => str(r.info.ContainerName).replace(/^\//, '') }],
  ['Command', { params: [], call: (r) => infoCommand(r.info) }],
  ['ImageID', { params: [], call: (r) => truncateID(str(r.info.ContainerImageID)) }],
  ['ImageFullID', { params: [], call: (r) => str(r.info.ContainerImageID) }],
  ['ImageName', { params: [], call: (r) => str(r.info.ContainerImageName) }],
  ['Hostname', { params: [], call: (r) => r.hostname }],
  ['ExtraAttributes', { params: ['func'], call: (r) => extraAttributes(r.info) }],
]);

/** Methods of time.Time that Go would call; this renderer does not implement them. */
const TIME_METHODS = new Set([
  'Add', 'AddDate', 'After', 'AppendFormat', 'Before', 'Clock', 'Compare', 'Date', 'Day', 'Equal', 'Format',
  'GoString', 'Hour', 'ISOWeek', 'In', 'IsDST', 'IsZero', 'Local', 'Location', 'MarshalBinary', 'MarshalJSON',
  'MarshalText', 'Minute', 'Month', 'Nanosecond', 'Round', 'Second', 'String', 'Sub', 'Truncate', 'UTC', 'Unix',
  'UnixMicro', 'UnixMilli', 'UnixNano', 'Weekday', 'Year', 'YearDay', 'Zone', 'ZoneBounds',
]);

// ---------------------------------------------------------------------------------------------------
// Execution (text/template/exec.go).
// ---------------------------------------------------------------------------------------------------

/** Go's missingVal: "no value from a previous pipeline stage". */
const NO_FINAL = Symbol('no final');
type Final = Value | typeof NO_FINAL;

class BreakSignal {}
class ContinueSignal {}

class State {
  out = '';
  private node: AnyNode | null = null;
  private readonly vars: { name: string; value: Value }[];

  constructor(private readonly text: string, root: Value) {
    this.vars = [{ name: '$', value: root }];
  }

  private at(node: AnyNode): void {
    this.node = node;
  }

  private fail(message: string): TagTemplateError {
    if (!this.node) return new TagTemplateError(`template: ${NAME}: ${message}`);
    const pos = this.node.pos;
    const before = this.text.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const lineNum = 1 + (before.match(/\n/g)?.length ?? 0);
    const byteNum = byteLength(nl === -1 ? before : before.slice(nl + 1));
    let context = nodeString(this.node);
    if (byteLength(context) > 20) context = Array.from(context).slice(0, 20).join('') + '...';
    return new TagTemplateError(`template: ${NAME}:${lineNum}:${byteNum}: executing "${NAME}" at <${context}>: ${message}`);
  }

  private varValue(name: string): Value {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    throw this.fail(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: Value): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    throw this.fail(`undefined variable: ${name}`);
  }

  walk(dot: Value, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        // Variables declared by an action persist until the enclosing {{end}}; a declaration prints nothing.
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, value);
        return;
      }
      case 'if':
      case 'with':
        return this.walkIfOrWith(node, dot);
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(node, dot);
      case 'text':
        this.out += node.text;
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'template':
        throw this.fail(`template ${goQuote(node.name)} not defined`);
      default:
        throw this.fail(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkIfOrWith(node: BranchNode, dot: Value): void {
    const mark = this.vars.length;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      if (isTrue(value)) this.walk(node.type === 'with' ? value : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(node: BranchNode, dot: Value): void {
    this.at(node);
    const outer = this.vars.length;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      const mark = this.vars.length;
      const decl = node.pipe.decl.length;
      /** Returns false on {{break}}. */
      const iteration = (key: Value, elem: Value): boolean => {
        if (decl > 0) this.vars[this.vars.length - 1].value = elem;
        if (decl > 1) this.vars[this.vars.length - 2].value = key;
        try {
          this.walk(elem, node.list);
        } catch (e) {
          if (e instanceof BreakSignal) return false;
          if (!(e instanceof ContinueSignal)) throw e;
        } finally {
          this.vars.length = mark;
        }
        return true;
      };
      let ran = false;
      if (value instanceof GoSlice) {
        const items = value.items ?? [];
        for (let i = 0; i < items.length && iteration(i, items[i]); i++);
        ran = items.length > 0;
      } else if (value instanceof GoMap) {
        const keys = value.keys();
        for (const k of keys) if (!iteration(k, value.get(k)!)) break;
        ran = keys.length > 0;
      } else if (typeof value === 'number') {
        if (decl > 1) throw this.fail(`can't use ${value} to iterate over more than one variable`);
        for (let i = 0; i < value && iteration(i, i); i++);
        ran = value > 0;
      } else if (value !== null) {
        throw this.fail(`range can't iterate over ${fmtV(value)}`);
      }
      if (!ran && node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = outer;
    }
  }

  private printValue(node: ActionNode, value: Value): void {
    this.at(node);
    if (value === null) this.out += '<no value>';
    else if (value instanceof InfoRef) this.out += formatStruct(value); // fmt.Fprint of the dereferenced pointer
    else this.out += fmtV(value);
  }

  private evalPipeline(dot: Value, pipe: PipeNode): Value {
    this.at(pipe);
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const result = value === NO_FINAL ? null : value;
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], result);
      else this.vars.push({ name: v.ident[0], value: result });
    }
    return result;
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL) throw this.fail(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  private evalCommand(dot: Value, cmd: CommandNode, final: Final): Value {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool': return first.value;
      case 'dot': return dot;
      case 'nil': throw this.fail('nil is not a command');
      case 'number': return this.idealConstant(first);
      case 'string': return first.text;
    }
  }

  /** A number literal where the type is not known from context. */
  private idealConstant(n: NumberNode): Value {
    this.at(n);
    if (n.isComplex) throw this.fail(`complex constant ${n.text} is not supported in a log tag`);
    const isHexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !isHexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return new GoFloat(n.float);
    if (n.isInt) return n.int;
    throw this.fail(`${n.text} overflows int`);
  }

  private evalChainNode(dot: Value, chain: ChainNode, args: ArgNode[] | null, final: Final): Value {
    this.at(chain);
    if (chain.node.type === 'nil') throw this.fail(`indirection through explicit nil in ${nodeString(chain)}`);
    // (pipe).Field1.Field2: evaluate the pipeline, then the fields.
    const receiver = this.evalArg(dot, 'any', chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: Value, variable: VariableNode, args: ArgNode[] | null, final: Final): Value {
    this.at(variable);
    const value = this.varValue(variable.ident[0]);
    if (variable.ident.length === 1) {
      if (args) this.notAFunction(args, final);
      else if (final !== NO_FINAL) throw this.fail(`can't give argument to non-function ${nodeString(variable)}`);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: Value, receiver: Value, node: AnyNode, ident: string[], args: ArgNode[] | null, final: Final,
  ): Value {
    this.at(node);
    for (let i = 0; i < ident.length - 1; i++) receiver = this.evalField(dot, ident[i], node, null, NO_FINAL, receiver);
    // Only the last element gets the arguments, if it is a method.
    return this.evalField(dot, ident[ident.length - 1], node, args, final, receiver);
  }

  private evalFunction(dot: Value, node: IdentifierNode, cmd: AnyNode, args: ArgNode[] | null, final: Final): Value {
    this.at(node);
    const fn = FUNCS.get(node.ident);
    if (!fn) throw this.fail(`${goQuote(node.ident)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, node.ident, args, final);
  }

  private evalField(
    dot: Value, fieldName: string, node: AnyNode, args: ArgNode[] | null, final: Final, receiver: Value,
  ): Value {
    if (receiver === null) return null; // missing map key further up the chain: still "<no value>"
    const hasArgs = (args !== null && args.length > 1) || final !== NO_FINAL;
    if (receiver instanceof InfoRef) {
      const method = INFO_METHODS.get(fieldName);
      if (method) {
        const bound: GoFunc = { params: method.params, call: (a) => method.call(receiver, a) };
        return this.evalCall(dot, bound, node, fieldName, args, final);
      }
      if (INFO_FIELD_SET.has(fieldName)) {
        if (hasArgs) throw this.fail(`${fieldName} has arguments but cannot be invoked as function`);
        return infoField(receiver.info, fieldName as InfoField);
      }
    } else if (receiver instanceof GoMap) {
      if (hasArgs) throw this.fail(`${fieldName} is not a method but has arguments`);
      return receiver.get(fieldName) ?? null;
    } else if (receiver instanceof GoTime && TIME_METHODS.has(fieldName)) {
      throw this.fail(`method ${fieldName} of type time.Time is not supported in a log tag`);
    }
    throw this.fail(`can't evaluate field ${fieldName} in type ${typeName(receiver)}`);
  }

  private evalCall(dot: Value, fn: GoFunc, node: AnyNode, name: string, args: ArgNode[] | null, final: Final): Value {
    const argNodes = args ? args.slice(1) : []; // args[0] is the function or method itself
    const numIn = argNodes.length + (final !== NO_FINAL ? 1 : 0);
    let numFixed = argNodes.length;
    if (fn.variadic) {
      numFixed = fn.params.length;
      if (numIn < numFixed) {
        throw this.fail(`wrong number of args for ${name}: want at least ${fn.params.length} got ${argNodes.length}`);
      }
    } else if (numIn !== fn.params.length) {
      throw this.fail(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (fn.shortCircuit) {
      const stopOn = name === 'or';
      let v: Value = null;
      for (const a of argNodes) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === stopOn) return v;
      }
      if (final !== NO_FINAL) v = this.validateType(final, 'any');
      return v;
    }
    const argv: Value[] = [];
    let i = 0;
    for (; i < numFixed && i < argNodes.length; i++) argv.push(this.evalArg(dot, fn.params[i], argNodes[i]));
    if (fn.variadic) for (; i < argNodes.length; i++) argv.push(this.evalArg(dot, fn.variadic, argNodes[i]));
    if (final !== NO_FINAL) {
      let t: ParamType;
      if (!fn.variadic) t = fn.params[fn.params.length - 1];
      else t = numIn - 1 < numFixed ? fn.params[numIn - 1] : fn.variadic;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv);
    } catch (e) {
      if (e instanceof CallError || e instanceof RangeError) {
        this.at(node);
        throw this.fail(`error calling ${name}: ${e.message}`);
      }
      throw e;
    }
  }

  private validateType(value: Value, typ: ParamType): Value {
    if (value === null) {
      if (typ === 'any' || typ === 'func') return null;
      if (typ === '[]string') return new GoSlice(null);
      throw this.fail(`invalid value; expected ${GO_TYPE[typ]}`);
    }
    switch (typ) {
      case 'any':
        return value;
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (typeof value === 'number') return value;
        break;
      case '[]string':
        if (value instanceof GoSlice) return value;
        break;
    }
    throw this.fail(`wrong type for value; expected ${GO_TYPE[typ]}; got ${typeName(value)}`);
  }

  private evalArg(dot: Value, typ: ParamType, n: ArgNode): Value {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        if (typ === 'any' || typ === 'func') return null;
        if (typ === '[]string') return new GoSlice(null);
        throw this.fail(`cannot assign nil to ${GO_TYPE[typ]}`);
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n, n.ident, [n], NO_FINAL), typ);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, null, NO_FINAL), typ);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, null, NO_FINAL), typ);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, null, NO_FINAL), typ);
    }
    // A literal: its syntax must fit the parameter type.
    switch (typ) {
      case 'int':
        if (n.type === 'number' && n.isInt) return n.int;
        throw this.fail(`expected integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        throw this.fail(`expected string; found ${nodeString(n)}`);
      case 'any':
        if (n.type === 'bool') return n.value;
        if (n.type === 'string') return n.text;
        return this.idealConstant(n);
      default:
        throw this.fail(`can't handle ${nodeString(n)} for arg of type ${GO_TYPE[typ]}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------------------------------

/** Exact templates that need no interpreter: a direct getter with the same result. */
const FAST_PATHS: ReadonlyMap<string, TagRenderer> = new Map<string, TagRenderer>([
  ['{{.ID}}', (info) => truncateID(str(info.ContainerID))],
  ['{{.FullID}}', (info) => str(info.ContainerID)],
  ['{{.Name}}', (info) => str(info.ContainerName).replace(/^\//, '')],
  ['{{.ImageID}}', (info) => truncateID(str(info.ContainerImageID))],
  ['{{.ImageFullID}}', (info) => str(info.ContainerImageID)],
  ['{{.ImageName}}', (info) => str(info.ContainerImageName)],
  ['{{.Command}}', (info) => infoCommand(info)],
  ['{{.DaemonName}}', (info) => str(info.DaemonName)],
  ['{{.Hostname}}', (_info, hostname) => hostname ?? osHostname()],
]);

/**
 * Parses a tag template once (throws TagTemplateError on a syntax error or an unknown function) and
 * returns a renderer. The renderer throws TagTemplateError on an execution error, e.g. an unknown field.
 * `hostname` is what `{{.Hostname}}` gives; it defaults to os.hostname().
 */
export function compileTag(template: string): TagRenderer {
  const fast = FAST_PATHS.get(template);
  if (fast) return fast;
  const root = new Parser(template).parse();
  return (info, hostname) => {
    const dot = new InfoRef(info, hostname);
    const state = new State(template, dot);
    state.walk(dot, root);
    return state.out;
  };
}

/**
 * loggerutils.ParseLogTag: renders `template` (the `tag` log-opt), or `defaultTemplate` when it is empty.
 * Returns "" when both are empty.
 */
export function renderTag(template: string, info: ContainerInfo, defaultTemplate: string): string {
  const text = template === '' ? defaultTemplate : template;
  if (text === '') return '';
  return compileTag(text)(info);
}
