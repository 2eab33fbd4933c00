// One errno-name source (native/errors.cc, glibc's strerrorname_np): a step's errno says what
// the kernel calls the number the syscall returned, as native errors' codes do. Node's table
// (os.constants.errno) names 95 ENOTSUP, a libc alias the kernel's headers do not have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errnoName } from '../../src/errno.js';

/** Every "#define ENAME <number>" of the kernel's uapi errno headers (aliases name no number). */
function kernelErrnos(): Map<number, string> {
  const out = new Map<number, string>();
  for (const h of ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h']) {
    for (const m of readFileSync(h, 'utf8').matchAll(/^#define\s+(E[A-Z0-9]+)\s+(\d+)\b/gm)) out.set(Number(m[2]), m[1]!);
  }
  return out;
}

describe('errno names', () => {
  it('95 is EOPNOTSUPP, the name the kernel gives it, for -95 (a harness return) and 95 alike', () => {
    expect(errnoName(-95)).toBe('EOPNOTSUPP');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(-11)).toBe('EAGAIN');
    expect(errnoName(-35)).toBe('EDEADLK');
    expect(errnoName(0)).toBeNull();
    expect(errnoName(-4000)).toBe('E4000');
  });

  it("every errno the kernel's headers define has the kernel's name", () => {
    const kernel = kernelErrnos();
    expect(kernel.size).toBeGreaterThan(120);
    for (const [n, name] of kernel) expect(errnoName(-n), `errno ${n}`).toBe(name);
  });
});
