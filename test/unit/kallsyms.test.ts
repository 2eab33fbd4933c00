// /proc/kallsyms looked up in its text (src/guest/kmemleak-filter.ts): the same answers as
// splitting it into a map of first names, on text shaped as the kernel prints it.
import { describe, expect, it } from 'vitest';
import { addressAfter, symbolAddress } from '../../src/guest/kmemleak-filter.js';

const text = `
ffffffff81000000 T _stext
ffffffff81000000 T startup_64
ffffffff81144571 t new_slab
ffffffff811446c5 t new_slab_objects
ffffffff811446c5 T allocate_slab
ffffffff81200000 T dup
ffffffff81300000 t dup
ffffffffc0000000 t oopsy\t[kfault_test]
ffffffffc0000100 t new_slab_mod\t[kfault_test]
0000000000000000 A zero_sym
ffffffff81100000 T before_after
`;

describe('symbolAddress', () => {
  it('finds the first line of a name', () => {
    expect(symbolAddress(text, 'new_slab')).toBe(0xffffffff81144571n);
    expect(symbolAddress(text, 'dup')).toBe(0xffffffff81200000n);
    expect(symbolAddress(text, 'startup_64')).toBe(0xffffffff81000000n);
  });
  it('matches whole names only: not a prefix, nor a suffix of another name', () => {
    expect(symbolAddress(text, 'new_slab_obj')).toBeNull();
    expect(symbolAddress(text, 'slab')).toBeNull();
    expect(symbolAddress(text, 'stext')).toBeNull();
  });
  it("never matches a module's symbol by its bare name, nor a name with blanks", () => {
    expect(symbolAddress(text, 'oopsy')).toBeNull();
    expect(symbolAddress(text, 'new_slab_mod')).toBeNull();
    expect(symbolAddress(text, 'T dup')).toBeNull();
    expect(symbolAddress(text, '')).toBeNull();
  });
  it('says null for an address that reads 0 (kptr_restrict)', () => {
    expect(symbolAddress(text, 'zero_sym')).toBeNull();
  });
});

describe('addressAfter', () => {
  it("is the lowest address above, wherever its line is (modules' lines included)", () => {
    expect(addressAfter(text, 0xffffffff81144571n)).toBe(0xffffffff811446c5n);
    expect(addressAfter(text, 0xffffffff81000000n)).toBe(0xffffffff81100000n);
    expect(addressAfter(text, 0xffffffff81300000n)).toBe(0xffffffffc0000000n);
    expect(addressAfter(text, 0xffffffffc0000000n)).toBe(0xffffffffc0000100n);
  });
  it('is undefined above the last one', () => {
    expect(addressAfter(text, 0xffffffffc0000100n)).toBeUndefined();
  });
  it('compares addresses of another width as numbers', () => {
    expect(addressAfter('\n1000 T a\nffffffff81000000 T b\n800 T c\n', 0x500n)).toBe(0x800n);
  });
});
