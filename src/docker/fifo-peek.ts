import { lazyLibc } from '../util/libc.js';
import { setPipeSize } from './pipe-size.js';

/**
 * Reading a FIFO without taking the bytes out of it until they are safe: tee(2) copies what the
 * FIFO holds into a private pipe, leaving it in the FIFO; the copy is read out of the private pipe
 * and processed, and only once the store has written it are the same bytes taken from the FIFO
 * (read into scratch space). A logfan killed at any point leaves every byte it has not written in
 * the FIFO, where the daemon keeps it for the next reader. Node has neither tee nor pipe2: koffi
 * calls libc's, as for fcntl. Every call is non-blocking and touches only pipe memory.
 */

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const SPLICE_F_NONBLOCK = 2;
const EAGAIN = 11;
const EINTR = 4;

interface PeekCalls extends Record<string, unknown> {
  pipe2: (fds: Int32Array, flags: number) => number;
  tee: (fdIn: number, fdOut: number, len: number, flags: number) => number | bigint;
  read: (fd: number, buf: Buffer, len: number) => number | bigint;
  close: (fd: number) => number;
}
type PeekLibc = PeekCalls & { errno: () => number };

/** Where consumed bytes are read to and dropped: one for all FIFOs (every call is synchronous). */
let scratch: Buffer | null = null;

const load = lazyLibc<PeekCalls>({
  pipe2: 'int pipe2(void *fds, int flags)',
  tee: 'intptr_t tee(int, int, size_t, unsigned int)',
  read: 'intptr_t read(int, void *, size_t)',
  close: 'int close(int)',
});

export class PeekError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

/** Result of peek(): the bytes at the head of the FIFO, 'empty' (nothing yet) or 'eof' (no writer, nothing left). */
export type PeekResult = Buffer | 'empty' | 'eof';

/**
 * The pipe every FIFO is copied into. One for the process: a peek reads its copy out at once, so
 * the pipe is empty between peeks (two fds and one pipe buffer in all, not per container).
 */
interface CopyPipe {
  read: number;
  write: number;
  size: number;
}
let copyPipe: CopyPipe | null = null;

function openCopyPipe(c: PeekLibc, bytes: number): CopyPipe | null {
  if (copyPipe) return copyPipe;
  const fds = new Int32Array(2);
  if (c.pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) return null;
  const size = setPipeSize(fds[1]!, bytes);
  copyPipe = { read: fds[0]!, write: fds[1]!, size: size > 0 ? size : 64 * 1024 };
  return copyPipe;
}

/** After a failed read the copy pipe may hold stray bytes: replace it. */
function discardCopyPipe(c: PeekLibc): void {
  if (!copyPipe) return;
  c.close(copyPipe.read);
  c.close(copyPipe.write);
  copyPipe = null;
}

export class FifoPeeker {
  private readonly c: PeekLibc;
  readonly copySize: number;

  /** Null when tee is not available here (no koffi, no pipe2): the caller reads the FIFO directly. */
  static create(fifoFd: number, pipeBytes: number): FifoPeeker | null {
    const c = load();
    if (!c) return null;
    const pipe = openCopyPipe(c, pipeBytes);
    if (!pipe) return null;
    return new FifoPeeker(c, fifoFd, Math.min(pipe.size, pipeBytes));
  }

  private constructor(
    c: PeekLibc,
    private readonly fifoFd: number,
    copySize: number,
  ) {
    this.c = c;
    // One peek takes at most what the copy pipe holds.
    this.copySize = copySize;
  }

  /** Copies up to `max` bytes from the FIFO's head, leaving them there. */
  peek(max: number): PeekResult {
    const pipe = openCopyPipe(this.c, this.copySize);
    if (!pipe) throw new PeekError('cannot create the copy pipe', this.c.errno());
    let n: number;
    for (;;) {
      n = Number(this.c.tee(this.fifoFd, pipe.write, Math.min(max, this.copySize, pipe.size), SPLICE_F_NONBLOCK));
      if (n >= 0) break;
      const errno = this.c.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return 'empty';
      throw new PeekError(`tee from the FIFO: errno ${errno}`, errno);
    }
    if (n === 0) return 'eof';
    const buf = Buffer.allocUnsafe(n);
    try {
      this.readExactly(pipe.read, buf, n, 'the copy pipe');
    } catch (err) {
      discardCopyPipe(this.c);
      throw err;
    }
    return buf;
  }

  /** Takes `n` bytes (already peeked and processed) out of the FIFO. */
  consume(n: number): void {
    if (n <= 0) return;
    scratch ??= Buffer.allocUnsafe(256 * 1024);
    let left = n;
    while (left > 0) left -= this.readExactly(this.fifoFd, scratch, Math.min(left, scratch.length), 'the FIFO');
  }

  private readExactly(fd: number, buf: Buffer, n: number, what: string): number {
    let got = 0;
    while (got < n) {
      const r = Number(this.c.read(fd, got === 0 ? buf : buf.subarray(got), n - got));
      if (r > 0) {
        got += r;
        continue;
      }
      const errno = r < 0 ? this.c.errno() : 0;
      if (errno === EINTR) continue;
      // Cannot happen while logfan is the only reader: the bytes were counted by tee.
      throw new PeekError(`read ${n} bytes from ${what}: got ${got}, ${r < 0 ? `errno ${errno}` : 'end of file'}`, errno);
    }
    return got;
  }

  /** Nothing of its own to release: the copy pipe is shared; the FIFO's fd is the reader's. */
  close(): void {}
}
