import { LogEntry } from '../docker/log-entry.js';

const EMPTY = Buffer.alloc(0);

/**
 * Joins the pieces the daemon splits a long line into (16 KB each, `partial` set, the last piece
 * with `partialLast`) back into one line, so that filters see whole lines: an exclude pattern or a
 * secret that straddles a split would otherwise be missed.
 *
 * Bounded both ways: a line longer than `maxBytes` is passed on in pieces of at most `maxBytes`
 * (still marked partial, so the sinks keep Docker's partial semantics), and a piece whose successor
 * does not come within `timeoutMs` is passed on as it is. One timer per container, armed only while
 * something is held. Kept per stream: stdout and stderr interleave.
 */
export interface ReassemblyOptions {
  maxBytes: number;
  timeoutMs: number;
}

class HeldLine {
  readonly entry = new LogEntry();
  chunks: Buffer[] = [];
  bytes = 0;
  since = 0;
  /** Pieces already passed on for this line (over maxBytes, or timed out): what follows stays partial. */
  sentPieces = 0;
  active = false;
}

export class Reassembler {
  private readonly held = new Map<string, HeldLine>();
  private readonly out = new LogEntry();
  private timer: NodeJS.Timeout | null = null;
  joined = 0;
  timedOut = 0;
  oversized = 0;

  constructor(
    private readonly options: ReassemblyOptions,
    /** Receives each whole line (or bounded piece); the entry is valid during the call only. */
    private readonly next: (entry: LogEntry) => void,
    /** Called after a timer released something, so the caller can flush its sinks. */
    private readonly afterTimer: () => void,
  ) {}

  push(entry: LogEntry): void {
    const line = this.held.get(entry.source);
    if (!entry.partial) {
      if (line !== undefined && line.active) this.abandon(line);
      this.next(entry);
      return;
    }
    if (line !== undefined && line.active && line.entry.partialId !== entry.partialId) this.abandon(line);
    if (line === undefined || !line.active) {
      if (entry.partialLast) return this.emitWhole(entry);
      const fresh = line ?? new HeldLine();
      this.held.set(entry.source, fresh);
      // Keeps the first piece's time and ids; the bytes are copied below (the chunk is reused).
      fresh.entry.assign(entry, false);
      fresh.entry.setLine(EMPTY);
      fresh.since = performance.now();
      fresh.active = true;
      return this.append(fresh, entry);
    }
    this.joined++;
    this.append(line, entry);
  }

  private append(line: HeldLine, entry: LogEntry): void {
    const length = entry.lineEnd - entry.lineStart;
    if (line.bytes > 0 && line.bytes + length > this.options.maxBytes) {
      this.oversized++;
      this.sendPiece(line, false);
    }
    line.chunks.push(Buffer.from(entry.buf.subarray(entry.lineStart, entry.lineEnd)));
    line.bytes += length;
    if (entry.partialLast) {
      if (line.sentPieces === 0) this.sendWhole(line);
      else this.sendPiece(line, true);
      this.reset(line);
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.onTimer(), this.options.timeoutMs);
    }
  }

  /** End of stream or chain replacement: passes on whatever is held. */
  flush(): void {
    for (const line of this.held.values()) if (line.active) this.abandon(line);
    this.close();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  get heldBytes(): number {
    let n = 0;
    for (const line of this.held.values()) n += line.bytes;
    return n;
  }

  private emitWhole(entry: LogEntry): void {
    const out = this.out.assign(entry, false);
    out.partial = false;
    out.partialLast = false;
    out.partialId = '';
    out.partialOrdinal = 0;
    this.next(out);
  }

  private sendWhole(line: HeldLine): void {
    const out = this.out.assign(line.entry, false);
    out.setLine(line.chunks.length === 1 ? line.chunks[0] : Buffer.concat(line.chunks, line.bytes));
    out.partial = false;
    out.partialLast = false;
    out.partialId = '';
    out.partialOrdinal = 0;
    line.chunks = [];
    line.bytes = 0;
    this.next(out);
  }

  /** Passes on the held bytes as one piece of a line (still partial: the sinks keep Docker's form). */
  private sendPiece(line: HeldLine, last: boolean): void {
    if (line.bytes === 0 && !last) return;
    const out = this.out.assign(line.entry, false);
    out.setLine(line.chunks.length === 1 ? line.chunks[0] : Buffer.concat(line.chunks, line.bytes));
    out.partial = true;
    out.partialLast = last;
    out.partialOrdinal = ++line.sentPieces;
    line.chunks = [];
    line.bytes = 0;
    this.next(out);
  }

  /** The rest of this line will not come (another line started, or the stream ended). */
  private abandon(line: HeldLine): void {
    this.sendPiece(line, false);
    this.reset(line);
  }

  private reset(line: HeldLine): void {
    line.active = false;
    line.sentPieces = 0;
    line.chunks = [];
    line.bytes = 0;
  }

  private onTimer(): void {
    this.timer = null;
    const now = performance.now();
    let next = Infinity;
    for (const line of this.held.values()) {
      if (line.bytes === 0) continue;
      const due = line.since + this.options.timeoutMs;
      if (due <= now) {
        this.timedOut++;
        this.sendPiece(line, false);
        line.since = now;
      } else next = Math.min(next, due);
    }
    if (next !== Infinity) this.timer = setTimeout(() => this.onTimer(), Math.max(1, next - now));
    this.afterTimer();
  }
}
