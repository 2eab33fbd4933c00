// Progress of a long step on the terminal: one rewritten line on a TTY, a line every 20 s otherwise.
export class Progress {
  private last = 0;
  private readonly start = Date.now();
  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream = process.stderr) {}

  private elapsed(): string {
    const s = Math.round((Date.now() - this.start) / 1000);
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }

  update(text: string): void {
    const now = Date.now();
    if (this.out.isTTY) {
      if (now - this.last < 100) return;
      this.last = now;
      const line = `${this.label} [${this.elapsed()}] ${text}`;
      this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 100) - 1)}`);
    } else if (now - this.last >= 20_000) {
      this.last = now;
      this.out.write(`${this.label} [${this.elapsed()}] ${text}\n`);
    }
  }

  /** Removes the progress line (on a TTY); prints nothing. */
  clear(): void {
    if (this.out.isTTY && this.last) this.out.write('\r\x1b[K');
  }

  done(text: string): void {
    if (this.out.isTTY) this.out.write('\r\x1b[K');
    this.out.write(`${this.label}: ${text} in ${this.elapsed()}\n`);
  }
}
