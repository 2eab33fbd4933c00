// Lines from a stream with a bound on each: a peer that never sends a newline must not grow
// the host's memory without limit.
import type { Readable } from 'node:stream';

export interface BoundedLinesOptions {
  /** longest line, in bytes, without its newline */
  maxBytes: number;
  onLine: (line: string) => void;
  /**
   * A line grew past maxBytes. 'cut': the bytes so far are given as a line of their own (with
   * cut = true) and the rest of that line goes on as the next; 'fail': onOverflow is called
   * once and nothing more is read.
   */
  mode: 'cut' | 'fail';
  onOverflow?: (bytes: number) => void;
  onCut?: (line: string) => void;
}

export function boundedLines(stream: Readable, o: BoundedLinesOptions): void {
  let parts: Buffer[] = [];
  let held = 0;
  let stopped = false;
  stream.on('data', (chunk: Buffer | string) => {
    if (stopped) return;
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (;;) {
      const nl = buf.indexOf(0x0a);
      const take = nl < 0 ? buf.length : nl;
      if (held + take > o.maxBytes) {
        if (o.mode === 'fail') {
          stopped = true;
          parts = [];
          o.onOverflow?.(held + take);
          stream.pause();
          return;
        }
        const room = o.maxBytes - held;
        parts.push(buf.subarray(0, room));
        (o.onCut ?? o.onLine)(Buffer.concat(parts).toString('utf8'));
        parts = [];
        held = 0;
        buf = buf.subarray(room);
        continue;
      }
      if (nl < 0) {
        if (buf.length) {
          parts.push(Buffer.from(buf)); // a copy: the stream may reuse its chunk
          held += buf.length;
        }
        return;
      }
      parts.push(buf.subarray(0, nl));
      const line = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
      parts = [];
      held = 0;
      o.onLine(line);
      buf = buf.subarray(nl + 1);
    }
  });
  stream.on('end', () => {
    if (!stopped && held) o.onLine(Buffer.concat(parts).toString('utf8'));
  });
}
