import { getSystemErrorMap } from 'node:util';
import { lazyLibc } from '../../util/libc.js';

/**
 * A connected, non-blocking Unix datagram socket to journald, through libc (koffi): Node has no
 * Unix datagram sockets, and node-unix-socket's send path cost ~25 µs of CPU a line around
 * journald's full queue (docs/decisions.md, "journald send path"). Each send is one synchronous
 * send(2) with MSG_DONTWAIT; it never blocks.
 */

export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;

export const EAGAIN = 11;
export const ENOBUFS = 105;
export const EMSGSIZE = 90;
export const EINTR = 4;

interface DatagramCalls extends Record<string, unknown> {
  socket: (domain: number, type: number, protocol: number) => number;
  connect: (fd: number, addr: Buffer, len: number) => number;
  send: (fd: number, buf: Buffer, len: number, flags: number) => number | bigint;
  close: (fd: number) => number;
}
type DatagramLibc = DatagramCalls & { errno: () => number };


const load = lazyLibc<DatagramCalls>({
  socket: 'int socket(int, int, int)',
  connect: 'int connect(int, const void *, uint32)',
  send: 'intptr_t send(int, const void *, size_t, int)',
  close: 'int close(int)',
});

/** Thrown by connect(): journald is not there (ENOENT, ECONNREFUSED, ...) or libc could not load. */
export class DatagramSocketError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

export class JournalDatagramSocket {
  private fd = -1;
  private readonly c: DatagramLibc;
  private readonly addr: Buffer;
  private readonly addrLen: number;

  constructor(readonly path: string) {
    const c = load();
    if (!c) throw new DatagramSocketError('Unix datagram sockets unavailable: koffi could not load libc', 0);
    this.c = c;
    this.addr = Buffer.alloc(110);
    this.addr.writeUInt16LE(AF_UNIX, 0);
    const n = this.addr.write(path, 2, 107, 'utf8');
    this.addrLen = 2 + n + 1;
  }

  get connected(): boolean {
    return this.fd >= 0;
  }

  /** Opens and connects the socket; throws DatagramSocketError naming the path and errno. */
  connect(): void {
    if (this.fd >= 0) return;
    const fd = this.c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const errno = this.c.errno();
      throw new DatagramSocketError(`socket(AF_UNIX, SOCK_DGRAM): errno ${errno}`, errno);
    }
    if (this.c.connect(fd, this.addr, this.addrLen) !== 0) {
      const errno = this.c.errno();
      this.c.close(fd);
      throw new DatagramSocketError(`connect ${this.path}: ${errnoName(errno)}`, errno);
    }
    this.fd = fd;
  }

  /** One datagram: 0 when sent, else the errno (EAGAIN: journald's queue is full). */
  send(buf: Buffer): number {
    for (;;) {
      if (Number(this.c.send(this.fd, buf, buf.length, MSG_DONTWAIT | MSG_NOSIGNAL)) >= 0) return 0;
      const errno = this.c.errno();
      if (errno !== EINTR) return errno;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    this.c.close(this.fd);
    this.fd = -1;
  }
}

const SYSTEM_ERRORS = getSystemErrorMap();

/** "ENOENT: no such file or directory", as Node words its own errors. */
export function errnoName(errno: number): string {
  const e = SYSTEM_ERRORS.get(-errno);
  return e ? `${e[0]}: ${e[1]}` : `errno ${errno}`;
}

/**
 * How long sinks whose send got EAGAIN pause before trying again. journald works through its
 * 10-datagram queue (net.unix.max_dgram_qlen) in ~250 µs, so a pause this short keeps that queue
 * from running dry while the sender stays off the CPU. Measured alternatives
 * (bench/journald-ceiling-koffi.mjs, bench/sinks-syslog-journald.mjs; docs/decisions.md): waiting
 * in poll(POLLOUT) makes journald wake the sender for every datagram it takes (+7 µs of journald's
 * CPU a line, the run 40% slower); usleep on a libuv pool thread costs ~100 µs of CPU a round trip
 * and overshoots to ~225 µs; retrying at once from setImmediate doubles logfan's CPU for no gain.
 */
export const ROOM_WAIT_US = 30;

const waiting: Array<() => void> = [];
let waitScheduled = false;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function pauseThenRetry(): void {
  waitScheduled = false;
  // A deliberate pause of the event loop, once per turn for all waiting sinks and only while
  // journald's queue is full; sinks fall back to timers once journald takes nothing (the caller's
  // stall logic), so this never becomes a long block.
  Atomics.wait(sleepCell, 0, 0, ROOM_WAIT_US / 1000);
  const list = waiting.splice(0);
  for (let i = 0; i < list.length; i++) list[i]!();
}

/** Calls `retry` in a later turn of the event loop, after ~ROOM_WAIT_US shared by all waiting sinks. */
export function afterRoomWait(retry: () => void): void {
  waiting.push(retry);
  if (waitScheduled) return;
  waitScheduled = true;
  setImmediate(pauseThenRetry);
}
