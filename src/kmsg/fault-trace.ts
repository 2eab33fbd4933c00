// Where an injected fault struck, from the stack trace fault injection logs with verbose=2:
//   FAULT_INJECTION: forcing a failure.\x0aname failslab, interval 1, ...
//   Call Trace:
//    <TASK>
//    dump_stack_lvl+0x59/0x6b
//    ...
//    alloc_pipe_info+0x66/0x1a0      <- the call site: the first frame past the allocator
//    create_pipe_files+0x46/0x1ad
import { z } from 'zod';

export const FaultSite = z.strictObject({
  injector: z.string(),
  /** e.g. "alloc_pipe_info+0x66", the first frame outside fault injection and the allocator */
  callSite: z.string().nullable(),
  /** the function that called it, e.g. "create_pipe_files" */
  caller: z.string().nullable(),
  /** reliable frames, innermost first, as "name+0xoff" */
  frames: z.array(z.string()),
  /** the fault struck one of kmemleak's own allocations */
  inKmemleak: z.boolean(),
});
export type FaultSite = z.infer<typeof FaultSite>;

/** Fault injection itself and the allocators' entry points: never the call site. */
const MACHINERY = new RegExp(
  '^(' +
    [
      'dump_stack', 'dump_stack_lvl', 'fail_dump', 'should_fail', 'should_fail_ex', 'should_failslab', 'should_fail_alloc_page', 'should_fail_usercopy', 'should_fail_futex',
      '_copy_to_user', '_copy_from_user', '_inline_copy_to_user', '_inline_copy_from_user',
      'slab_pre_alloc_hook', 'slab_alloc_node', '__slab_alloc', '___slab_alloc', '__slab_alloc_node', 'allocate_slab', 'new_slab', 'alloc_slab_page',
      'kmem_cache_alloc\\w*', '__kmem_cache_alloc\\w*', '__kmalloc\\w*', 'kmalloc\\w*', 'kzalloc\\w*', 'kcalloc\\w*', 'krealloc\\w*',
      '__kvmalloc\\w*', 'kvmalloc\\w*', 'kmemdup\\w*', 'kstrdup\\w*', 'kstrndup\\w*',
      'slab_post_alloc_hook', 'prepare_alloc_pages', '__alloc_pages\\w*', 'alloc_pages\\w*', '__alloc_frozen_pages\\w*', 'alloc_frozen_pages\\w*', 'folio_alloc\\w*',
      '__folio_alloc\\w*', '__get_free_pages\\w*', 'get_zeroed_page\\w*', 'alloc_pages_mpol\\w*',
    ].join('|') +
    ')$',
);

/** kmemleak's functions that allocate its metadata (6.12), and its API prefix. */
const KMEMLEAK = /^(kmemleak_\w+|__create_object|create_object\w*|__alloc_object|__link_object|mem_pool_alloc|add_scan_area)$/;

/** An allocator's or kmemleak's own frame: never where an object was allocated. */
export function isAllocatorFrame(name: string): boolean {
  return MACHINERY.test(name) || KMEMLEAK.test(name);
}

const FRAME = /^\s*(\? )?([\w.$]+?)((?:\.(?:isra|constprop|part|cold|lto_priv)\.\d+)*)\+(0x[0-9a-f]+)\/0x[0-9a-f]+/;

/** Every injected fault in a step's kernel log, in order (usually one). */
export function parseFaultSites(kmsg: string): FaultSite[] {
  const out: FaultSite[] = [];
  const lines = kmsg.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('FAULT_INJECTION: forcing a failure')) continue;
    const injector = /name (\S+?),/.exec(lines[i]! + (lines[i + 1] ?? ''))?.[1] ?? 'unknown';
    const names: string[] = [];
    const frames: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.startsWith('FAULT_INJECTION:'); j++) {
      const line = lines[j]!;
      if (/^\s*<\/TASK>|^\s*<\/IRQ>/.test(line) && names.length) break;
      const m = FRAME.exec(line);
      if (!m || m[1]) continue; // '? ' marks an unreliable frame: stale data on the stack
      names.push(m[2]!);
      frames.push(`${m[2]}${m[3]}+${m[4]}`);
    }
    const site = names.findIndex((n) => !MACHINERY.test(n));
    out.push({
      injector,
      callSite: site >= 0 ? frames[site]! : null,
      caller: site >= 0 ? names[site + 1] ?? null : null,
      frames,
      inKmemleak: names.some((n) => KMEMLEAK.test(n)),
    });
    i = j - 1;
  }
  return out;
}
