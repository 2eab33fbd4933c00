// Real upstream error-path bugs as the acceptance suite (test/realbugs/): the corpus kernel is
// Debian's 6.12.117 with each bug's fix reverted (test/realbugs/patches, built once and cached
// like any other kernel). kfault sweeps every entry's harness on it and must report each
// expected finding, with its kind and site; the same sweeps on stock 6.12.117 must report
// nothing (no false positives).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, problems } from '../../src/report.js';
import { compactNths } from '../../src/reports/groups.js';
import { ResultsFile } from '../../src/results-file.js';
import { corpusDir, expectedToShow, findingsOf, harnessName, harnessPath, nthsOf, readCorpus, scorecard } from '../realbugs/corpus.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const root = new URL('../..', import.meta.url).pathname;
const corpus = readCorpus();
// the harness whose bug crashes the guest first: a crash loses kmemleak's state, and kfault sweeps
// again (for the leak check) what ran before the last reboot, so a crash first costs nothing
const harnesses = [...new Set([...corpus.bugs].sort((a, b) => Number(b.expected.kind === 'oops') - Number(a.expected.kind === 'oops')).map(harnessPath))];
// unshare(CLONE_NEWNET) has hundreds of failure points; the default 1000 could cut it short
const MAX_STEPS = '5000';
// a build of the corpus kernel (when the cache has none) and the sweeps, under TCG
const TIMEOUT_MS = 3_600_000;

interface Run {
  status: number | null;
  stderr: string;
  saved: ResultsFile;
  ms: number;
}

function sweep(kernelArgs: string[], label: string): Run {
  const start = Date.now();
  const r = spawnSync(process.execPath, [bin, 'sweep', ...harnesses, ...kernelArgs, '--max-steps', MAX_STEPS, '--json'], { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 512 << 20 });
  expect(r.stdout, r.stderr).not.toBe('');
  // kept for the README scorecard (.kfault/ is not committed)
  mkdirSync(join(root, '.kfault'), { recursive: true });
  writeFileSync(join(root, '.kfault', `realbugs-${label}.json`), r.stdout);
  return { status: r.status, stderr: r.stderr, saved: ResultsFile.parse(JSON.parse(r.stdout)), ms: Date.now() - start };
}

// both sweeps, for the README scorecard this file writes once both ran
const runs: { corpus?: Run; stock?: Run } = {};
afterAll(() => {
  if (runs.corpus && runs.stock) writeFileSync(join(root, '.kfault', 'realbugs-scorecard.md'), scorecard(corpus, runs.corpus.saved, runs.stock.saved, new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC'));
});

const resultOf = (run: Run, harness: string) => {
  const r = run.saved.results.find((x) => x.harness === harness);
  expect(r, `${harness} in ${run.saved.results.map((x) => x.harness).join(', ')}`).toBeDefined();
  return r!;
};

describe('the corpus kernel: every real bug is found, with its kind and site', () => {
  let run: Run;
  beforeAll(() => {
    run = runs.corpus = sweep(['--patches', join(corpusDir, 'patches')], 'corpus');
  }, TIMEOUT_MS);

  it('swept every harness to its end, and checked kmemleak; the problems make sweep exit 1', () => {
    for (const h of harnesses) {
      const r = resultOf(run, h.split('/').pop()!);
      expect(r.complete, `${r.harness}: stopped before its last failure point`).toBe(true);
      expect(counts(r).points).toBeGreaterThan(0);
    }
    expect(run.saved.kmemleak).toMatchObject({ enabled: true });
    expect(run.status, run.stderr).toBe(1);
  });

  it.each(corpus.bugs.filter(expectedToShow).map((b) => [b.id, b] as const))('%s', (_, b) => {
    const found = findingsOf(b, run.saved);
    const seen = run.saved.groups.filter((g) => g.harnesses.includes(harnessName(b))).map((g) => `${g.kind} ${g.title} [${g.signature}] at ${g.range}`);
    expect(found, `${b.id}: expected a ${b.expected.kind} at ${b.expected.site}; the sweep of ${harnessName(b)} reported:\n${seen.join('\n')}`).not.toEqual([]);
    // the finding is tied to injected failure points of this entry's harness, not to its setup;
    // a group can span harnesses (the two uffd/mlock oopses share a title), so its nths are
    // taken from this harness's occurrences
    expect(found.flatMap((g) => nthsOf(b, g)).length, `${b.id}: no occurrence at an injected nth of ${harnessName(b)}`).toBeGreaterThan(0);
    console.log(`${b.id}: ${found.map((g) => `${g.kind} "${g.title}" at nth ${compactNths(nthsOf(b, g))}`).join('; ')}`);
  });

  it('spares (entries whose effect the corpus README says cannot show) are indeed not reported', () => {
    const spares = corpus.bugs.filter((x) => !expectedToShow(x));
    for (const b of spares) {
      const found = findingsOf(b, run.saved);
      // if kfault ever reports one, the entry's "cannot show" no longer holds: make it an expected finding
      expect(found.map((g) => `${g.kind} "${g.title}" at nth ${g.range}`), `${b.id} (spare) was reported`).toEqual([]);
    }
    expect(corpus.bugs.filter(expectedToShow).length).toBeGreaterThan(spares.length);
  });
});

describe('stock 6.12.117: the same sweeps report nothing', () => {
  let run: Run;
  beforeAll(() => {
    run = runs.stock = sweep([], 'stock');
  }, TIMEOUT_MS);

  it('no leak, oops, warning or hang in any sweep, nothing unattributed, and sweep exits 0', () => {
    for (const h of harnesses) {
      const r = resultOf(run, h.split('/').pop()!);
      expect(r.complete, `${r.harness}: stopped before its last failure point`).toBe(true);
      expect(problems(r), r.harness).toEqual([]);
    }
    expect(run.saved.kmemleak).toMatchObject({ enabled: true, unattributed: [] });
    expect(run.saved.groups).toEqual([]);
    expect(run.saved.restarts).toBe(0);
    expect(run.status, run.stderr).toBe(0);
  });
});
