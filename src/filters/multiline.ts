import { z } from 'zod';
import { LogEntry } from '../docker/log-entry.js';
import type { Filter, FilterContext, FilterFactory } from './filter.js';
import { ByteMarkers } from './byte-search.js';
import { type Clock, monotonicMs, parseWith, userRegex } from './options.js';

/**
 * `multiline` joins the lines of one event (a stack trace, mostly) into one entry, with '\n'
 * between the lines.
 *
 *   {type: 'multiline', preset?: 'java'|'python'|'go'|'node', start?: string, continue?: string,
 *    maxLines?: number (500), maxBytes?: number (1048576), timeoutMs?: number (1000)}
 *
 * Exactly one of preset, start and continue. stdout and stderr are joined separately. A held
 * record keeps the time, source, fields and severity of its first line and is released
 * - when a line arrives on its stream that does not continue it: a new start (process returns the
 *   held record and holds the new line) or an unrelated line (the record is emitted first, then the
 *   line passes on, so the order is kept);
 * - when the next line would exceed maxLines or maxBytes: the record is released and the line starts
 *   the next one, so a very long trace becomes several consecutive records (counted in `limited`);
 * - when timeoutMs passes without a new line on its stream (one timer per filter instance, armed
 *   while something is held; released through ctx.emit);
 * - on flush (end of stream, reload).
 * Blank lines a record ended with (a Python traceback waiting for a chained exception, the blank
 * after a Go trace) are trimmed when it is released. Lines merged into a record count in `joined`.
 *
 * How each mode decides. A line is PASS (not part of an event: it goes straight on, and releases
 * what its stream held), START (begins a record), CONT (appended) or END (appended, and the
 * record released at once). Lines that cannot begin an event pass straight through, so ordinary
 * logs are not delayed; only a line that may be followed by a trace waits, at most until the next
 * line on its stream or timeoutMs.
 *
 * - java: START on an exception header: `Exception in thread "…" …`, or a line that begins with
 *   a (qualified) class name ending in Exception, Error or Throwable followed by `:` or the end of
 *   the line. CONT on `\tat …`, `\t... N more`, `... N common frames omitted`, `Caused by: …`,
 *   `Suppressed: …`. A log line at error level (ERROR, FATAL, SEVERE, CRITICAL, "Exception",
 *   "Error"…; not WARN, to keep the set of delayed lines small) is held tentatively: if an
 *   exception header or a frame follows, it becomes the first line of the record (logback's
 *   `ERROR … - Request failed` + its stack trace); otherwise it is released as it is when the
 *   next line arrives.
 * - python: START on `Traceback (most recent call last):` (or a tentative error-level line as in
 *   java, which the Traceback line then continues). Inside the traceback every indented line
 *   (`  File "…", line N, in f`, the code line, 3.11's `~~~^^^` markers) is CONT; the first
 *   non-indented line is the exception (`ValueError: …`, `KeyboardInterrupt`) and is CONT too.
 *   After it, blank lines, `During handling of the above exception, another exception occurred:`,
 *   `The above exception was the direct cause of the following exception:` and the next
 *   `Traceback` continue a chained exception; any other line releases the record. The record is
 *   thus released by the next unrelated line or the timeout, not by the exception line itself.
 * - go: START on `panic: `, `fatal error: `, `goroutine N […]:` (a SIGQUIT dump) or `SIGxxx: `.
 *   Inside, blank lines, `goroutine N …`, function lines `pkg.(*T).f(args…)`, `\t/path/x.go:12 +0x1d`,
 *   `created by …`, `[signal …]`, `...additional frames elided...` and register dumps are CONT;
 *   `exit status N` (printed by `go run`) is END. Anything else releases the record.
 * - node: START on an error header (`Error: …`, `TypeError: …`, `Error [ERR_X]: …`,
 *   `Uncaught …`) or on the `file:line` location line Node prints before an uncaught exception
 *   (then the source line, the `^` marker and a blank line are CONT). After the header every
 *   indented line (`    at …`, util.inspect's `  code: 'ECONNREFUSED',`, `[cause]: …`), a line
 *   starting with `}` and blank lines are CONT; `Node.js vNN` ends the record (END). Error-level
 *   log lines are held tentatively as in java.
 * - start: a line matching `start` is START; while a record is held every other line is CONT;
 *   with nothing held, a non-matching line passes. Each record waits for the next start line (or
 *   the timeout): that is inherent to "start" patterns.
 * - continue: a line matching `continue` is CONT (PASS with nothing held); every other line is
 *   START: it is held until the next line shows whether it is continued.
 *
 * Presets test the line decoded as latin1 (their patterns are ASCII; no UTF-8 decoding cost);
 * user patterns see the UTF-8 text. With nothing held, a preset first scans the bytes for the
 * words its START patterns need (error, exception, fatal… in any case, `Traceback`, `panic: ` at
 * the start…), skipping most bytes (Boyer-Moore-Horspool), so an ordinary line is passed on
 * without being decoded.
 */
