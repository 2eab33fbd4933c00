import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFaultSites } from '../../src/kmsg/fault-trace.js';
import { callSites, counts, sweepTable, totalsLine, verdict } from '../../src/report.js';
import type { Step, SweepResult } from '../../src/protocol.js';

const traced = readFileSync(new URL('../fixtures/kmsg/pipe2-nth3-failslab.txt', import.meta.url), 'utf8');
const step = (nth: number, ret: number, errno: string | null, injected: boolean, kmsg = ''): Step => ({
  nth, ret, errno, injected, ns: 1, kmsg, fault: injected ? (parseFaultSites(kmsg)[0] ?? null) : null,
});

const filterOff = { kmemleakOn: true, kernelKeepsOut: false, applied: false, note: 'off: turned off (kmemleakFilter: false)' };
const result: SweepResult = {
  harness: 'pipe2',
  syscall: 'pipe2',
  summary: 'pipe2(O_CLOEXEC)',
  maxSteps: 1000,
  complete: true,
  ms: 12.4,
  kmemleakFilter: filterOff,
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
        '  nth  verdict    errno   call site',
        '    1  failed     ENFILE  alloc_pipe_info+0x66 <- create_pipe_files',
        '    2  absorbed   -       (no trace: a __GFP_NOWARN allocation)',
        '    3  tolerated  -       alloc_pipe_info+0x66 <- create_pipe_files',
        '    4  end        -',
        'kmemleak filter: off: turned off (kmemleakFilter: false)',
        'pipe2: 3 failure points: 1 failed, 1 tolerated, 1 absorbed; ended at nth=4; 12 ms',
      ].join('\n'),
    );
  });

  it('flags a step whose kernel log has a warning or an oops', () => {
    const warned = { ...result, steps: [step(1, -12, 'ENOMEM', true, traced + '\nWARNING: CPU: 0 PID: 55 at fs/pipe.c:800 free_pipe_info+0x10/0x20\n')] };
    expect(sweepTable(warned).split('\n')[2]).toBe(
      '    1  failed   ENOMEM  alloc_pipe_info+0x66 <- create_pipe_files  !! WARNING: CPU: 0 PID: 55 at fs/pipe.c:800 free_pipe_info+0x10/0x20',
    );
  });

  it('says when a sweep stopped at its maximum', () => {
    expect(totalsLine([{ ...result, complete: false }], 1500)).toBe(
      '1 harnesses swept: 3 failure points: 1 failed, 1 tolerated, 1 absorbed; 1 stopped at max-steps; 1.5 s',
    );
  });
});
