// Whether the guest's kernel zeroes heap allocations (init_on_alloc). Without it kmalloc'd memory
// keeps what it held while free, and kmemleak counts such stale words as references: a real leak
// then goes unreported (bench: leak-detection). Read from the line mm_init prints at boot.
import { kmsgRecords } from './kmsg.js';

/** "mem auto-init: stack:off, heap alloc:on, heap free:off" -> true; null when not printed. */
export function heapAllocZeroed(kernelLog: string[]): boolean | null {
  for (const line of kernelLog) {
    const m = /mem auto-init: .*heap alloc:(on|off)/.exec(line);
    if (m) return m[1] === 'on';
  }
  return null;
}

/** Why this guest's kmemleak check can miss leaks; null when heap allocations are zeroed. */
export function leakCheckWhy(): string | null {
  const zeroed = heapAllocZeroed(kmsgRecords().map((r) => r.text));
  if (zeroed) return null;
  return zeroed === false
    ? 'heap allocations are not zeroed (init_on_alloc is off): stale pointers in kmalloc\'d memory can hide leaks from kmemleak'
    : 'the kernel did not say whether heap allocations are zeroed (no "mem auto-init" line): stale pointers can hide leaks from kmemleak';
}
