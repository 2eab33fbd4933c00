// The guest's serial console: streamed line by line to a log file, the last lines kept for errors.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { boundedLines } from './bounded-lines.js';

/** Bounds on what a guest's console can cost the host: a line, the log file, the tail kept. */
export const CONSOLE_LINE_MAX = 16 << 10;
export const CONSOLE_FILE_MAX = 256 << 20;
const TAIL_LINES = 5000;

export class ConsoleLog {
  private written = 0;
  private fileCut = false;
  private readonly out: WriteStream;
  /** the last lines, for error messages and crash reports; tail[0] is line number `dropped` */
  private readonly tail: string[] = [];
  private dropped = 0;
  private readonly watchers: Array<{ re: RegExp; resolve: (line: string) => void }> = [];

  constructor(readonly path: string, private readonly onLine?: (line: string) => void) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: 'a' });
  }

  attach(stream: Readable): void {
    boundedLines(stream, {
      maxBytes: CONSOLE_LINE_MAX,
      mode: 'cut',
      onLine: (raw) => this.line(raw),
      onCut: (part) => this.line(`${part} [kfault: console line cut at ${CONSOLE_LINE_MAX} bytes; it goes on below]`),
    });
  }

  line(line: string): void {
    this.written += line.length + 1;
    if (this.written <= CONSOLE_FILE_MAX) this.out.write(line + '\n');
    else if (!this.fileCut) {
      this.fileCut = true;
      this.out.write(`kfault: console log cut here: more than ${CONSOLE_FILE_MAX} bytes (the last ${TAIL_LINES} lines stay in memory for reports)\n`);
    }
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) {
      this.tail.shift();
      this.dropped++;
    }
    this.onLine?.(line);
    for (const w of [...this.watchers]) {
      if (w.re.test(line)) {
        this.watchers.splice(this.watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** Resolves with the first line (from now on) that matches re. */
  waitFor(re: RegExp): Promise<string> {
    return new Promise((resolve) => this.watchers.push({ re, resolve }));
  }

  /** A position in the log, for since(). */
  mark(): number {
    return this.dropped + this.tail.length;
  }

  /** The lines logged since mark (the last 5000 at most). */
  since(mark: number): string[] {
    return this.tail.slice(Math.max(0, mark - this.dropped));
  }

  lastLines(n = 30): string {
    return this.tail.slice(-n).join('\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
