import { createRequire } from 'node:module';

/**
 * libc through koffi (FFI with prebuilt binaries, no compiler at install), for the few calls
 * Node lacks: fcntl(F_SETPIPE_SZ) on FIFOs, sendmsg with SCM_RIGHTS for journald. Loaded once;
 * null when koffi or libc cannot load, and callers fall back.
 */
export interface Koffi {
  load(name: string): { func(signature: string): (...args: unknown[]) => unknown };
  struct(name: string, def: Record<string, string>): unknown;
  errno(): number;
}

let loaded: { koffi: Koffi; libc: ReturnType<Koffi['load']> } | null | undefined;

export function loadLibc(): { koffi: Koffi; libc: ReturnType<Koffi['load']> } | null {
  if (loaded !== undefined) return loaded;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    loaded = { koffi, libc: koffi.load('libc.so.6') };
  } catch {
    loaded = null;
  }
  return loaded;
}

/**
 * Binds libc functions by their C signatures, plus errno; null when koffi or libc cannot load or a
 * signature does not bind. Callers cache the result (binding costs a lookup each).
 */
export function bindLibc<T extends Record<string, unknown>>(signatures: { [K in keyof T]: string }): (T & { errno: () => number }) | null {
  const ffi = loadLibc();
  if (!ffi) return null;
  try {
    const out: Record<string, unknown> = { errno: () => ffi.koffi.errno() };
    for (const [name, signature] of Object.entries(signatures)) out[name] = ffi.libc.func(signature as string);
    return out as T & { errno: () => number };
  } catch {
    return null;
  }
}

/** bindLibc on first use, then the same result (null included) on every later call. */
export function lazyLibc<T extends Record<string, unknown>>(signatures: { [K in keyof T]: string }): () => (T & { errno: () => number }) | null {
  let bound: (T & { errno: () => number }) | null | undefined;
  return () => {
    if (bound === undefined) bound = bindLibc<T>(signatures);
    return bound;
  };
}
