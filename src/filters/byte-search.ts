/**
 * Substring search on a line's bytes, buf[start, end), for the filters' prechecks: no decoding,
 * no allocation, and no look past `end` (Buffer#indexOf has no end bound, and the line sits in a
 * read chunk of up to 64 KB, so it would scan the rest of the chunk whenever the line lacks the
 * needle). Boyer-Moore-Horspool: a window that ends in a byte the needle does not contain is
 * skipped whole, so a 12-byte needle looks at about one byte in ten of an ordinary line.
 */

/** Byte → byte with ASCII A-Z folded to a-z (UTF-8 bytes of other characters are all ≥ 0x80). */
const FOLD = new Uint8Array(256);
const SAME = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  FOLD[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  SAME[c] = c;
}

/** One needle. */
export class ByteLiteral {
  private readonly needle: Uint8Array;
  private readonly fold: Uint8Array;
  private readonly shift = new Int32Array(256);

  /**
   * `caseless`: ASCII letters match either case (the needle must then be ASCII, which is when this
   * is the same as a case-folded regex on the decoded text).
   */
  constructor(needle: Uint8Array, caseless = false) {
    this.fold = caseless ? FOLD : SAME;
    this.needle = needle.map((b) => this.fold[b]);
    const m = needle.length;
    this.shift.fill(m);
    for (let j = 0; j < m - 1; j++) this.shift[this.needle[j]] = m - 1 - j;
  }

  get length(): number {
    return this.needle.length;
  }

  /** Whether the needle occurs in buf[start, end). */
  test(buf: Uint8Array, start: number, end: number): boolean {
    const needle = this.needle;
    const fold = this.fold;
    const shift = this.shift;
    const last = needle.length - 1;
    if (last < 0) return true;
    const lastByte = needle[last];
    let i = start + last;
    while (i < end) {
      const c = fold[buf[i]];
      if (c === lastByte) {
        let j = last - 1;
        let k = i - 1;
        while (j >= 0 && fold[buf[k]] === needle[j]) {
          j--;
          k--;
        }
        if (j < 0) return true;
      }
      i += shift[c];
    }
    return false;
  }
}

/**
 * Several ASCII needles, any case (Horspool over their shortest length): whether any occurs. For
 * "could this line be X" prechecks, where a false yes only costs the full test.
 */
export class ByteMarkers {
  private readonly m: number;
  private readonly shift: Uint8Array;
  /** By the (folded) byte a needle has at m - 1: the needles to verify there. */
  private readonly byLast: (Uint8Array[] | null)[];

  constructor(needles: readonly string[]) {
    const folded = needles.map((n) => Uint8Array.from(Buffer.from(n.toLowerCase(), 'latin1')));
    if (folded.length === 0 || folded.some((n) => n.length === 0 || n.length > 255)) throw new Error('ByteMarkers: needles of 1..255 bytes');
    const m = Math.min(...folded.map((n) => n.length));
    this.m = m;
    const shift = new Uint8Array(256).fill(m);
    const byLast: (Uint8Array[] | null)[] = new Array(256).fill(null);
    for (const n of folded) {
      for (let j = 0; j < m - 1; j++) shift[n[j]] = Math.min(shift[n[j]], m - 1 - j);
      (byLast[n[m - 1]] ??= []).push(n);
    }
    // Indexed by the raw byte: fold once here rather than per byte scanned.
    this.shift = new Uint8Array(256);
    this.byLast = new Array(256).fill(null);
    for (let c = 0; c < 256; c++) {
      this.shift[c] = shift[FOLD[c]];
      this.byLast[c] = byLast[FOLD[c]];
    }
  }

  /** Whether any needle occurs in buf[start, end), ignoring ASCII case. */
  test(buf: Uint8Array, start: number, end: number): boolean {
    const shift = this.shift;
    const byLast = this.byLast;
    const back = this.m - 1;
    let i = start + back;
    while (i < end) {
      const c = buf[i];
      const list = byLast[c];
      if (list !== null) {
        const at = i - back;
        for (let k = 0; k < list.length; k++) {
          const n = list[k];
          if (at + n.length > end) continue;
          let j = 0;
          while (j < n.length && FOLD[buf[at + j]] === n[j]) j++;
          if (j === n.length) return true;
        }
      }
      i += shift[c];
    }
    return false;
  }
}
