// In the guest: keep SLUB's slab refills out of the counted fault points. A kmem_cache_alloc
// needs a new slab page only when its cache's slabs are full, which depends on everything that
// ran before (other harnesses, a global stress run, another boot), and SLUB's first try is a
// high-order __GFP_NOWARN allocation it gets over by trying the minimum order. Counted, these
// points come and go and move every later step's nth. Rejected with fail_page_alloc's stack
// filter, they are not counted; an allocation from a slab still fails at its own point
// (failslab), which is what its caller sees.

/** The function that allocates a slab's pages, in the order to look for it (inlining varies). */
export const SLAB_REFILL_SYMBOLS = ['allocate_slab', 'new_slab'] as const;

export interface RefillPlan {
  settings: Record<string, string>;
  /** for the report: what was done, or why not */
  note: string;
  applied: boolean;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** Pure: the fail_page_alloc reject range, given the stack filter and the symbols of this kernel. */
export function planRefillFilter(stackFilter: boolean, userRejects: string[], resolve: (symbol: string) => [bigint, bigint] | string): RefillPlan {
  const no = (why: string): RefillPlan => ({ settings: {}, applied: false, note: `slab refills counted: ${why}; step numbers can then depend on the slabs' state` });
  if (!stackFilter) return no('the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER');
  const own = userRejects.filter((r) => r.startsWith('fail_page_alloc'));
  if (own.length) return no(`a fail_page_alloc reject range of your own is set (${own.join(', ')})`);
  const whys: string[] = [];
  for (const symbol of SLAB_REFILL_SYMBOLS) {
    const r = resolve(symbol);
    if (typeof r === 'string') {
      whys.push(r);
      continue;
    }
    return {
      settings: { 'fail_page_alloc/reject-start': hex(r[0]), 'fail_page_alloc/reject-end': hex(r[1]) },
      applied: true,
      note: `slab refills not counted: fail_page_alloc rejects ${symbol} (${hex(r[0])}-${hex(r[1])})`,
    };
  }
  return no(whys.join('; '));
}