export interface MultilineOptions {
  type: 'multiline';
  preset?: MultilinePreset;
  start?: string;
  continue?: string;
  maxLines: number;
  maxBytes: number;
  timeoutMs: number;
  /** Monotonic milliseconds; for tests (not accepted from configuration). */
  now?: Clock;
  /**
   * false: classify every line, skipping the presets' byte-level "could start a record" test (for
   * tests, which compare the two; not accepted from configuration).
   */
  precheck?: boolean;
}

export type MultilinePreset = 'java' | 'python' | 'go' | 'node';

const schema = z
  .strictObject({
    type: z.literal('multiline'),
    preset: z.enum(['java', 'python', 'go', 'node']).optional(),
    start: z.string().min(1).optional(),
    continue: z.string().min(1).optional(),
    maxLines: z.number().int().min(1).max(100_000).default(500),
    maxBytes: z.number().int().min(1024).max(16 << 20).default(1 << 20),
    timeoutMs: z.number().min(1).max(600_000).default(1000),
  })
  .refine((o) => Number(o.preset !== undefined) + Number(o.start !== undefined) + Number(o.continue !== undefined) === 1, {
    message: 'give exactly one of preset, start and continue',
  });

const EXPECTED =
  '{type: "multiline", preset: "java"|"python"|"go"|"node" | start: string (regex) | continue: string (regex), maxLines?: integer 1..100000 (500), maxBytes?: integer 1024..16777216 (1048576), timeoutMs?: number 1..600000 (1000)}';

const PASS = 0;
const START = 1;
const CONT = 2;
const END = 3;

// Modes (StreamState.mode): 0 = nothing held.
const M_TENTATIVE = 1; // an error-level log line that a trace may follow
const M_TRACE = 2; // inside a trace
const M_AFTER_EXC = 3; // python: after the exception line; node: after the location line
const M_CHAIN = 4; // python: between chained exceptions

class StreamState {
  /** Metadata of the record's first line (its line bytes are in `acc`); null = nothing held. */
  held: LogEntry | null = null;
  acc: Buffer = Buffer.allocUnsafe(0);
  len = 0;
  lines = 0;
  mode = 0;
  /** The mode the classifier chose for the line it just classified. */
  next = 0;
  /** When the record last grew (monotonic ms). */
  last = 0;
}

interface Classifier {
  /** Test the UTF-8 text (user patterns) rather than the cheaper latin1 decoding. */
  readonly utf8: boolean;
  /**
   * With nothing held, a byte-level test that the line could begin a record (contains a marker
   * the START patterns need); false = PASS without decoding the line. null = always classify.
   */
  readonly mayStart: ((buf: Buffer, start: number, end: number) => boolean) | null;
  /** PASS/START/CONT/END for `line`, given `st.mode`; sets `st.next` for START and CONT. */
  classify(line: string, st: StreamState): number;
}

/**
 * Words (any case) one of which every line that can begin a java/python/node record contains: each
 * ERRORISH alternative, the java and node error headers (Exception, Error, Throwable) and the
 * python traceback header. A byte-level search for them (ByteMarkers: Horspool, so most of an
 * ordinary line is skipped 5 bytes at a time) is much cheaper than decoding the line and running
 * the START regexes, which only have to run when it says yes.
 */
const ERROR_WORDS = ['error', 'exception', 'critical', 'fatal', 'severe'];

/** Error-level words that make a log line worth holding until the next line. */
const ERRORISH = /\b(?:ERROR|CRITICAL|FATAL|SEVERE|[Ee]rror|[Ee]xception|[Ff]atal)\b|[a-z](?:Exception|Error)\b/;

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function isIndented(line: string): boolean {
  const c = line.charCodeAt(0);
  return c === 0x20 || c === 0x09;
}

