import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFaultSites } from '../../src/kmsg/fault-trace.js';
import { callSites, colorize, counts, problemLines, sweepTable, totalsLine, verdict } from '../../src/report.js';
import { ResultsFile } from '../../src/results-file.js';
import type { Step, SweepResult } from '../../src/protocol.js';

const traced = readFileSync(new URL('../fixtures/kmsg/pipe2-nth3-failslab.txt', import.meta.url), 'utf8');
const step = (nth: number, ret: number, errno: string | null, injected: boolean, kmsg = ''): Step => ({
  nth, ret, errno, injected, tid: 60, signal: null, ns: 1, kmsg, fault: injected ? (parseFaultSites(kmsg)[0] ?? null) : null, trace: '',
});

const filterOff = { kmemleakOn: true, kernelKeepsOut: false, applied: false, note: 'off: turned off (kmemleakFilter: false)' };
const result: SweepResult = {
  harness: 'pipe2',
  syscall: 'pipe2',
  summary: 'pipe2(O_CLOEXEC)',
  maxSteps: 1000,
  mode: 'systematic',
  complete: true,
  ms: 12.4,
  kmemleakFilter: filterOff,
  refillFilter: '', setup: null,
  library: null,
  arg: null,
  leaks: [],
  crashes: [],
  steps: [step(1, -23, 'ENFILE', true, traced), step(2, 0, null, true), step(3, 0, null, true, traced), step(4, 0, null, false)],
};

describe('report', () => {
  it('counts failed, tolerated and absorbed failure points', () => {
    expect(counts(result)).toEqual({ points: 3, failed: 1, tolerated: 1, absorbed: 1 });
    expect(callSites(result)).toEqual(['alloc_pipe_info+0x66', 'alloc_pipe_info+0x66']);
  });

  it('a silent injection is absorbed only when kmemleak is on and unfiltered', () => {
    const silent = result.steps[1]!;
    expect(verdict(silent, { kmemleakFilter: filterOff })).toBe('absorbed');
    expect(verdict(silent, { kmemleakFilter: { ...filterOff, applied: true } })).toBe('tolerated');
    expect(verdict(silent, { kmemleakFilter: { ...filterOff, kmemleakOn: false } })).toBe('tolerated');
    expect(verdict(silent, { kmemleakFilter: { ...filterOff, kernelKeepsOut: true } })).toBe('tolerated');
  });

  it('prints a table per harness with the call site of every fault', () => {
    expect(sweepTable(result)).toBe(
      [
        'pipe2 — pipe2(O_CLOEXEC) (pipe2)',
        '  nth  verdict    errno   call site                                  result',
        '    1  failed     ENFILE  alloc_pipe_info+0x66 <- create_pipe_files  ok',
        '    2  absorbed   -       (no call site: neither logged nor traced)  ok',
        '    3  tolerated  -       alloc_pipe_info+0x66 <- create_pipe_files  ok',
        '    4  end        -',
        'kmemleak filter: off: turned off (kmemleakFilter: false)',
        'pipe2: 3 failure points: 1 failed, 1 tolerated, 1 absorbed; ended at nth=4; 12 ms',
      ].join('\n'),
    );
  });

  it('flags a step whose kernel log has a warning or an oops', () => {
    const warned = { ...result, steps: [step(1, -12, 'ENOMEM', true, traced + '\nWARNING: CPU: 0 PID: 55 at fs/pipe.c:800 free_pipe_info+0x10/0x20\n')] };
    expect(sweepTable(warned).split('\n')[2]).toBe(
      '    1  failed   ENOMEM  alloc_pipe_info+0x66 <- create_pipe_files  warning: WARNING: CPU: 0 PID: 55 at fs/pipe.c:800 free_pipe_info+0x10/0x20',
    );
  });

  it('names the step in which kmemleak gave up', () => {
    const died = { ...result, steps: [step(1, -12, 'ENOMEM', true, 'kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE\nkmemleak: Kernel memory leak detector disabled\n')] };
    expect(problemLines(died)).toEqual([
      'pipe2 nth=1  (no call site: neither logged nor traced)  ENOMEM  kmemleak: kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE',
      'pipe2 nth=1  (no call site: neither logged nor traced)  ENOMEM  kmemleak: kmemleak: Kernel memory leak detector disabled',
    ]);
  });

  it('says when a sweep stopped at its maximum', () => {
    expect(totalsLine([{ ...result, complete: false }], 1500)).toBe(
      '1 harnesses swept: 3 failure points: 1 failed, 1 tolerated, 1 absorbed; 1 stopped at max-steps; no problems; 1.5 s',
    );
  });
});

// Saved from a real run: stock 6.12.117 under TCG, the test module (test/fixtures/kfault-test-module)
// loaded, and its harness swept with each argument (kfault sweep ... --json).
describe('report of the positive controls (saved real results)', () => {
  const saved = ResultsFile.parse(JSON.parse(readFileSync(new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url), 'utf8')));
  const of = (name: string) => saved.results.find((r) => r.harness === name)!;

  it('one line per problem, tied to its step and call site', () => {
    expect(saved.results.flatMap(problemLines)).toEqual([
      'harness.c(leak) nth=3  kfault_test_alloc+0xe <- leaky  ENOMEM  leak: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
      'harness.c(oops) nth=2  oopsy+0x2b/0x87 [kfault_test]  -  oops: BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]',
      expect.stringMatching(/^harness\.c\(warn\) nth=2  kfault_test_alloc\+0xe <- warny  ENOMEM  warning: WARNING: CPU: \d PID: \d+ at .*kfault_test\.c:\d+ warny\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kfault_test\]$/),
    ]);
  });

  it('marks the crashed step in the table and goes on after it', () => {
    expect(sweepTable(of('harness.c(oops)')).split('\n').slice(2, 6)).toEqual([
      '    1  failed   ENOMEM  kfault_test_alloc+0xe <- oopsy  ok',
      '    2  crashed  -       oopsy+0x2b/0x87 [kfault_test]   oops: BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]',
      '    3  failed   ENOMEM  kfault_test_alloc+0xe <- oopsy  ok',
      '    4  end      -',
    ]);
    expect(saved.restarts).toBe(1);
  });

  it('nothing on the correct error paths', () => {
    expect(problemLines(of('harness.c(clean)'))).toEqual([]);
    expect(problemLines(of('pipe2'))).toEqual([]);
  });
});

describe('colours on a terminal', () => {
  it('problem rows red, ok green, nothing else touched', () => {
    expect(colorize('    1  failed  ENOMEM  a <- b  ok\n    3  failed  ENOMEM  a <- b  leak: 1 object\nkmemleak filter: on')).toBe(
      '    1  failed  ENOMEM  a <- b  \x1b[32mok\x1b[0m\n\x1b[31m    3  failed  ENOMEM  a <- b  leak: 1 object\x1b[0m\nkmemleak filter: on',
    );
  });
});
