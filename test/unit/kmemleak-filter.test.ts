// kmemleak's text range from a real 6.12.117 build (objdump of mm/kmemleak.o, System.map excerpt),
// and the plan the guest makes of it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planKmemleakFilter, type GuestProbe } from '../../src/guest/kmemleak-filter.js';
import { kmemleakRange, parseObjdumpSymbols, parseSectionSize, parseSystemMap } from '../../src/kernel/kmemleak-text.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/kmemleak-6.12.117/${f}`, import.meta.url), 'utf8');

describe("kmemleak's text range", () => {
  const symbols = parseObjdumpSymbols(fixture('objdump-t.txt'));
  const map = parseSystemMap(fixture('System.map.excerpt'));

  it('reads function symbols and their sections from objdump -t', () => {
    expect(symbols).toContainEqual({ name: '__create_object', section: '.text', offset: 0xdfd });
    expect(symbols).toContainEqual({ name: 'kmemleak_alloc', section: '.ref.text', offset: 0x37d });
    expect(symbols.filter((s) => s.section === '.text').length).toBe(40);
  });

  it('reads the size of .text from objdump -h', () => {
    expect(parseSectionSize(fixture('objdump-h.txt'), '.text')).toBe(0x1bf0);
  });

  it('anchors the range on a symbol whose name is unique in System.map', () => {
    expect(map.get('__nr_to_section')!.length).toBeGreaterThan(1);
    const range = kmemleakRange(symbols, 0x1bf0, map)!;
    expect(range).toEqual({ anchor: '__create_object', start: -0xdfd, end: 0x1bf0 - 0xdfd });
    // every kmemleak .text function of the excerpt falls inside, the .ref.text API outside
    const base = map.get('__create_object')![0]!;
    const inside = (a: bigint) => a >= base + BigInt(range.start) && a < base + BigInt(range.end);
    expect(inside(map.get('get_object')![0]!)).toBe(true);
    expect(inside(map.get('kmemleak_scan')![0]!)).toBe(true);
    expect(inside(map.get('kmemleak_alloc')![0]!)).toBe(false);
  });

  it('gives no range without a unique anchor', () => {
    expect(kmemleakRange(symbols, 0x1bf0, new Map())).toBeNull();
  });
});

describe('kmemleak filter plan', () => {
  const range = { anchor: '__create_object', start: -0xdfd, end: 0xdf3 };
  const probe: GuestProbe = { kmemleakOn: true, stackFilter: true, userRejects: [] };
  const resolve = (s: string) => (s === '__create_object' ? 0xffffffff81100078n : null);

  it('rejects the range for failslab and fail_page_alloc', () => {
    const plan = planKmemleakFilter(range, '', probe, resolve);
    expect(plan.settings).toEqual({
      'failslab/reject-start': '0xffffffff810ff27b',
      'failslab/reject-end': '0xffffffff81100e6b',
      'fail_page_alloc/reject-start': '0xffffffff810ff27b',
      'fail_page_alloc/reject-end': '0xffffffff81100e6b',
    });
    expect(plan.filter).toEqual({ kmemleakOn: true, kernelKeepsOut: false, applied: true, note: "on: the stack filter rejects kmemleak's text 0xffffffff810ff27b-0xffffffff81100e6b for failslab and fail_page_alloc" });
  });

  it('says why it cannot be applied', () => {
    const note = (p: Partial<GuestProbe>, r: typeof range | null = range, why = '') => planKmemleakFilter(r, why, { ...probe, ...p }, resolve).filter.note;
    expect(note({ kmemleakOn: false })).toBe('not needed: kmemleak is off');
    expect(note({ stackFilter: false })).toBe('cannot be applied: the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (no reject-start in debugfs)');
    expect(note({ userRejects: ['failslab reject-start=0xffffffff81000000'] })).toBe(
      'cannot be applied: a reject range of your own is set (failslab reject-start=0xffffffff81000000)',
    );
    expect(note({}, { ...range, anchor: 'nope' })).toBe('cannot be applied: nope is not in /proc/kallsyms');
    expect(note({}, null, 'a prebuilt image has no build dir to read kmemleak.o from')).toBe('off: a prebuilt image has no build dir to read kmemleak.o from');
    expect(planKmemleakFilter(null, 'x', probe, resolve).settings).toEqual({});
    const patched = planKmemleakFilter(range, '', probe, (s) => (s === 'fault_inject_disable' ? 0xffffffff81000000n : resolve(s)));
    expect(patched).toEqual({
      settings: {},
      filter: { kmemleakOn: true, kernelKeepsOut: true, applied: false, note: "not needed: this kernel keeps kmemleak's allocations out of fault injection (fault_inject_disable)" },
    });
  });
});
