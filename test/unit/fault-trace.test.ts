// The parser on kernel logs saved from real sweeps on 6.12.117 (verbose=2, read from /dev/kmsg).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFaultSites, parseTraceSites } from '../../src/kmsg/fault-trace.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/kmsg/${f}`, import.meta.url), 'utf8');

describe('fault sites from kernel logs', () => {
  it('finds the call site past the allocator (pipe2, failslab)', () => {
    const [site, ...more] = parseFaultSites(fixture('pipe2-nth3-failslab.txt'));
    expect(more).toEqual([]);
    expect(site).toMatchObject({ injector: 'failslab', callSite: 'alloc_pipe_info+0x66', caller: 'create_pipe_files', inKmemleak: false });
    expect(site!.frames.slice(0, 3)).toEqual(['dump_stack_lvl+0x59', 'dump_stack+0x10', 'should_fail_ex+0x134']);
    expect(site!.frames.at(-1)).toBe('entry_SYSCALL_64_after_hwframe+0x4b');
  });

  it("a failed bio's site is its submitter, past the block layer's entry points (fail_make_request, ext4 fsync)", () => {
    const [site, ...more] = parseFaultSites(fixture('fail-make-request-fsync-ext4.txt'));
    expect(more).toEqual([]);
    expect(site).toMatchObject({ injector: 'fail_make_request', callSite: 'ext4_io_submit+0x2a', caller: 'ext4_do_writepages' });
  });

  it("skips unreliable '?' frames", () => {
    const [site] = parseFaultSites(fixture('open-nth2-unreliable-frame.txt'));
    expect(site).toMatchObject({ callSite: 'alloc_empty_file+0x8b', caller: 'path_openat' });
    expect(site!.frames).not.toContain('getname_flags+0x24');
  });

  // MADE UP: a fault in kmemleak's page allocation written by hand (no real sweep logged one,
  // since kmemleak's own allocations are __GFP_NOWARN); it tests the suffix and kmemleak rules.
  it('keeps compiler suffixes in the frame but not in the caller match (made-up log)', () => {
    const kmsg = [
      'FAULT_INJECTION: forcing a failure.\\x0aname fail_page_alloc, interval 1, probability 0, space 0, times 1',
      'Call Trace:',
      ' <TASK>',
      ' dump_stack_lvl+0x59/0x6b',
      ' should_fail_ex+0x134/0x15d',
      ' should_fail_alloc_page+0x1a/0x20',
      ' __alloc_pages_noprof+0x90/0x200',
      ' mem_pool_alloc.isra.0+0x10/0x80',
      ' __create_object+0x20/0x7a',
      ' kmemleak_alloc+0x30/0x26',
      ' </TASK>',
    ].join('\n');
    expect(parseFaultSites(kmsg)).toEqual([
      {
        injector: 'fail_page_alloc',
        callSite: 'mem_pool_alloc.isra.0+0x10',
        caller: '__create_object',
        frames: ['dump_stack_lvl+0x59', 'should_fail_ex+0x134', 'should_fail_alloc_page+0x1a', '__alloc_pages_noprof+0x90', 'mem_pool_alloc.isra.0+0x10', '__create_object+0x20', 'kmemleak_alloc+0x30'],
        inKmemleak: true,
        from: 'kmsg',
      },
    ]);
  });

  it('finds nothing in a log without an injected fault, or a truncated one', () => {
    expect(parseFaultSites('')).toEqual([]);
    expect(parseFaultSites('random: crng init done\n')).toEqual([]);
    const cut = fixture('pipe2-nth3-failslab.txt').split('\n').slice(0, 4).join('\n');
    expect(parseFaultSites(cut)).toEqual([{ injector: 'failslab', callSite: null, caller: null, frames: [], inKmemleak: false, from: 'kmsg' }]);
  });
});

// Saved from real sweeps on 6.12.117 with kfault's tracing instance: what the allocation
// tracepoints and their stacktrace triggers recorded during one step (Step.trace).
const traced = (f: string) => readFileSync(new URL(`../fixtures/trace-6.12.117/${f}`, import.meta.url), 'utf8');

describe('fault sites from the allocation tracepoints (faults that log no trace)', () => {
  it('mount-tmpfs nth=1: a __GFP_NOWARN kmalloc in strndup_user', () => {
    const [site, ...more] = parseTraceSites(traced('mount-tmpfs-nth1.txt'));
    expect(more).toEqual([]);
    expect(site).toMatchObject({ injector: 'failslab', callSite: 'memdup_user+0x2a', caller: 'strndup_user', inKmemleak: false, from: 'tracepoint' });
    expect(site!.frames.some((f) => f.startsWith('trace_'))).toBe(false);
  });

  it('open nth=5: the maple tree node a tmpfs directory offset needed, which the call survived', () => {
    const [site] = parseTraceSites(traced('open-nth5.txt'));
    expect(site).toMatchObject({ injector: 'failslab', callSite: 'mas_alloc_nodes+0x92', caller: 'mas_node_count_gfp', from: 'tracepoint' });
    expect(site!.frames).toContain('simple_offset_add+0x3c');
    expect(site!.frames[0]).toBe('kmem_cache_alloc_noprof+0x33');
  });

  it('no failed allocation, no site', () => {
    expect(parseTraceSites('')).toEqual([]);
  });
});
