import { describe, expect, it } from 'vitest';
import { compareTable, parseKernelSpec } from '../../src/compare.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import type { SweepResult } from '../../src/protocol.js';

const base = parseConfig({}).kernel;
const sweep = (harness: string, absorbed: number, kmsg = ''): SweepResult => ({
  harness,
  library: null,
  arg: null,
  syscall: harness,
  summary: harness,
  maxSteps: 1000,
  mode: 'systematic',
  complete: true,
  leaks: [],
  crashes: [],
  ms: 10,
  kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: false, note: 'off' },
  steps: [
    { nth: 1, ret: -12, errno: 'ENOMEM', injected: true, tid: 60, signal: null, ns: 1, kmsg, fault: null },
    ...Array.from({ length: absorbed }, (_, i) => ({ nth: i + 2, ret: 0, errno: null, injected: true, tid: 60, signal: null, ns: 1, kmsg: '', fault: null })),
    { nth: absorbed + 2, ret: 0, errno: null, injected: false, tid: 60, signal: null, ns: 1, kmsg: '', fault: null },
  ],
});

describe('compare', () => {
  it('reads kernel specs', () => {
    expect(parseKernelSpec('stock', base, '--a')).toMatchObject({ label: 'stock', kernel: { patches: undefined, tree: undefined, image: undefined } });
    expect(parseKernelSpec('patches:/p', base, '--b')).toMatchObject({ label: 'patched (/p)', kernel: { patches: '/p' } });
    expect(parseKernelSpec('image:/boot/vmlinuz', base, '--b').kernel.image).toBe('/boot/vmlinuz');
    expect(() => parseKernelSpec('patched', base, '--b')).toThrow(ConfigError);
    expect(() => parseKernelSpec('patched', base, '--b')).toThrow("  --b: expected stock, patches:DIR, tree:PATH or image:PATH, got 'patched'");
  });

  it('prints both kernels side by side, with oopses and leaks', () => {
    const leak = { address: '0x1', size: 64, comm: 'node', pid: 1, jiffies: 1, crc: null, hexDump: [], frames: ['kmemleak_alloc+0x4e/0x80', '__kmalloc_cache_noprof+0xf/0x11', 'alloc_pipe_info+0x66/0x1a0'] };
    const text = compareTable(
      { label: 'stock', kernel: '6.12.117', results: [sweep('pipe2', 2, 'WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2')], leaks: [leak] },
      { label: 'patched', kernel: '6.12.117', results: [sweep('pipe2', 0)], leaks: null },
    );
    expect(text.split('\n').slice(3)).toEqual([
      'harness  A points  A failed  A tolerated  A absorbed  A oopses  A ms  B points  B failed  B tolerated  B absorbed  B oopses  B ms',
      'pipe2           3         1            0           2         1    10         1         1            0           0         0    10',
      'leaks (kmemleak, after all sweeps): A 1 (64 bytes; allocated at alloc_pipe_info+0x66/0x1a0); B not checked: kmemleak is off or disabled itself',
    ]);
  });
});
