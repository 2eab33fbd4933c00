// The guest's serial console: streamed line by line to a log file, the last lines kept for errors.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

export class ConsoleLog {
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
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw) => this.line(raw.replace(/\r$/, '')));
  }

  line(line: string): void {
    this.out.write(line + '\n');
    this.tail.push(line);
    if (this.tail.length > 5000) {
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
