// The config's fault knobs -> the debugfs writes the agent makes.
import { describe, expect, it } from 'vitest';
import { knobSettings } from '../../src/fault-knobs.js';
import { attrWrites } from '../../src/guest/faults.js';

const noRanges = () => 'no ranges in this test';

describe('fail_function', () => {
  it('writes each inject function on its own (the kernel takes one symbol per write)', () => {
    const { settings, problems } = knobSettings({ fail_function: { inject: ['open_ctree', 'btrfs_alloc_tree_block'], retval: -12 } }, noRanges);
    expect(problems).toEqual([]);
    // clear the list, then one write per function; each retval file after inject made it
    expect(attrWrites('fail_function/inject', settings['fail_function/inject']!)).toEqual(['\n', 'open_ctree', 'btrfs_alloc_tree_block']);
    // the retval file parses an unsigned number (kstrtoull refuses "-12"): 2^64 - 12
    expect(settings['fail_function/open_ctree/retval']).toBe('0xfffffffffffffff4');
    expect(settings['fail_function/btrfs_alloc_tree_block/retval']).toBe('0xfffffffffffffff4');
    const keys = Object.keys(settings);
    expect(keys.indexOf('fail_function/inject')).toBeLessThan(keys.indexOf('fail_function/open_ctree/retval'));
  });

  it('writes the retval files after inject whatever order the config gives them in', () => {
    const { settings } = knobSettings({ fail_function: { retval: -5, inject: ['should_failslab'] } }, noRanges);
    expect(Object.keys(settings)).toEqual(['fail_function/inject', 'fail_function/should_failslab/retval']);
    expect(settings['fail_function/should_failslab/retval']).toBe('0xfffffffffffffffb');
  });

  it('writes one function as one write, and other attributes as they are', () => {
    const { settings } = knobSettings({ fail_function: { inject: ['open_ctree'] }, failslab: { probability: 5 } }, noRanges);
    expect(attrWrites('fail_function/inject', settings['fail_function/inject']!)).toEqual(['\n', 'open_ctree']);
    expect(attrWrites('failslab/probability', settings['failslab/probability']!)).toEqual(['5']);
  });
});
