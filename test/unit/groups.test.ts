// One problem per bug: grouping by signature, on results and kernel logs saved from real guests
// (stock 6.12.117 under TCG, the test module loaded). Cases that are not real say so.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConsoleCrash } from '../../src/kmsg/crash.js';
import { kernelProblems } from '../../src/kmsg/problems.js';
import { junit } from '../../src/reports/junit.js';
import { mergeResults } from '../../src/reports/merge.js';
import { ktap } from '../../src/reports/ktap.js';
import { compactNths, groupLines, groupProblems, groupReproducer, normalizeTitle, reportTitle } from '../../src/reports/groups.js';
import { resultsProblems } from '../../src/repro/problems.js';
import { ResultsFile, readResultsFile } from '../../src/results-file.js';

const fixture = (p: string) => new URL(`../fixtures/${p}`, import.meta.url);
const savedPath = fixture('results/stock-6.12.117-positive-controls.json').pathname;
const saved = ResultsFile.parse(JSON.parse(readFileSync(savedPath, 'utf8')));
const of = (name: string) => saved.results.find((r) => r.harness === name)!;

describe('groups of the positive controls (saved real results)', () => {
  it('one group per bug, titled as syzkaller titles it, with count, nths and fault sites', () => {
    expect(groupProblems(saved.results).map(({ occurrences: _, signature: __, ...g }) => g)).toEqual([
      { kind: 'leak', title: 'memory leak in kfault_test_alloc', count: 1, firstNth: 3, nths: [3], range: '3', sites: ['kfault_test_alloc+0xe'], harnesses: ['harness.c(leak)'] },
      { kind: 'oops', title: 'BUG: kernel NULL pointer dereference in oopsy', count: 1, firstNth: 2, nths: [2], range: '2', sites: [], harnesses: ['harness.c(oops)'] },
      { kind: 'warning', title: 'WARNING in warny', count: 1, firstNth: 2, nths: [2], range: '2', sites: ['kfault_test_alloc+0xe'], harnesses: ['harness.c(warn)'] },
    ]);
  });

  it("a leak's signature is its allocation stack, function names only", () => {
    expect(groupProblems(of('harness.c(leak)'))[0]!.signature).toBe(
      'leak|kfault_test_alloc <- leaky <- kfault_test_ioctl <- vfs_ioctl <- __x64_sys_ioctl <- x64_sys_call <- do_syscall_64 <- entry_SYSCALL_64_after_hwframe',
    );
    expect(groupProblems(of('harness.c(leak)'))[0]!.occurrences).toEqual([{ harness: 'harness.c(leak)', nth: 3, text: '1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky' }]);
  });

  it('nothing on the correct error paths', () => {
    expect(groupProblems(of('harness.c(clean)'))).toEqual([]);
    expect(groupProblems(of('pipe2'))).toEqual([]);
    expect(groupLines([])).toEqual([]);
  });

  it('prints one block per bug', () => {
    expect(groupLines(groupProblems(saved.results))).toEqual([
      'problems: 3 distinct, hit 3 times:',
      '  memory leak in kfault_test_alloc',
      '    leak, count 1: harness.c(leak) nth=3',
      '    fault sites: kfault_test_alloc+0xe',
      '    first: harness.c(leak) nth=3: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
      '  BUG: kernel NULL pointer dereference in oopsy',
      '    oops, count 1: harness.c(oops) nth=2',
      '    fault sites: none known (the step took the guest down)',
      '    first: harness.c(oops) nth=2: BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]',
      '  WARNING in warny',
      '    warning, count 1: harness.c(warn) nth=2',
      '    fault sites: kfault_test_alloc+0xe',
      expect.stringMatching(/^ {4}first: harness\.c\(warn\) nth=2: WARNING: CPU: 1 PID: 61 at .*kfault_test\.c:92 warny\+0x53\/0x82 \[kfault_test\]$/),
    ]);
  });

  it("with the results' problems, each block names the reproducer of its group's first hit", () => {
    const lines = groupLines(groupProblems(saved.results), resultsProblems(saved.results));
    expect(lines.filter((l) => / {4}(first|reproducer): /.test(l)).map((l) => l.replace(/^( {4}first: \S+ nth=\d+).*/, '$1'))).toEqual([
      '    first: harness.c(leak) nth=3',
      '    reproducer: kfault repro RESULTS.json --problem 1',
      '    first: harness.c(oops) nth=2',
      '    reproducer: kfault repro RESULTS.json --problem 2',
      '    first: harness.c(warn) nth=2',
      '    reproducer: kfault repro RESULTS.json --problem 3',
    ]);
    // a group whose first hit has no reproducer (made in setup, say) gets no line
    const [leak] = groupProblems(saved.results);
    expect(groupReproducer(leak!, resultsProblems(saved.results).map((p) => ({ ...p, reproducer: null })))).toBeNull();
  });

  it('a results file from before groups existed reads with its groups derived; the schema default is []', () => {
    expect(readResultsFile(savedPath).groups).toEqual(groupProblems(saved.results));
    expect(saved.groups).toEqual([]);
  });
});

