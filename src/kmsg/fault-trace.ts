// Where an injected fault struck, from the stack trace fault injection logs with verbose=2:
//   FAULT_INJECTION: forcing a failure.\x0aname failslab, interval 1, ...
//   Call Trace:
//    <TASK>
//    dump_stack_lvl+0x59/0x6b
//    ...
//    alloc_pipe_info+0x66/0x1a0      <- the call site: the first frame past the allocator
//    create_pipe_files+0x46/0x1ad
import type { FaultSite } from './fault-site.js';

// The schema is in fault-site.js: the guest agent parses with this module and loads no zod.
export type { FaultSite };

/** Fault injection itself and the allocators' entry points: never the call site. */
const MACHINERY = new RegExp(
  '^(' +
    [
      'dump_stack', 'dump_stack_lvl', 'fail_dump', 'should_fail', 'should_fail_ex', 'should_failslab', 'should_fail_alloc_page', 'should_fail_usercopy', 'should_fail_futex',
      '_copy_to_user', '_copy_from_user', '_inline_copy_to_user', '_inline_copy_from_user',
      'slab_pre_alloc_hook', 'slab_alloc_node', '__slab_alloc', '___slab_alloc', '__slab_alloc_node', 'allocate_slab', 'new_slab', 'alloc_slab_page',
      'kmem_cache_alloc\\w*', '__kmem_cache_alloc\\w*', '__kmalloc\\w*', 'kmalloc\\w*', 'kzalloc\\w*', 'kcalloc\\w*', 'krealloc\\w*',
      '__kvmalloc\\w*', 'kvmalloc\\w*', 'kmemdup\\w*', 'kstrdup\\w*', 'kstrndup\\w*',
      'slab_post_alloc_hook', '__kmalloc_large\\w*', '___kmalloc_large\\w*', 'kmalloc_large\\w*', '__do_kmalloc_node', 'kmalloc_node_track_caller\\w*',
      'pcpu_alloc\\w*', '__alloc_percpu\\w*', 'alloc_percpu\\w*', 'pcpu_\\w+', 'prepare_alloc_pages', '__alloc_pages\\w*', 'alloc_pages\\w*', '__alloc_frozen_pages\\w*', 'alloc_frozen_pages\\w*', 'folio_alloc\\w*',
      '__folio_alloc\\w*', '__get_free_pages\\w*', 'get_zeroed_page\\w*', 'alloc_pages_mpol\\w*',
      // fail_make_request: the bio's submitter is the site, not the block layer's entry points
      'should_fail_request', 'should_fail_bio', 'submit_bio_noacct\\w*', 'submit_bio', 'submit_bio_wait',
    ].join('|') +
    ')$',
);

/** The tracing machinery between a tracepoint and its stacktrace trigger. */
const TRACING = /^(trace_\w+|__trace_\w+|__traceiter_\w+|trace_event_\w+|event_triggers_call\w*|stacktrace_trigger\w*|__ftrace_trace_stack|ftrace_\w+|perf_trace_\w+|trace_buffer_unlock_commit\w*)$/;

/** kmemleak's functions that allocate its metadata (6.12), and its API prefix. */
const KMEMLEAK = /^(kmemleak_\w+|__create_object|create_object\w*|__alloc_object|__link_object|mem_pool_alloc|add_scan_area)$/;

/** "slab_alloc_node.isra.0+0x94/0xa5 [mod]" -> "slab_alloc_node" */
export function functionOf(frame: string): string {
  return frame
    .trim()
    .replace(/^\? /, '')
    .split(/[+ ]/)[0]!
    .replace(/(\.(isra|constprop|part|cold|lto_priv|llvm)\.\d+)+$/, '');
}

/** An allocator's or kmemleak's own frame (a function name, as functionOf gives it): never
 * where an object was allocated. The one such list: leaks, groups and compare all use it. */
export function isAllocatorFrame(name: string): boolean {
  return MACHINERY.test(name) || KMEMLEAK.test(name);
}

function site(injector: string, names: string[], frames: string[], from: FaultSite['from']): FaultSite {
  const i = names.findIndex((n) => !MACHINERY.test(n) && !TRACING.test(n));
  return {
    injector,
    callSite: i >= 0 ? frames[i]! : null,
    caller: i >= 0 ? names[i + 1] ?? null : null,
    frames: frames.filter((_, k) => !TRACING.test(names[k]!)),
    inKmemleak: names.some((n) => KMEMLEAK.test(n)),
    from,
  };
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
    out.push(site(injector, names, frames, 'kmsg'));
    i = j - 1;
  }
  return out;
}

/** Which injector fails an allocation that a tracepoint saw fail. */
const EVENT_INJECTOR: Record<string, string> = {
  kmem_cache_alloc: 'failslab',
  kmalloc: 'failslab',
  mm_page_alloc: 'fail_page_alloc',
  percpu_alloc_percpu_fail: 'fail_page_alloc',
};

const TRACE_EVENT = /^\s*\S.*?\s\[\d+\]\s.*?\s\d+\.\d+: (\w+): /;
const TRACE_FRAME = /^ => ([\w.$]+?)((?:\.(?:isra|constprop|part|cold|lto_priv)\.\d+)*)\+(0x[0-9a-f]+)\/0x[0-9a-f]+/;

/**
 * Failed allocations in a tracing instance's text (trace_pipe), each event followed by the
 * "<stack trace>" its trigger recorded, in order: the first is the injected fault, any later
 * one a failure it caused (a kmalloc of a large size fails after its page allocation did).
 */
export function parseTraceSites(text: string): FaultSite[] {
  const out: FaultSite[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const ev = TRACE_EVENT.exec(lines[i]!);
    if (!ev || ev[1] === 'tracing_mark_write' || !(ev[1]! in EVENT_INJECTOR)) continue;
    let j = i + 1;
    if (!/<stack trace>/.test(lines[j] ?? '')) continue;
    const names: string[] = [];
    const frames: string[] = [];
    for (j++; j < lines.length; j++) {
      const m = TRACE_FRAME.exec(lines[j]!);
      if (!m) break;
      names.push(m[1]!);
      frames.push(`${m[1]}${m[2]}+${m[3]}`);
    }
    out.push(site(EVENT_INJECTOR[ev[1]!]!, names, frames, 'tracepoint'));
    i = j - 1;
  }
  return out;
}
