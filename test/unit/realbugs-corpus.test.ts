// The real-bugs corpus is consistent before any kernel is built: every entry's patch is in the
// series (in entry order), every patch reverts lines the entry quotes from 6.12.117, the whole
// series applies in order to the stock source, and every harness compiles as kfault compiles it.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HARNESS_CFLAGS } from '../../src/harness/compile.js';
import { parseConfig } from '../../src/config.js';
import { sourceTreeOf } from '../../src/kernel/build.js';
import { readTreeState } from '../../src/kernel/trees.js';
import { applySeries, readSeries } from '../../src/kernel/patches.js';
import { corpusDir, harnessPath, readCorpus } from '../realbugs/corpus.js';

const corpus = readCorpus();
/** How far a quote may move between Debian's 6.12 releases. */
const MAX_DRIFT = 400;
const series = readSeries(join(corpusDir, 'patches'));
const scratch = mkdtempSync(join(tmpdir(), 'kfault-realbugs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The stock 6.12.117 tree kfault's build keeps (the one `kfault setup` unpacked). */
const stockTree = () => sourceTreeOf(parseConfig({}));

/** The files a patch changes ("+++ b/<path>"). */
const filesOf = (text: string) => [...text.matchAll(/^\+\+\+ b\/(\S+)/gm)].map((m) => m[1]!);

describe('the real-bugs corpus', () => {
  it('every entry has its patch in the series, and the series has no other', () => {
    expect(series.map((p) => p.name).sort()).toEqual(corpus.bugs.map((b) => b.patch).sort());
    expect(new Set(corpus.bugs.map((b) => b.id)).size).toBe(corpus.bugs.length);
  });

  it.each(corpus.bugs.map((b) => [b.id, b] as const))('%s: its patch changes the file whose fixed lines it quotes, and removes at least one of them', (_, b) => {
    const p = series.find((x) => x.name === b.patch)!;
    expect(filesOf(p.text)).toContain(b.fixedIn6_12_117.file);
    const removed = p.text.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---')).map((l) => l.slice(1));
    const quoted = b.fixedIn6_12_117.lines.map((l) => l.replace(/^\d+:/, ''));
    expect(quoted.some((q) => removed.includes(q))).toBe(true);
  });

  // Debian moves linux-source-6.12 on (the trixie image had 6.12.118 while bookworm had 6.12.117),
  // and lines move with it. On 6.12.117 each quote must be at its line; on another version the
  // entry's quoted lines must all be there, shifted by one common offset (the fix is still in).
  it('the quoted lines are in the stock source: at those line numbers on 6.12.117, shifted together on another version', () => {
    const src = stockTree();
    expect(existsSync(join(src, 'Makefile')), `${src}: the stock source kfault setup unpacks`).toBe(true);
    const version = readTreeState(src)?.version ?? '';
    const exact = version.startsWith('6.12.117-');
    for (const b of corpus.bugs) {
      const lines = readFileSync(join(src, b.fixedIn6_12_117.file), 'utf8').split('\n');
      const quotes = b.fixedIn6_12_117.lines.map((q) => /^(\d+):(.*)$/s.exec(q)!).map(([, n, text]) => ({ n: Number(n), text: text! }));
      const fitsAt = (d: number) => quotes.every((q) => lines[q.n - 1 + d] === q.text);
      if (exact) {
        for (const q of quotes) expect(lines[q.n - 1], `${b.id}: ${b.fixedIn6_12_117.file}:${q.n}`).toBe(q.text);
        continue;
      }
      const offsets = Array.from({ length: 2 * MAX_DRIFT + 1 }, (_, i) => (i % 2 ? (i + 1) / 2 : -i / 2)).filter(fitsAt);
      expect(offsets.length, `${b.id}: ${b.fixedIn6_12_117.file} of ${version}: its quoted 6.12.117 lines are not there, in order, within ${MAX_DRIFT} lines of where they were`).toBeGreaterThan(0);
    }
  });

  it('the whole series applies in order to a copy of the stock files it touches', () => {
    const src = stockTree();
    const tree = join(scratch, 'tree');
    for (const f of new Set(series.flatMap((p) => filesOf(p.text)))) {
      mkdirSync(dirname(join(tree, f)), { recursive: true });
      cpSync(join(src, f), join(tree, f));
    }
    expect(() => applySeries(tree, series)).not.toThrow();
  });

  it.each([...new Set(corpus.bugs.map((b) => b.harness))])('%s compiles with the flags kfault compiles harnesses with', (h) => {
    const b = corpus.bugs.find((x) => x.harness === h)!;
    const r = spawnSync(process.env.CC ?? 'cc', [...HARNESS_CFLAGS, '-Werror', '-o', join(scratch, 'h.so'), harnessPath(b)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