// MADE UP, not real output: the saved real leak step copied to nth=6 of the same sweep (another
// object address, as a second leaked object would have), then the whole sweep under a second
// harness name, then a leak with another stack. Real output of one leak at two nths is below
// (stock-6.12.117-leak2.json) and in test/integration/grouping.test.ts.
describe('grouping several hits (made-up variations of the real leak)', () => {
  const real = of('harness.c(leak)');
  const first = real.leaks[0]!;
  const at6 = { nth: 6, leak: { ...first.leak, address: '0xffff888002ec8400', comm: 'kf#6', frames: first.leak.frames.map((f) => f.replace('leaky+0x11/0x6f', 'leaky+0x11/0x70')) } };
  const twice = { ...real, steps: [...real.steps.slice(0, 3), ...real.steps.slice(0, 3).map((s) => ({ ...s, nth: s.nth + 3 })), { ...real.steps[3]!, nth: 7 }], leaks: [first, at6] };

  it('one leak at two nths of one sweep is one group, count 2, both nths, one site', () => {
    const g = groupProblems(twice);
    expect(g).toHaveLength(1);
    expect(g[0]).toMatchObject({ title: 'memory leak in kfault_test_alloc', count: 2, firstNth: 3, nths: [3, 6], range: '3, 6', sites: ['kfault_test_alloc+0xe'] });
    expect(groupLines(g).slice(0, 3)).toEqual(['problems: 1 distinct, hit 2 times:', '  memory leak in kfault_test_alloc', '    leak, count 2: harness.c(leak) nth=3, 6 (first nth=3)']);
  });

  it('the same bug from two harnesses is one group naming both', () => {
    const g = groupProblems([twice, { ...twice, harness: 'harness.c(other)' }]);
    expect(g).toHaveLength(1);
    expect(g[0]).toMatchObject({ count: 4, nths: [3, 6], harnesses: ['harness.c(leak)', 'harness.c(other)'] });
    expect(groupLines(g)[2]).toBe('    leak, count 4: harness.c(leak) nth=3, 6; harness.c(other) nth=3, 6 (first nth=3)');
  });

  it('another allocation stack is another group; two objects of one stack in one step are one hit', () => {
    const other = { nth: 6, leak: { ...at6.leak, frames: at6.leak.frames.map((f) => f.replace(/^leaky\+\S+/, 'warny+0x23/0x82')) } };
    const g = groupProblems({ ...twice, leaks: [first, { ...first, leak: { ...first.leak, address: '0xffff888002ec8200' } }, other] });
    expect(g.map((x) => [x.title, x.count, x.range])).toEqual([
      ['memory leak in kfault_test_alloc', 1, '3'],
      ['memory leak in kfault_test_alloc', 1, '6'],
    ]);
    expect(g[0]!.occurrences[0]!.text).toBe('2 objects, 512 bytes, allocated at kfault_test_alloc+0xe <- leaky');
  });
});

