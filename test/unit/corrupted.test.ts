// The corrupted problem in every report, on results saved from a real guest: the block
// profile's 6.12.117 under TCG, ext4-rename (clean) and the scribble-ext4.c positive control,
// whose every checked step e2fsck -fn found damaged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResultsFile } from '../../src/results-file.js';
import { problems, sweepTable, summaryLine } from '../../src/report.js';
import { groupLines, groupProblems } from '../../src/reports/groups.js';
import { junit } from '../../src/reports/junit.js';
import { ktap } from '../../src/reports/ktap.js';
import { resultsProblems } from '../../src/repro/problems.js';

const path = new URL('../fixtures/results/block-6.12.117-ext4-scribble.json', import.meta.url).pathname;
const saved = ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const rename = saved.results.find((r) => r.harness === 'ext4-rename')!;
const scribble = saved.results.find((r) => r.harness === 'scribble-ext4.c')!;

describe('corrupted: e2fsck found damage after a step', () => {
  it('a problem at each step whose check found damage, in fsck\'s words; none in the clean sweep', () => {
    expect(problems(rename)).toEqual([]);
    const p = problems(scribble);
    expect(p.map((x) => [x.nth, x.kind])).toEqual([[1, 'corrupted'], [2, 'corrupted'], [3, 'corrupted'], [4, 'corrupted']]);
    expect(p[0]!.text).toMatch(/^e2fsck -fn \/dev\/vda: exit 4: Block bitmap differences: {2}\+1 \+3 /);
  });

  it('the table: the result column and the fsck line', () => {
    const t = sweepTable(scribble);
    expect(t).toMatch(/^ +1 +\S+ .* corrupted: e2fsck -fn \/dev\/vda: exit 4: Block bitmap differences/m);
    expect(t).toContain('fsck: e2fsck -fn after 4 steps: 0 clean, 4 corrupted; repaired with e2fsck -fy after 4;');
    expect(summaryLine(scribble)).toContain('problems: 4 corrupted;');
    expect(sweepTable(rename)).toContain('fsck: e2fsck -fn after 36 steps: 36 clean, 0 corrupted;');
  });

  it('grouped by the fault site, titled, with the step', () => {
    const g = groupProblems(scribble);
    expect(g.map((x) => [x.kind, x.title, x.range])).toEqual([
      ['corrupted', 'corrupted ext4 after a fault in mempool_alloc_slab', '1'],
      ['corrupted', 'corrupted ext4 after a fault in virtqueue_add', '2'],
      ['corrupted', 'corrupted ext4 after a fault in getname_flags', '3'],
      ['corrupted', 'corrupted ext4 after a fault in alloc_empty_file', '4'],
    ]);
    expect(groupLines(g).join('\n')).toContain('    corrupted, count 1: scribble-ext4.c nth=1');
  });

  it('JUnit and KTAP: a failure per group, with the findings', () => {
    const xml = junit(saved);
    expect(xml).toContain('<failure type="corrupted" message="corrupted at nth=1 (count 1): e2fsck -fn /dev/vda: exit 4: Block bitmap differences:');
    expect(xml).toContain('  Free blocks count wrong for group #0 (3808, counted=3583).');
    const tap = ktap(saved);
    expect(tap).toContain('    not ok 1 corrupted ext4 after a fault in mempool_alloc_slab # corrupted at nth=1 (count 1)');
    expect(tap).toContain('    #   Block bitmap differences: Group 0 block bitmap does not match checksum.');
  });

  it('kfault repro refuses it, saying why', () => {
    const p = resultsProblems(saved.results).filter((x) => x.kind === 'corrupted');
    expect(p).toHaveLength(4);
    for (const x of p) {
      expect(x.reproducer).toBeNull();
      expect(x.why).toMatch(/^a corrupted filesystem: kfault repro writes reproducers of leaks, oopses and warnings, not of e2fsck's findings/);
    }
  });
});
