// The plan that keeps SLUB's slab refills out of fail-nth's counted points.
import { describe, expect, it } from 'vitest';
import { planRefillFilter } from '../../src/guest/refill-filter.js';

const symbols: Record<string, [bigint, bigint]> = { allocate_slab: [0xffffffff81234000n, 0xffffffff81234400n] };
const resolve = (s: string) => symbols[s] ?? `no symbol '${s}' in this kernel's /proc/kallsyms`;

describe('slab refill filter', () => {
  it("rejects allocate_slab's text for fail_page_alloc only", () => {
    const p = planRefillFilter(true, [], resolve);
    expect(p.settings).toEqual({ 'fail_page_alloc/reject-start': '0xffffffff81234000', 'fail_page_alloc/reject-end': '0xffffffff81234400' });
    expect(p).toMatchObject({ applied: true, note: 'slab refills not counted: fail_page_alloc rejects allocate_slab (0xffffffff81234000-0xffffffff81234400)' });
  });

  it('falls back to new_slab where allocate_slab was inlined', () => {
    const p = planRefillFilter(true, [], (s) => (s === 'new_slab' ? [16n, 32n] : `no symbol '${s}'`));
    expect(p.settings).toEqual({ 'fail_page_alloc/reject-start': '0x10', 'fail_page_alloc/reject-end': '0x20' });
  });

  it('says why not, and that numbering can then wander', () => {
    expect(planRefillFilter(false, [], resolve)).toEqual({ settings: {}, applied: false, note: 'slab refills counted: the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER; step numbers can then depend on the slabs\' state' });
    expect(planRefillFilter(true, ['fail_page_alloc/reject-start=0x1 (config)'], resolve).note).toMatch(/^slab refills counted: a fail_page_alloc reject range of your own is set \(fail_page_alloc\/reject-start=0x1 \(config\)\)/);
    expect(planRefillFilter(true, ['failslab reject-start=0x1'], resolve).applied).toBe(true);
    expect(planRefillFilter(true, [], () => 'gone').note).toBe("slab refills counted: gone; gone; step numbers can then depend on the slabs' state");
  });
});