// Saved from a real run (stock 6.12.117, TCG, 2026-12-01): kfault sweep harness.c:leak2 --module
// test/fixtures/kfault-test-module --json. leak2 makes the leaky ioctl twice per run, so the one
// planted leak is hit at nth=3 and nth=6.
describe('one leak at two nths (saved real results of harness.c:leak2)', () => {
  const path = fixture('results/stock-6.12.117-leak2.json').pathname;
  const file = readResultsFile(path);
  const r = file.results[0]!;

  it('is one group: count 2, both nths, one fault site; the file has it as written', () => {
    expect(r.leaks.map((l) => [l.nth, l.leak.comm])).toEqual([[3, 'kf#3'], [6, 'kf#6']]);
    const g = groupProblems(file.results);
    expect(g.map(({ occurrences: _, ...x }) => x)).toEqual([
      {
        signature: 'leak|kfault_test_alloc <- leaky <- kfault_test_ioctl <- vfs_ioctl <- __x64_sys_ioctl <- x64_sys_call <- do_syscall_64 <- entry_SYSCALL_64_after_hwframe',
        kind: 'leak',
        title: 'memory leak in kfault_test_alloc',
        count: 2,
        firstNth: 3,
        nths: [3, 6],
        range: '3, 6',
        sites: ['kfault_test_alloc+0xe'],
        harnesses: ['harness.c(leak2)'],
      },
    ]);
    expect(JSON.parse(readFileSync(path, 'utf8')).groups).toEqual(g);
    expect(groupLines(g)).toEqual([
      'problems: 1 distinct, hit 2 times:',
      '  memory leak in kfault_test_alloc',
      '    leak, count 2: harness.c(leak2) nth=3, 6 (first nth=3)',
      '    fault sites: kfault_test_alloc+0xe',
      '    first: harness.c(leak2) nth=3: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
    ]);
  });

  it('JUnit: one failure for it; the other failure points pass', () => {
    const xml = junit(file);
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml.match(/<testcase /g)).toHaveLength(5);
    expect(xml).toContain('<failure type="leak" message="leak at nth=3, 6 (count 2): 1 object, 256 bytes, allocated at kfault_test_alloc+0xe &lt;- leaky">');
  });

  it('KTAP: one not ok for it, at its first nth', () => {
    expect(ktap(file).split('\n').filter((l) => /^ {4}(not )?ok /.test(l))).toEqual([
      '    ok 1 nth=1 ENOMEM kfault_test_alloc+0xe <- leaky',
      '    ok 2 nth=2 ENOMEM kfault_test_alloc+0xe <- leaky',
      '    not ok 3 memory leak in kfault_test_alloc # leak at nth=3, 6 (count 2): 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
      '    ok 4 nth=4 ENOMEM kfault_test_alloc+0xe <- leaky',
      '    ok 5 nth=5 ENOMEM kfault_test_alloc+0xe <- leaky',
    ]);
  });

  it('merged with the positive controls: the same bug from harness.c(leak) joins the group', () => {
    const m = mergeResults([{ path: 'a.json', file: saved }, { path: 'b.json', file }]);
    const leak = m.groups.find((g) => g.kind === 'leak')!;
    expect(m.groups).toHaveLength(3);
    expect(leak).toMatchObject({ count: 3, nths: [3, 6], harnesses: ['harness.c(leak)', 'harness.c(leak2)'] });
    expect(groupLines(m.groups)[2]).toBe('    leak, count 3: harness.c(leak) nth=3; harness.c(leak2) nth=3, 6 (first nth=3)');
  });

  it("MADE UP: a leak of the harness's setup (nth null) is a group of its own, listed last", () => {
    const first = r.leaks[0]!;
    const setup = { ...r, leaks: [...r.leaks, { nth: null, leak: { ...first.leak, comm: 'kf-setup', frames: first.leak.frames.map((f) => f.replace(/^leaky\+\S+/, 'clean+0x10/0x70')) } }] };
    const g = groupProblems(setup);
    expect(g.map((x) => [x.count, x.firstNth, x.range])).toEqual([[2, 3, '3, 6'], [1, null, '']]);
    expect(groupLines(g).slice(5, 8)).toEqual(['  memory leak in kfault_test_alloc', '    leak, count 1: harness.c(leak2) setup/teardown', '    fault sites: none traced']);
    expect(ktap({ ...file, results: [setup] })).toContain('    not ok 6 memory leak in kfault_test_alloc # leak at setup/teardown (count 1): ');
  });
});

