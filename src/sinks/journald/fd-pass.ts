import crypto from 'node:crypto';
import fs from 'node:fs';
import { loadLibc } from '../../util/libc.js';
import { AF_UNIX, MSG_DONTWAIT, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from './datagram-socket.js';

/**
 * go-systemd's fallback for an entry too large for one datagram (journal.Send after EMSGSIZE or
 * ENOBUFS): write it to a temp file in /dev/shm/ (pattern journal.XXXXX), unlink the file, and pass
 * its descriptor to journald with SCM_RIGHTS in an empty datagram.
 *
 * node-unix-socket cannot send ancillary data, and Node has no sendmsg: koffi (FFI with prebuilt
 * binaries, already used for fcntl) calls libc's socket/sendmsg/close on a socket of our own. The
 * calls are synchronous and non-blocking (MSG_DONTWAIT); they only run for oversized entries.
 */

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  sendmsg: (fd: number, msg: unknown, flags: number) => number | bigint;
  close: (fd: number) => number;
  errno: () => number;
}

let libc: Libc | null | undefined;
let sock = -1;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  const ffi = loadLibc();
  if (!ffi) return (libc = null);
  try {
    const { koffi, libc: lib } = ffi;
    koffi.struct('logfan_iovec', { iov_base: 'void *', iov_len: 'size_t' });
    koffi.struct('logfan_msghdr', {
      msg_name: 'void *',
      msg_namelen: 'uint32',
      msg_iov: 'logfan_iovec *',
      msg_iovlen: 'size_t',
      msg_control: 'void *',
      msg_controllen: 'size_t',
      msg_flags: 'int',
    });
    libc = {
      socket: lib.func('int socket(int, int, int)') as Libc['socket'],
      sendmsg: lib.func('intptr_t sendmsg(int, const logfan_msghdr *, int)') as Libc['sendmsg'],
      close: lib.func('int close(int)') as Libc['close'],
      errno: () => koffi.errno(),
    };
  } catch {
    libc = null;
  }
  return libc;
}

export type FdSendResult = { ok: true } | { ok: false; errno: number; message: string };

function sockaddrUn(path: string): { name: Buffer; length: number } {
  const name = Buffer.alloc(110);
  name.writeUInt16LE(AF_UNIX, 0);
  const n = name.write(path, 2, 107, 'utf8');
  return { name, length: 2 + n + 1 };
}

/**
 * Sends `payload` (a complete native-protocol entry) to the journal socket at `path` through an
 * unlinked /dev/shm file. Never blocks; EAGAIN comes back as a result for the caller to retry.
 */
export function sendViaFd(path: string, payload: Buffer, shmDir = '/dev/shm'): FdSendResult {
  const c = load();
  if (!c) return { ok: false, errno: 0, message: 'descriptor passing unavailable (koffi could not load libc)' };
  if (sock < 0) {
    sock = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0) return { ok: false, errno: c.errno(), message: `socket: errno ${c.errno()}` };
  }
  let fd = -1;
  try {
    const file = `${shmDir}/journal.XXXXX${crypto.randomInt(0, 2 ** 32)}`;
    fd = fs.openSync(file, 'wx+', 0o600);
    fs.unlinkSync(file);
    let off = 0;
    while (off < payload.length) off += fs.writeSync(fd, payload, off, payload.length - off);
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    return { ok: false, errno: 0, message: `temp file in ${shmDir}: ${(err as Error).message}` };
  }
  try {
    const { name, length } = sockaddrUn(path);
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + one int, CMSG_SPACE = 24
    const control = Buffer.alloc(24);
    control.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const r = Number(
      c.sendmsg(
        sock,
        { msg_name: name, msg_namelen: length, msg_iov: null, msg_iovlen: 0, msg_control: control, msg_controllen: 24, msg_flags: 0 },
        MSG_DONTWAIT | MSG_NOSIGNAL,
      ),
    );
    if (r < 0) {
      const errno = c.errno();
      return { ok: false, errno, message: `sendmsg with SCM_RIGHTS: errno ${errno}` };
    }
    return { ok: true };
  } finally {
    fs.closeSync(fd);
  }
}
