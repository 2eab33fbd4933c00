// Cached builds are keyed by everything that goes into them: a harness .so by its preprocessed
// source (headers included), the compiler and flags; a module by every file of its source tree.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileHarness, HarnessCompileError, splitCC } from '../../src/harness/compile.js';
import { hashDir } from '../../src/kernel/modules.js';

const dir = mkdtempSync(join(tmpdir(), 'kfault-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('harness build key', () => {
  const src = join(dir, 'h.c');
  writeFileSync(join(dir, 'h.h'), '#define RET 0\n');
  writeFileSync(src, '#include "h.h"\nint kfault_run(const char *arg) { (void)arg; return RET; }\n');

  it('a changed header it includes is a new build', () => {
    const before = compileHarness(src, 'cc');
    writeFileSync(join(dir, 'h.h'), '#define RET (-12)\n');
    const after = compileHarness(src, 'cc');
    expect(after).not.toBe(before);
    expect(compileHarness(src, 'cc')).toBe(after);
  });

  it('another $CC is a new build, and $CC may carry arguments', () => {
    expect(compileHarness(src, 'gcc')).not.toBe(compileHarness(src, 'cc'));
    expect(compileHarness(src, 'gcc -m64')).toMatch(/\/h-[0-9a-f]{12}\.so$/);
    expect(compileHarness(src, 'gcc -m64')).not.toBe(compileHarness(src, 'gcc'));
    expect(splitCC('  ccache   gcc ')).toEqual(['ccache', 'gcc']);
    expect(() => splitCC(' ')).toThrow(HarnessCompileError);
    expect(() => compileHarness(src, 'no-such-cc-here')).toThrow(/cannot run the C compiler 'no-such-cc-here' \(\$CC\)/);
  });
});

describe('module source key', () => {
  const mod = join(dir, 'mod');
  mkdirSync(join(mod, 'include'), { recursive: true });
  writeFileSync(join(mod, 'Kbuild'), 'obj-m += m.o\n');
  writeFileSync(join(mod, 'm.c'), '#include "include/m.h"\n');
  writeFileSync(join(mod, 'include/m.h'), '#define A 1\n');

  it('covers files in subdirectories', () => {
    const before = hashDir(mod);
    writeFileSync(join(mod, 'include/m.h'), '#define A 2\n');
    expect(hashDir(mod)).not.toBe(before);
  });

  it("ignores what the build itself writes there", () => {
    const before = hashDir(mod);
    for (const f of ['m.o', 'm.ko', 'm.mod', 'm.mod.c', 'modules.order', 'Module.symvers', '.m.o.cmd']) writeFileSync(join(mod, f), 'x');
    expect(hashDir(mod)).toBe(before);
  });
});
