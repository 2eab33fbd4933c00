// Leaks tied to steps, on kmemleak's real report of the test module's leak (stock 6.12.117).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allocatedAt, attributeLeaks, leakSummary } from '../../src/attribution.js';
import { leakText } from '../../src/compare.js';
import { leakTitle } from '../../src/reports/groups.js';
import { parseKmemleakReport } from '../../src/kmsg/kmemleak-report.js';
import type { Step, SweepResult } from '../../src/protocol.js';

const report = readFileSync(new URL('../fixtures/kmemleak/report-6.12.117-module-leak.txt', import.meta.url), 'utf8');
const [leak] = parseKmemleakReport(report);
const step = (nth: number, tid: number): Step => ({ nth, ret: -12, errno: 'ENOMEM', injected: true, tid, signal: null, ns: 1, kmsg: '', fault: null, trace: '' });
const sweep = (harness: string, tid: number): SweepResult => ({
  harness, library: null, arg: null, syscall: 'ioctl', summary: '', maxSteps: 100, mode: 'systematic', complete: true, ms: 1, refillFilter: '', setup: null,
  steps: [step(1, tid), step(2, tid), step(3, tid)], leaks: [], crashes: [],
  kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: true, note: '' },
});

describe('leak attribution', () => {
  it('parses the real report: 6.12 prints frames without addresses', () => {
    expect(leak).toMatchObject({ address: '0xffff888003fb5e00', size: 256, comm: 'kf#3', pid: 62, jiffies: 4294896103, crc: '496ba1a5' });
    expect(leak!.frames.slice(3, 6)).toEqual(['__kmalloc_noprof+0x34/0x36', 'kfault_test_alloc+0xe/0x10 [kfault_test]', 'leaky+0x11/0x6f [kfault_test]']);
    expect(leak!.hexDump).toHaveLength(2);
  });

  it('names where it was allocated, past the allocator and kmemleak', () => {
    expect(allocatedAt(leak!)).toBe('kfault_test_alloc+0xe <- leaky');
    expect(leakSummary([leak!])).toBe('1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky');
  });

  it('ties a leak to the step whose thread (pid) and comm (kf#<nth>) made it', () => {
    const a = attributeLeaks([sweep('other', 61), sweep('leak', 62)], [leak!], []);
    expect(a.results[1]!.leaks).toEqual([{ nth: 3, leak }]);
    expect(a.results[0]!.leaks).toEqual([]);
    expect(a.unattributed).toEqual([]);
  });

  it('the latest sweep with that thread id wins (pids restart after a reboot)', () => {
    const a = attributeLeaks([sweep('before the crash', 62), sweep('after', 62)], [leak!], []);
    expect(a.results.map((r) => r.leaks.length)).toEqual([0, 1]);
  });

  it('leaks of other tasks are unattributed; suppressed frames are dropped', () => {
    expect(attributeLeaks([sweep('x', 99)], [leak!], []).unattributed).toEqual([leak]);
    const s = attributeLeaks([sweep('leak', 62)], [leak!], ['leaky']);
    expect(s.suppressed).toEqual([leak]);
    expect(s.results[0]!.leaks).toEqual([]);
  });

  it('a truncated report gives the leak it has, with the frames it has', () => {
    const cut = parseKmemleakReport(readFileSync(new URL('../fixtures/kmemleak/report-6.12.117-module-leak-truncated.txt', import.meta.url), 'utf8'));
    expect(cut).toHaveLength(1);
    expect(cut[0]!.comm).toBe('kf#3');
    expect(cut[0]!.frames.length).toBeLessThan(leak!.frames.length);
  });

  it('one allocator list: compare, the sweep and the groups name the same site, past kvmalloc and kmemdup too', () => {
    // what 6.12 prints for a kvmalloc'ed table and a kmemdup'ed buffer (the allocators' own
    // frames first); compare's own prefix list once stopped at __kvmalloc_node_noprof
    const kv = { ...leak!, frames: ['kmemleak_alloc+0x4e/0x80', '__kmalloc_node_noprof+0x2b1/0x3a0', '__kvmalloc_node_noprof+0x4b/0x160', 'alloc_fdtable+0x82/0x120', 'dup_fd+0x2f1/0x3c0'] };
    const dup = { ...leak!, frames: ['kmemleak_alloc+0x4e/0x80', '__kmalloc_node_track_caller_noprof+0x1e1/0x3a0', 'kmemdup_noprof+0x24/0x50', 'leaky.constprop.0+0x11/0x6f [kfault_test]', 'kfault_test_ioctl+0x30/0x50 [kfault_test]'] };
    expect(allocatedAt(kv)).toBe('alloc_fdtable+0x82 <- dup_fd');
    expect(allocatedAt(dup)).toBe('leaky.constprop.0+0x11 <- kfault_test_ioctl');
    expect(leakText([kv, dup])).toBe(`2 (${2 * leak!.size} bytes; allocated at alloc_fdtable+0x82 <- dup_fd, leaky.constprop.0+0x11 <- kfault_test_ioctl)`);
    expect([leakTitle(kv), leakTitle(dup)]).toEqual(['memory leak in alloc_fdtable', 'memory leak in leaky']);
  });
});
