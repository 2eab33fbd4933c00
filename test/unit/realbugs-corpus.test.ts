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
import { applySeries, readSeries } from '../../src/kernel/patches.js';
import { corpusDir, harnessPath, readCorpus } from '../realbugs/corpus.js';

const corpus = readCorpus();
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

  it('the quoted lines are the stock 6.12.117 source, at those line numbers', () => {
    const src = stockTree();
    expect(existsSync(join(src, 'Makefile')), `${src}: the stock source kfault setup unpacks`).toBe(true);
    for (const b of corpus.bugs) {
      const lines = readFileSync(join(src, b.fixedIn6_12_117.file), 'utf8').split('\n');
      for (const q of b.fixedIn6_12_117.lines) {
        const [, n, text] = /^(\d+):(.*)$/s.exec(q)!;
        expect(lines[Number(n) - 1], `${b.id}: ${b.fixedIn6_12_117.file}:${n}`).toBe(text);
      }
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
