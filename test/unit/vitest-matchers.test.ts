// kfault/vitest's matchers print the offending problems one block per bug, here on results saved
// from real guests (stock 6.12.117, TCG): the positive controls and harness.c:leak2.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CheckedSweep } from '../../src/vitest.js';
import '../../src/vitest.js';
import { ResultsFile } from '../../src/results-file.js';

const load = (name: string) => ResultsFile.parse(JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8')));
const checked = (r: ResultsFile['results'][number]): CheckedSweep => ({ ...r, kmemleak: { checked: true, enabled: true, why: null, unattributed: [] } });
const controls = load('stock-6.12.117-positive-controls.json');
const of = (name: string) => checked(controls.results.find((r) => r.harness === name)!);

describe('the matchers print the groups', () => {
  it('toHaveNoLeaks: one block for the leak at nth 3 and 6 of harness.c(leak2)', () => {
    const leak2 = checked(load('stock-6.12.117-leak2.json').results[0]!);
    expect(() => expect(leak2).toHaveNoLeaks()).toThrow(
      [
        'expected harness.c(leak2) to leak nothing, but:',
        '  memory leak in kfault_test_alloc',
        '    leak, count 2: harness.c(leak2) nth=3, 6 (first nth=3)',
        '    fault sites: kfault_test_alloc+0xe',
        '    first: harness.c(leak2) nth=3: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
      ].join('\n'),
    );
    expect(leak2).toHandleEveryFailure();
  });

  it('toHandleEveryFailure: the oops and the warning, each as its group', () => {
    expect(() => expect(of('harness.c(oops)')).toHandleEveryFailure()).toThrow(
      [
        'expected every failure point of harness.c(oops) to be handled, but:',
        '  BUG: kernel NULL pointer dereference in oopsy',
        '    oops, count 1: harness.c(oops) nth=2',
        '    fault sites: none known (the step took the guest down)',
        '    first: harness.c(oops) nth=2: BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]',
      ].join('\n'),
    );
    expect(() => expect(of('harness.c(warn)')).toHandleEveryFailure()).toThrow(
      /^expected every failure point of harness\.c\(warn\) to be handled, but:\n {2}WARNING in warny\n {4}warning, count 1: harness\.c\(warn\) nth=2\n {4}fault sites: kfault_test_alloc\+0xe\n {4}first: harness\.c\(warn\) nth=2: WARNING: CPU: 1 PID: 61 at /,
    );
    expect(of('harness.c(warn)')).toHaveNoLeaks();
    expect(of('harness.c(clean)')).toHandleEveryFailure();
  });
});
