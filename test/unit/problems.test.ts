import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFaultSites } from '../../src/kmsg/fault-trace.js';
import { kernelProblems } from '../../src/kmsg/problems.js';

describe('kernel problems', () => {
  it('finds oops, BUG, WARNING, KASAN and panic headlines, console timestamps or not', () => {
    const log = [
      '[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008',
      '[   12.345679] #PF: supervisor read access in kernel mode',
      'Oops: 0000 [#1] PREEMPT SMP NOPTI',
      'WARNING: CPU: 1 PID: 55 at drivers/misc/kfault_test.c:42 kfault_ioctl+0x55/0x90',
      'BUG: KASAN: slab-use-after-free in alloc_pipe_info+0x1/0x2',
      'general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP',
      'Kernel panic - not syncing: Fatal exception',
      'random: crng init done',
    ].join('\n');
    expect(kernelProblems(log)).toEqual([
      'BUG: kernel NULL pointer dereference, address: 0000000000000008',
      'Oops: 0000 [#1] PREEMPT SMP NOPTI',
      'WARNING: CPU: 1 PID: 55 at drivers/misc/kfault_test.c:42 kfault_ioctl+0x55/0x90',
      'BUG: KASAN: slab-use-after-free in alloc_pipe_info+0x1/0x2',
      'general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP',
      'Kernel panic - not syncing: Fatal exception',
    ]);
  });

  it('an injected fault alone is no problem', () => {
    expect(kernelProblems(readFileSync(new URL('../fixtures/kmsg/pipe2-nth3-failslab.txt', import.meta.url), 'utf8'))).toEqual([]);
  });

  it("a real KASAN report (the test module's use-after-free at nth=2, --kasan kernel): one problem, after the injected fault", () => {
    const kmsg = readFileSync(new URL('../fixtures/kmsg/kasan-uaf-nth2.txt', import.meta.url), 'utf8');
    expect(kernelProblems(kmsg)).toEqual(['BUG: KASAN: slab-use-after-free in uafy+0x5c/0xa7 [kfault_test]']);
    expect(parseFaultSites(kmsg).map((f) => f.callSite)).toEqual(['kfault_test_alloc+0xe']);
  });
});
