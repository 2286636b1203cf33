import { decodeLogEntry, LogEntry } from '../docker/log-entry.js';
import { formatRfc3339NanoUtc } from '../docker/timestamp.js';
import { MAX_FRAME_BYTES } from '../docker/frame-decoder.js';

/**
 * After a restart, the FIFO's head can hold entries the store already has: logfan takes bytes out
 * of the FIFO only after the store wrote them (src/docker/fifo-peek.ts), so a kill between the
 * write and the taking leaves them in both. They are recognised by the store's last record: the
 * frame with its time and stream (and, when no filter changed it, its text) is the last one the
 * store holds, and everything up to it is skipped. Timestamps are the daemon's, in nanoseconds,
 * so two frames never share one outside the pieces of one long line, which the text then tells
 * apart.
 */
export interface StoredRecord {
  time: string;
  stream: string;
  log: string | null;
}

/** The fields of a json-file record needed to find it again; null when it does not parse. */
export function storedRecord(line: Buffer): StoredRecord | null {
  try {
    const r = JSON.parse(line.toString('utf8')) as { time?: unknown; stream?: unknown; log?: unknown };
    if (typeof r.time !== 'string' || typeof r.stream !== 'string') return null;
    return { time: r.time, stream: r.stream, log: typeof r.log === 'string' ? r.log : null };
  } catch {
    return null;
  }
}

/**
 * How many bytes at the start of `head` (whole frames from the FIFO's head) the store already
 * holds: the end of the frame matching `last`, preferring one whose text matches too, else 0.
 * `complete` is false when the frames in `head` ran out before any match and a later, larger
 * look could still find it.
 */
export function bytesAlreadyStored(head: Buffer, last: StoredRecord): { skip: number; complete: boolean } {
  const entry = new LogEntry();
  let pos = 0;
  let timeMatchEnd = 0;
  let textMatchEnd = 0;
  let frames = 0;
  while (pos + 4 <= head.length) {
    const len = head.readUInt32BE(pos);
    if (len > MAX_FRAME_BYTES) break;
    const end = pos + 4 + len;
    if (end > head.length) break;
    try {
      decodeLogEntry(head, pos + 4, end, entry);
    } catch {
      pos = end;
      continue;
    }
    frames++;
    if (entry.source === last.stream && formatRfc3339NanoUtc(entry.timeSec, entry.timeNsec) === last.time) {
      timeMatchEnd = end;
      if (last.log !== null && last.log === entry.line.toString('utf8') + (entry.partial ? '' : '\n')) textMatchEnd = end;
    } else if (timeMatchEnd > 0) {
      // Past the record's time: the match is behind us.
      break;
    }
    pos = end;
  }
  const skip = textMatchEnd || timeMatchEnd;
  return { skip, complete: skip > 0 || frames > 0 };
}
