import { describe, expect, it } from 'vitest';
import { counts, sweepTable, totalsLine } from '../../src/report.js';
import type { SweepResult } from '../../src/protocol.js';

const result: SweepResult = {
  harness: 'pipe2',
  syscall: 'pipe2',
  summary: 'pipe2(O_CLOEXEC)',
  maxSteps: 1000,
  complete: true,
  ms: 12.4,
  steps: [
    { nth: 1, ret: -12, errno: 'ENOMEM', injected: true, ns: 1 },
    { nth: 2, ret: 0, errno: null, injected: true, ns: 1 },
    { nth: 3, ret: -23, errno: 'ENFILE', injected: true, ns: 1 },
    { nth: 4, ret: 0, errno: null, injected: false, ns: 1 },
  ],
};

describe('report', () => {
  it('counts failure points, failed calls and absorbed injections', () => {
    expect(counts(result)).toEqual({ points: 3, failed: 2, absorbed: 1 });
  });

  it('prints a table per harness', () => {
    expect(sweepTable(result)).toBe(
      [
        'pipe2 — pipe2(O_CLOEXEC) (pipe2)',
        '  nth  result  errno   injected',
        '    1  failed  ENOMEM  yes',
        '    2  ok      -       yes',
        '    3  failed  ENFILE  yes',
        '    4  ok      -       no',
        'pipe2: 3 failure points, 2 failed the call, 1 injected but the call succeeded; ended at nth=4; 12 ms',
      ].join('\n'),
    );
  });

  it('says when a sweep stopped at its maximum', () => {
    expect(totalsLine([{ ...result, complete: false }], 1500)).toBe(
      '1 harnesses swept: 3 failure points, 2 failed the call, 1 injected but succeeded, 1 stopped at max-steps; 1.5 s',
    );
  });
});
