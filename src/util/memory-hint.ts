import { lazyLibc } from './libc.js';

/**
 * Most of logfan's garbage is Buffers: each FIFO read, and each slab the sinks encode messages
 * into once it is full and its messages are written. They are external memory to V8, which frees
 * them only at a full collection, and it starts one for external memory late (~64 MB over what the
 * last one left). With 100 containers that is a sawtooth of up to 64 MB of dead Buffers in RSS in
 * steady state, and more after a backlog drains (the soak's RSS went from ~130 to ~200 MB at every
 * recovery of the log server). So every GARBAGE_BYTES of such Buffers logfan asks for a full
 * collection, run as a background task, at most every MIN_INTERVAL_MS. The callers report per
 * read, slab or batch, never per message.
 * Needs --expose-gc (config.json's entrypoint, the CLI's shebang); without it this does nothing.
 */
const GARBAGE_BYTES = 16 * 1024 * 1024;
const MIN_INTERVAL_MS = 5_000;
/** The freed backing stores are released by V8's sweeper threads a little after the collection. */
const TRIM_DELAY_MS = 1_000;

/**
 * glibc keeps what Buffers free in its heap, mostly as pages in the middle it cannot trim from
 * the top; malloc_trim(0) gives those whole free pages back. Missing (musl) means no trimming.
 */
const libc = lazyLibc<{ malloc_trim: (pad: number) => number }>({ malloc_trim: 'int malloc_trim(size_t pad)' });

type GcOptions = { type: 'major' | 'minor'; execution: 'async' | 'sync' };
const gc = (globalThis as { gc?: (options?: GcOptions) => unknown }).gc;

let garbage = 0;
let lastAt = 0;
export let memoryHints = 0;
export let trims = 0;

/** `bytes` of Buffers became (or will soon be) garbage: a FIFO read, a spent slab, a drained backlog. */
export function noteGarbage(bytes: number): void {
  if (gc === undefined) return;
  garbage += bytes;
  if (garbage < GARBAGE_BYTES) return;
  const now = Date.now();
  if (now - lastAt < MIN_INTERVAL_MS) return;
  garbage = 0;
  lastAt = now;
  memoryHints++;
  void Promise.resolve(gc({ type: 'major', execution: 'async' }))
    .then(() => setTimeout(giveFreedPagesBack, TRIM_DELAY_MS).unref())
    .catch(() => undefined);
}

function giveFreedPagesBack(): void {
  const c = libc();
  if (c === null) return;
  c.malloc_trim(0);
  trims++;
}
