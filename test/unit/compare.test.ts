import { describe, expect, it } from 'vitest';
import { compareFailed, compareTable, parseKernelSpec, type SideResult } from '../../src/compare.js';
import { readResultsFile } from '../../src/results-file.js';
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
  refillFilter: '', setup: null,
  kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: false, note: 'off' },
  steps: [
    { nth: 1, ret: -12, errno: 'ENOMEM', injected: true, tid: 60, signal: null, ns: 1, kmsg, fault: null, trace: '' },
    ...Array.from({ length: absorbed }, (_, i) => ({ nth: i + 2, ret: 0, errno: null, injected: true, tid: 60, signal: null, ns: 1, kmsg: '', fault: null, trace: '' })),
    { nth: absorbed + 2, ret: 0, errno: null, injected: false, tid: 60, signal: null, ns: 1, kmsg: '', fault: null, trace: '' },
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
      'harness  A points  A failed  A tolerated  A absorbed  A crashes  A hangs  A oopses  A leaks  A ms  B points  B failed  B tolerated  B absorbed  B crashes  B hangs  B oopses  B leaks  B ms',
      'pipe2           3         1            0           2          0        0         1        0    10         1         1            0           0          0        0         0        0    10',
      'leaks (kmemleak, after all sweeps): A 1 (64 bytes; allocated at alloc_pipe_info+0x66); B not checked: kmemleak is off or disabled itself',
      'problems:',
      '  A pipe2 nth=1  (no call site: neither logged nor traced)  ENOMEM  warning: WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2',
    ]);
  });
});

// The saved real results of the positive controls (stock 6.12.117): a leak, an oops (a crash
// entry: guests boot with oops=panic) and a warning, next to harnesses with no problem.
describe('compare on saved real results', () => {
  const saved = readResultsFile(new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url).pathname);
  const side = (label: string, harnesses: string[]): SideResult => {
    const results = saved.results.filter((r) => harnesses.includes(r.harness));
    return { label, kernel: saved.kernel, results, leaks: results.flatMap((r) => r.leaks.map((l) => l.leak)) };
  };
  const all = ['pipe2', 'harness.c(leak)', 'harness.c(oops)', 'harness.c(warn)', 'harness.c(clean)'];
  const clean = side('clean', ['pipe2', 'harness.c(clean)']);
  const column = (text: string, harness: string, name: string) => {
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('harness'))!.split(/\s{2,}/);
    const row = lines.find((l) => l.startsWith(harness + ' '))!.trim().split(/\s{2,}/);
    return row[header.indexOf(name)];
  };

  it('shows the crash, the leak and the warning of each kernel, in their columns', () => {
    const text = compareTable(side('stock', all), clean);
    expect(column(text, 'harness.c(oops)', 'A crashes')).toBe('1');
    expect(column(text, 'harness.c(oops)', 'A hangs')).toBe('0');
    expect(column(text, 'harness.c(leak)', 'A leaks')).toBe('1');
    expect(column(text, 'harness.c(warn)', 'A oopses')).toBe('1');
    expect(column(text, 'harness.c(oops)', 'B crashes')).toBe('-');
    expect(column(text, 'pipe2', 'B crashes')).toBe('0');
    // and each problem on a line of its own, as sweep prints them
    expect(text).toMatch(/^ {2}A harness\.c\(oops\) nth=2 .* oops: BUG: kernel NULL pointer dereference/m);
    expect(text).toMatch(/^ {2}A harness\.c\(leak\) nth=3 .* leak: 1 object, 256 bytes, allocated at kfault_test_alloc\+0xe <- leaky$/m);
    expect(text).toMatch(/^ {2}A harness\.c\(warn\) nth=2 .* warning: WARNING: /m);
    // the same side as B: its problems are B's
    expect(column(compareTable(clean, side('stock', all)), 'harness.c(oops)', 'B crashes')).toBe('1');
  });

  it('shows a hang (the oops result as a hang would be recorded)', () => {
    const oops = saved.results.find((r) => r.harness === 'harness.c(oops)')!;
    const hang = { ...oops, crashes: oops.crashes.map((c) => ({ ...c, kind: 'hang' as const, headline: 'no step finished within 60000 ms; QEMU was killed', at: null })) };
    const text = compareTable(clean, { label: 'b', kernel: saved.kernel, results: [hang], leaks: [] });
    expect(column(text, 'harness.c(oops)', 'B hangs')).toBe('1');
    expect(column(text, 'harness.c(oops)', 'B crashes')).toBe('0');
    expect(compareFailed(clean, { label: 'b', kernel: saved.kernel, results: [hang], leaks: [] })).toBe(true);
  });

  it('fails (exit 1) when either kernel had a problem, as sweep does', () => {
    expect(compareFailed(clean, clean)).toBe(false);
    expect(compareFailed(side('stock', all), clean)).toBe(true);
    expect(compareFailed(clean, side('stock', all))).toBe(true);
    for (const h of ['harness.c(leak)', 'harness.c(oops)', 'harness.c(warn)']) expect(compareFailed(clean, side('b', ['pipe2', h])), h).toBe(true);
    // kmemleak that could not check is a failure, never "no leaks"
    expect(compareFailed(clean, { ...clean, leaks: null })).toBe(true);
  });
});
