/**
 * After a network sink drains a large queue (a log server came back), the slabs its messages were
 * encoded in are garbage in V8's old generation, as external memory. V8 frees them only at its
 * next full collection, which it starts late for external memory (~64 MB over what the last one
 * left): the soak's RSS went from ~130 to ~200 MB at every recovery. So once that much was drained,
 * logfan asks for a full collection, run as a background task, at most every MIN_INTERVAL_MS.
 * Needs --expose-gc (config.json's entrypoint, the CLI's shebang); without it this does nothing.
 */
const DRAINED_BYTES = 16 * 1024 * 1024;
const MIN_INTERVAL_MS = 5_000;

type GcOptions = { type: 'major' | 'minor'; execution: 'async' | 'sync' };
const gc = (globalThis as { gc?: (options?: GcOptions) => unknown }).gc;

let drained = 0;
let lastAt = 0;
export let memoryHints = 0;

/** A queue handed out `bytes` of messages (called per batch, not per message). */
export function noteDrained(bytes: number): void {
  if (gc === undefined) return;
  drained += bytes;
  if (drained < DRAINED_BYTES) return;
  const now = Date.now();
  if (now - lastAt < MIN_INTERVAL_MS) return;
  drained = 0;
  lastAt = now;
  memoryHints++;
  void Promise.resolve(gc({ type: 'major', execution: 'async' })).catch(() => undefined);
}