describe('titles of real kernel reports', () => {
  it('a KASAN report: its bug type, the access from the next line, the function', () => {
    const kmsg = readFileSync(fixture('kmsg/kasan-uaf-nth2.txt'), 'utf8');
    const [headline] = kernelProblems(kmsg);
    const lines = kmsg.split('\n');
    expect(reportTitle(headline!, null, lines.slice(lines.indexOf(headline!)))).toBe('KASAN: slab-use-after-free Read in uafy');
  });

  it('an oops on the console: its headline without the address, in the RIP function', () => {
    const c = parseConsoleCrash(readFileSync(fixture('console/oops-null-deref.log'), 'utf8').split('\n'))!;
    expect(reportTitle(c.headline, c.at, c.log)).toBe('BUG: kernel NULL pointer dereference in oopsy');
  });

  it('an oops cut off before its RIP line: the headline alone', () => {
    const c = parseConsoleCrash(readFileSync(fixture('console/oops-truncated.log'), 'utf8').split('\n'))!;
    expect(c.at).toBeNull();
    expect(reportTitle(c.headline, c.at, c.log)).toBe('BUG: kernel NULL pointer dereference');
  });

  it('a WARNING in a step, whatever its CPU, PID and build path', () => {
    const real = kernelProblems(of('harness.c(warn)').steps[1]!.kmsg)[0]!;
    expect(reportTitle(real, null, [])).toBe('WARNING in warny');
    // MADE UP: the same warning as another run would print it (CPU, PID, build dir differ)
    expect(reportTitle('WARNING: CPU: 0 PID: 75 at ../../modules/kfault-test-module-0123456789abcdef-0123456789ab/kfault_test.c:92 warny+0x53/0x82 [kfault_test]', null, [])).toBe('WARNING in warny');
  });

  it('the rest of the kernel headlines kfault reads (made-up headlines, as kernel/panic.c, lib/ubsan.c, arch/x86 print them)', () => {
    expect(reportTitle('kernel BUG at mm/slub.c:435!', 'kfree+0x1/0x2', [])).toBe('kernel BUG in kfree');
    expect(reportTitle('general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] SMP KASAN', null, ['RIP: 0010:pipe_write+0x12/0x300'])).toBe('general protection fault in pipe_write');
    expect(reportTitle('UBSAN: shift-out-of-bounds in fs/pipe.c:12:3', null, [])).toBe('UBSAN: shift-out-of-bounds in fs/pipe.c:12');
    expect(reportTitle('BUG: sleeping function called from invalid context at mm/slab.h:123', null, ['Call Trace:', ' <TASK>', ' dump_stack_lvl+0x59/0x6b', ' __might_resched+0x10/0x20', ' alloc_pipe_info.constprop.0+0x66/0x1a0', ' </TASK>'])).toBe(
      'BUG: sleeping function called from invalid context in alloc_pipe_info',
    );
    expect(reportTitle('Kernel panic - not syncing: Fatal exception', null, [])).toBe('kernel panic: Fatal exception');
    expect(normalizeTitle('BUG: scheduling while atomic: kf#3/62/0x00000002')).toBe('BUG: scheduling while atomic: kf#N/62/ADDR');
  });
});

describe('nths, compacted', () => {
  it('runs of three or more become ranges', () => {
    expect(compactNths([3, 6])).toBe('3, 6');
    expect(compactNths([1, 2, 3, 5, 7, 8])).toBe('1-3, 5, 7, 8');
    expect(compactNths([])).toBe('');
  });
});
