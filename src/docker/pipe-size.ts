import { loadLibc } from '../util/libc.js';

/**
 * Grows a FIFO's kernel buffer with fcntl(F_SETPIPE_SZ). The daemon writes each entry to the
 * pipe separately; with the default 64 KiB a reader must wake every few hundred entries or the
 * container blocks, and those wake-ups cost more than json-file itself. A 1 MiB pipe lets the
 * reader take large batches (../bench). Node has no fcntl: koffi (FFI with prebuilt binaries,
 * no compiler needed) calls libc's.
 */

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

type Fcntl = (fd: number, cmd: number, arg: number) => number;
let fcntl: Fcntl | null | undefined;

function loadFcntl(): Fcntl | null {
  if (fcntl !== undefined) return fcntl;
  const ffi = loadLibc();
  try {
    fcntl = ffi ? (ffi.libc.func('int fcntl(int fd, int cmd, int arg)') as Fcntl) : null;
  } catch {
    fcntl = null;
  }
  return fcntl;
}

/** Sets the pipe's buffer to `bytes` (or as close as the kernel allows); returns the size now in force, or -1. */
export function setPipeSize(fd: number, bytes: number): number {
  const f = loadFcntl();
  if (!f) return -1;
  if (f(fd, F_SETPIPE_SZ, bytes) < 0) {
    // Unprivileged processes are capped by /proc/sys/fs/pipe-max-size: keep what we have.
    return f(fd, F_GETPIPE_SZ, 0);
  }
  return f(fd, F_GETPIPE_SZ, 0);
}
