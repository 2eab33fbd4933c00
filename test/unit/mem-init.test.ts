// Whether a guest zeroes heap allocations, from its real boot log: kmemleak's check is only as
// good as that (bench: leak-detection), so a guest that does not say so gets a note.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { heapAllocZeroed } from '../../src/guest/mem-init.js';

const lines = (name: string) => readFileSync(new URL(`../fixtures/kmsg/${name}`, import.meta.url), 'utf8').split('\n');

describe('heapAllocZeroed', () => {
  it('reads "heap alloc:on" from the boot log of a kfault guest (saved real dmesg, 6.12.117)', () => {
    expect(heapAllocZeroed(lines('dmesg-boot-6.12.117.txt'))).toBe(true);
  });
  it('reads "heap alloc:off" from the boot log of a guest booted with init_on_alloc=0 (saved real dmesg)', () => {
    expect(heapAllocZeroed(lines('dmesg-boot-6.12.117-init_on_alloc=0.txt'))).toBe(false);
  });
  it('is null when the log does not say (a log whose start the ring buffer lost)', () => {
    expect(heapAllocZeroed(lines('dmesg-boot-6.12.117.txt').filter((l) => !l.includes('mem auto-init')))).toBeNull();
  });
});