const J_FRAME = /^[ \t]+(?:at |\.\.\. \d+ (?:more|common frames omitted))|^[ \t]*(?:Caused by|Suppressed|Wrapped by): /;
const J_HEADER = /^(?:Exception in thread "|(?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable)(?::|$))/;

const javaMarkers = new ByteMarkers([...ERROR_WORDS, 'throwable']);

const java: Classifier = {
  utf8: false,
  mayStart: (buf, start, end) => javaMarkers.test(buf, start, end),
  classify(line, st) {
    const m = st.mode;
    if (m !== 0 && J_FRAME.test(line)) {
      st.next = M_TRACE;
      return CONT;
    }
    if (J_HEADER.test(line)) {
      st.next = M_TRACE;
      return m === M_TENTATIVE ? CONT : START;
    }
    if (ERRORISH.test(line)) {
      st.next = M_TENTATIVE;
      return START;
    }
    return PASS;
  },
};

const PY_TRACEBACK = /^[ \t|+]*(?:Exception Group )?Traceback \(most recent call last\):\s*$/;
const PY_CHAIN = /^(?:During handling of the above exception, another exception occurred|The above exception was the direct cause of the following exception):\s*$/;

const pythonMarkers = new ByteMarkers([...ERROR_WORDS, 'traceback']);

const python: Classifier = {
  utf8: false,
  mayStart: (buf, start, end) => pythonMarkers.test(buf, start, end),
  classify(line, st) {
    const m = st.mode;
    if (m === M_TRACE) {
      // Indented: frames, code, markers. The first non-indented line is the exception.
      st.next = isIndented(line) || isBlank(line) ? M_TRACE : M_AFTER_EXC;
      return CONT;
    }
    if (m === M_AFTER_EXC || m === M_CHAIN) {
      if (isBlank(line) || PY_CHAIN.test(line)) {
        st.next = M_CHAIN;
        return CONT;
      }
      if (m === M_AFTER_EXC && isIndented(line)) {
        // a multi-line exception message or an exception group's tree
        st.next = M_AFTER_EXC;
        return CONT;
      }
      if (m === M_CHAIN && PY_TRACEBACK.test(line)) {
        st.next = M_TRACE;
        return CONT;
      }
    }
    if (PY_TRACEBACK.test(line)) {
      st.next = M_TRACE;
      return m === M_TENTATIVE ? CONT : START;
    }
    if (ERRORISH.test(line)) {
      st.next = M_TENTATIVE;
      return START;
    }
    return PASS;
  },
};

const GO_START = /^(?:panic: |fatal error: |goroutine \d+ .*\]:$|SIG[A-Z]+: )/;
const GO_CONT = /^(?:goroutine \d+ |created by |\[signal |\.\.\.|panic: |fatal error: |[a-z0-9]{2,4} +0x[0-9a-f]+$|[\w./*()[\]{}~-]+\(.*\)$)/;
const GO_EXIT = /^exit status \d+$/;

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (end - start < prefix.length) return false;
  for (let j = 0; j < prefix.length; j++) if (buf[start + j] !== prefix[j]) return false;
  return true;
}

const GO_PREFIXES = ['panic: ', 'fatal error: ', 'goroutine ', 'SIG'].map((p) => Buffer.from(p));

const go: Classifier = {
  utf8: false,
  mayStart(buf, start, end) {
    for (const p of GO_PREFIXES) if (startsWith(buf, start, end, p)) return true;
    return false;
  },
  classify(line, st) {
    if (st.mode === M_TRACE) {
      if (line.charCodeAt(0) === 0x09 || isBlank(line) || GO_CONT.test(line)) {
        st.next = M_TRACE;
        return CONT;
      }
      if (GO_EXIT.test(line)) return END;
    }
    if (GO_START.test(line)) {
      st.next = M_TRACE;
      return START;
    }
    return PASS;
  },
};

const N_HEADER = /^(?:Uncaught |\[UnhandledPromiseRejection|(?:[A-Z][\w$]*)?(?:Error|Exception)(?: \[[\w$]+\])?(?::|$))/;
const N_AT = /^[ \t]+at /;
const N_LOCATION = /^(?:node:[\w/]+|(?:file:\/\/)?\/[^\s:]+):\d+$/;
const N_CARET = /^[ \t]*\^+[ \t]*$/;
const N_VERSION = /^Node\.js v\d+/;

const nodeMarkers = new ByteMarkers([...ERROR_WORDS, 'uncaught ', '[unhandledpromiserejection']);

const node: Classifier = {
  utf8: false,
  mayStart(buf, start, end) {
    // the `/app/index.js:5` / `node:internal/…:873` / `file:///…:3` line before an uncaught exception
    if (end <= start) return false;
    const c = buf[start];
    const last = buf[end - 1];
    if ((c === 0x2f || c === 0x6e || c === 0x66) && last >= 0x30 && last <= 0x39) return true;
    return nodeMarkers.test(buf, start, end);
  },
  classify(line, st) {
    const m = st.mode;
    if (m === M_AFTER_EXC) {
      // after `/app/index.js:5`: the source line, the ^ marker, a blank line, then the error
      if (N_HEADER.test(line)) {
        st.next = M_TRACE;
        return CONT;
      }
      if (st.lines === 1 || N_CARET.test(line) || isBlank(line)) {
        st.next = M_AFTER_EXC;
        return CONT;
      }
    } else if (m === M_TRACE) {
      if (isIndented(line) || isBlank(line) || line.charCodeAt(0) === 0x7d /* } */) {
        st.next = M_TRACE;
        return CONT;
      }
      if (N_VERSION.test(line)) return END;
    } else if (m === M_TENTATIVE) {
      if (N_AT.test(line) || N_HEADER.test(line)) {
        st.next = M_TRACE;
        return CONT;
      }
    }
    if (N_LOCATION.test(line)) {
      st.next = M_AFTER_EXC;
      return START;
    }
    if (N_HEADER.test(line)) {
      st.next = M_TRACE;
      return START;
    }
    if (ERRORISH.test(line)) {
      st.next = M_TENTATIVE;
      return START;
    }
    return PASS;
  },
};

