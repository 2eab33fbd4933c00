// The agent's end of the channel: the host's requests, one per line, each line bounded as the
// host bounds the agent's (a host that never sends a newline must not grow the guest's memory).
import type { Readable } from 'node:stream';
import { boundedLines } from './bounded-lines.js';

/** Lines read ahead of the one being served, at most: past it, the stream is paused. */
const READ_AHEAD = 64;

/**
 * The lines of stream, in order. Ends when the stream ends; throws KFAULT_PROTOCOL once a line
 * grows past maxBytes without a newline (nothing after it is read), or the stream's own error.
 */
export async function* requestLines(stream: Readable, maxBytes: number): AsyncGenerator<string> {
  const queue: string[] = [];
  let failure: Error | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  boundedLines(stream, {
    maxBytes,
    mode: 'fail',
    onLine: (line) => {
      queue.push(line);
      if (queue.length >= READ_AHEAD) stream.pause();
      notify();
    },
    onOverflow: (bytes) => {
      failure = Object.assign(new Error(`the host sent a line of more than ${bytes} bytes without a newline; a request holds at most ${maxBytes}`), { code: 'KFAULT_PROTOCOL' });
      notify();
    },
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  stream.on('error', (e) => {
    failure ??= e;
    notify();
  });
  for (;;) {
    const line = queue.shift();
    if (line !== undefined) {
      if (queue.length < READ_AHEAD && !failure && stream.isPaused()) stream.resume();
      yield line;
      continue;
    }
    if (failure) throw failure;
    if (ended) return;
    await new Promise<void>((res) => (wake = res));
  }
}
