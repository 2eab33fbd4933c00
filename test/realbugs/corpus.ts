// The real-bugs corpus (corpus.json): real upstream error-path bugs put back into 6.12.117 by
// reverting their fixes, and what kfault must report for each. Read by the unit test (the
// corpus is consistent: patches, series, harnesses) and the integration test (kfault finds it).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { ResultsFile } from '../../src/results-file.js';
import { compactNths } from '../../src/reports/groups.js';

export const corpusDir = new URL('.', import.meta.url).pathname;

const Expected = z.strictObject({
  kind: z.enum(['leak', 'oops', 'warning']),
  /** leak: the allocation site (kmemleak's first frame past the allocator), a regex;
   * oops/warning: the function the report is in, a regex */
  site: z.string().min(1),
  /** leak: regexes of functions that must be further down the allocation stack */
  stack: z.array(z.string()).default([]),
  /** oops: a regex of the report's headline */
  headline: z.string().optional(),
  when: z.string(),
  nths: z.string(),
});

export const Bug = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  subsystem: z.string(),
  /** commit: null when the fix's diff was confirmed (by comparing the file before and after it) but its
   * upstream id was not; `where` then says what was compared */
  fix: z.strictObject({ commit: z.string().regex(/^[0-9a-f]{12,40}$/).nullable(), subject: z.string(), author: z.string(), where: z.string() }),
  syzbot: z.string().regex(/^[0-9a-f]{20}$/).nullable(),
  fixedIn6_12_117: z.strictObject({ file: z.string(), lines: z.array(z.string().regex(/^\d+:/)).min(1) }),
  patch: z.string().regex(/^\d{4}-[\w.-]+\.patch$/),
  harness: z.string().regex(/^harnesses\/[\w-]+\.c$/),
  expected: Expected,
  /** the failure points around the bug, as a sweep of stock 6.12.117 numbered them */
  measuredOnStock: z.string(),
  /** what kfault reported on the corpus kernel, in its words */
  foundOnCorpus: z.string(),
  /** verified-in-guest | patch-applies-not-run | spare: ... (expected not to show, and why) */
  status: z.string(),
});
export type Bug = z.infer<typeof Bug>;

export const Corpus = z.strictObject({
  kernel: z.string(),
  patches: z.string(),
  bugs: z.array(Bug).min(1),
  consideredAndNotIncluded: z.array(z.strictObject({ fix: z.string(), why: z.string() })),
});
export type Corpus = z.infer<typeof Corpus>;

export function readCorpus(): Corpus {
  return Corpus.parse(JSON.parse(readFileSync(join(corpusDir, 'corpus.json'), 'utf8')));
}

/** The entries kfault must find (spares are expected not to show, and say why). */
export const expectedToShow = (b: Bug) => !b.status.startsWith('spare');

export const harnessPath = (b: Bug) => join(corpusDir, b.harness);
/** The name a sweep gives a user's harness: its file's base name. */
export const harnessName = (b: Bug) => basename(b.harness);

const full = (re: string) => new RegExp(`^(?:${re})$`);

/** The problem groups of a results file that are this bug's expected finding. */
export function findingsOf(b: Bug, saved: ResultsFile): ResultsFile['groups'] {
  const e = b.expected;
  return saved.groups.filter((g) => {
    if (!g.harnesses.includes(harnessName(b))) return false;
    if (e.kind === 'leak') {
      if (g.kind !== 'leak') return false;
      const stack = g.signature.replace(/^leak\|/, '').split(' <- ');
      return full(e.site).test(stack[0] ?? '') && e.stack.every((fn) => stack.slice(1).some((f) => full(fn).test(f)));
    }
    if (e.kind === 'oops') {
      const fn = / in ([\w.$]+)$/.exec(g.title)?.[1] ?? '';
      return (g.kind === 'oops' || g.kind === 'panic') && full(e.site).test(fn) && (!e.headline || g.occurrences.some((o) => new RegExp(e.headline!).test(o.text)));
    }
    return g.kind === 'warning' && full(e.site).test(g.title.replace(/^WARNING in /, ''));
  });
}

/** The nths at which a group (which can span harnesses: two oopses of one title) hit this bug's harness. */
export function nthsOf(b: Bug, g: ResultsFile['groups'][number]): number[] {
  return [...new Set(g.occurrences.flatMap((o) => (o.harness === harnessName(b) && o.nth !== null ? [o.nth] : [])))].sort((x, y) => x - y);
}

/** A README scorecard, from a sweep of the corpus kernel and one of stock (both results files):
 * found / expected for each kind, what stock reported, the failure points and the sweep times,
 * then a line for each bug with what kfault reported, at which nths. */
export function scorecard(corpus: Corpus, onCorpus: ResultsFile, onStock: ResultsFile, when: string): string {
  const shown = corpus.bugs.filter(expectedToShow);
  const kinds = ['leak', 'oops', 'warning'] as const;
  const label = { leak: 'leaks', oops: 'oopses', warning: 'WARNINGs' };
  const points = (f: ResultsFile) => f.results.reduce((n, r) => n + r.steps.filter((s) => s.injected).length, 0);
  const times = (f: ResultsFile) => f.results.map((r) => `${r.harness} ${(r.ms / 1000).toFixed(1)} s`).join(', ');
  const found = (b: Bug) => findingsOf(b, onCorpus);
  const rows = kinds.map((k) => {
    const of = shown.filter((b) => b.expected.kind === k);
    const stock = onStock.groups.filter((g) => g.kind === k).length;
    return `| ${label[k]} | ${of.filter((b) => found(b).length).length} / ${of.length} | ${stock} |`;
  });
  const fix = (b: Bug) => `${b.fix.commit ? b.fix.commit.slice(0, 12) : '(id not confirmed)'} ${b.fix.subject}${b.syzbot ? ` (syzbot ${b.syzbot})` : ''}`;
  const reported = (b: Bug) => [...new Set(found(b).map((g) => `${g.title} at nth ${compactNths(nthsOf(b, g))}`))].join('; ') || 'NOT FOUND';
  return [
    `Scorecard (${when}; written by \`test/integration/realbugs.test.ts\` to \`.kfault/realbugs-scorecard.md\`):`,
    '',
    '| kind | found / expected | reported on stock |',
    '|---|---|---|',
    ...rows,
    `| all | ${shown.filter((b) => found(b).length).length} / ${shown.length} | ${onStock.groups.length} (restarts ${onStock.restarts}; kmemleak ${onStock.kmemleak?.enabled ? `checked, ${onStock.kmemleak.unattributed.length} unattributed` : 'NOT checked'}) |`,
    '',
    `Failure points swept: corpus kernel ${points(onCorpus)}, stock ${points(onStock)}. Sweep times (kfault's per-harness times, boots and the kmemleak check not included): corpus kernel ${times(onCorpus)}; stock ${times(onStock)}.`,
    '',
    '| bug (fix) | subsystem | harness | what kfault reported |',
    '|---|---|---|---|',
    ...corpus.bugs.map((b) => `| ${fix(b)} | ${b.subsystem} | \`${harnessName(b)}\` | ${expectedToShow(b) ? reported(b) : b.status} |`),
  ].join('\n') + '\n';
}