const PRESETS: Record<MultilinePreset, Classifier> = { java, python, go, node };

function startClassifier(re: RegExp): Classifier {
  return {
    utf8: true,
    mayStart: null,
    classify(line, st) {
      st.next = M_TRACE;
      if (re.test(line)) return START;
      return st.mode !== 0 ? CONT : PASS;
    },
  };
}

function continueClassifier(re: RegExp): Classifier {
  return {
    utf8: true,
    mayStart: null,
    classify(line, st) {
      st.next = M_TRACE;
      if (re.test(line)) return st.mode !== 0 ? CONT : PASS;
      return START;
    },
  };
}

const EMPTY = Buffer.alloc(0);
const SMALL_ACC = 4096;

class MultilineFilter implements Filter {
  private joined = 0;
  private released = 0;
  private timedOut = 0;
  private limited = 0;
  private readonly out = new StreamState();
  private readonly err = new StreamState();
  private readonly classifier: Classifier;
  private readonly mayStart: Classifier['mayStart'];
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly now: Clock;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    o: MultilineOptions,
    private readonly ctx: FilterContext,
  ) {
    if (o.preset !== undefined) this.classifier = PRESETS[o.preset];
    else if (o.start !== undefined) this.classifier = startClassifier(userRegex(o.start, '', name, 'start'));
    else this.classifier = continueClassifier(userRegex(o.continue!, '', name, 'continue'));
    this.mayStart = o.precheck === false ? null : this.classifier.mayStart;
    this.maxLines = o.maxLines;
    this.maxBytes = o.maxBytes;
    this.timeoutMs = o.timeoutMs;
    this.now = o.now ?? monotonicMs;
  }

  process(entry: LogEntry): LogEntry | null {
    const st = entry.source === 'stderr' ? this.err : this.out;
    const mayStart = this.mayStart;
    if (st.held === null && mayStart !== null && !mayStart(entry.buf, entry.lineStart, entry.lineEnd)) return entry;
    const line = this.classifier.utf8 ? entry.text() : entry.buf.toString('latin1', entry.lineStart, entry.lineEnd);
    const action = this.classifier.classify(line, st);
    if (action === PASS) {
      if (st.held !== null) this.ctx.emit(this.release(st));
      return entry;
    }
    if (action === START) {
      const prev = st.held === null ? null : this.release(st);
      this.hold(st, entry, st.next);
      return prev;
    }
    // CONT or END: only with a record held (the classifiers check st.mode; this is a safeguard)
    if (st.held === null) return entry;
    const n = entry.lineEnd - entry.lineStart;
    if (st.lines + 1 > this.maxLines || st.len + 1 + n > this.maxBytes) {
      // Full: release it; the line starts the next record (an END line goes on alone, after it).
      this.limited++;
      const prev = this.release(st);
      if (action === END) {
        this.ctx.emit(prev);
        return entry;
      }
      this.hold(st, entry, st.next);
      return prev;
    }
    this.append(st, entry, n);
    if (action === END) return this.release(st);
    st.mode = st.next;
    return null;
  }

  private ensure(st: StreamState, size: number): void {
    if (size <= st.acc.length) return;
    let cap = Math.max(SMALL_ACC, st.acc.length * 2);
    while (cap < size) cap *= 2;
    const acc = Buffer.allocUnsafe(cap);
    st.acc.copy(acc, 0, 0, st.len);
    st.acc = acc;
  }

  private hold(st: StreamState, entry: LogEntry, mode: number): void {
    const held = new LogEntry().assign(entry, false);
    held.setLine(EMPTY);
    const n = entry.lineEnd - entry.lineStart;
    this.ensure(st, n);
    entry.buf.copy(st.acc, 0, entry.lineStart, entry.lineEnd);
    st.held = held;
    st.len = n;
    st.lines = 1;
    st.mode = mode;
    st.last = this.now();
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(this.onTimer, this.timeoutMs);
      this.timer.unref();
    }
  }

  private append(st: StreamState, entry: LogEntry, n: number): void {
    this.ensure(st, st.len + 1 + n);
    st.acc[st.len] = 0x0a;
    entry.buf.copy(st.acc, st.len + 1, entry.lineStart, entry.lineEnd);
    st.len += 1 + n;
    st.lines++;
    st.last = this.now();
    this.joined++;
  }

  private release(st: StreamState): LogEntry {
    const out = st.held!;
    let len = st.len;
    // trailing blank lines (only those that were appended: the first line stays whole)
    while (st.lines > 1 && len > 0 && st.acc[len - 1] === 0x0a) len--;
    out.setLine(Buffer.from(st.acc.subarray(0, len)));
    st.held = null;
    st.len = 0;
    st.lines = 0;
    st.mode = 0;
    if (st.acc.length > 16 * SMALL_ACC) st.acc = Buffer.allocUnsafe(SMALL_ACC);
    this.released++;
    return out;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.closed) return;
    for (const st of this.older()) {
      if (st.held !== null && st.last + this.timeoutMs <= this.now()) {
        this.timedOut++;
        this.ctx.emit(this.release(st));
      }
    }
    // Still holding (not due yet, or held again while emitting): wait for the earlier deadline.
    let due = Infinity;
    if (this.out.held !== null) due = this.out.last;
    if (this.err.held !== null) due = Math.min(due, this.err.last);
    if (due !== Infinity && this.timer === null) {
      this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(due + this.timeoutMs - this.now())));
      this.timer.unref();
    }
  };

  /** The two streams, the one whose held record started first first. */
  private older(): StreamState[] {
    const a = this.out.held;
    const b = this.err.held;
    if (a !== null && b !== null && (b.timeSec < a.timeSec || (b.timeSec === a.timeSec && b.timeNsec < a.timeNsec))) return [this.err, this.out];
    return [this.out, this.err];
  }

  flush(): void {
    for (const st of this.older()) if (st.held !== null) this.ctx.emit(this.release(st));
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  stats(): Record<string, number> {
    return { joined: this.joined, released: this.released, timedOut: this.timedOut, limited: this.limited };
  }
}

export const multilineFactory: FilterFactory<MultilineOptions> = {
  type: 'multiline',
  parseOptions(raw: unknown, where: string): MultilineOptions {
    const o = parseWith(schema, raw, where, EXPECTED);
    if (o.start !== undefined) userRegex(o.start, '', where, 'start');
    if (o.continue !== undefined) userRegex(o.continue, '', where, 'continue');
    return o;
  },
  create(options: MultilineOptions, ctx: FilterContext, name: string): Filter {
    return new MultilineFilter(name, options, ctx);
  },
};
