// The CLI as a user runs it (the compiled bin), for what needs no guest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const kfault = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('kfault CLI', () => {
  it('lists the catalogue', () => {
    const r = kfault('harnesses');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^pipe2\s+pipe2\s+pipe2\(O_CLOEXEC\)$/m);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(12);
  });

  it('exits 2 on a bad flag value, naming it', () => {
    const r = kfault('sweep', '--accel', 'xen');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('invalid kfault configuration:\n  machine.accel: Invalid option: expected one of "auto"|"kvm"|"tcg"; got "xen"\n');
  });

  it('kfault command: a flag of the other mode, an unknown syscall, a missing program: exit 2 before anything boots', () => {
    expect(kfault('command', '--sweep', '--runs', '3', '--', 'true')).toMatchObject({ status: 2, stderr: 'invalid kfault configuration:\n  --runs: is for random mode; --sweep runs the program once per failure point\n' });
    expect(kfault('command', '--call', 'pipe2', '--', 'true')).toMatchObject({ status: 2, stderr: 'invalid kfault configuration:\n  --call: needs --sweep\n' });
    expect(kfault('command', '--sweep', '--call', 'pipe3', '--', 'true')).toMatchObject({ status: 2, stderr: expect.stringContaining("--call: unknown syscall 'pipe3'") });
    expect(kfault('command', '--', 'no-such-program-kfault')).toMatchObject({ status: 2, stderr: expect.stringContaining('argv: no-such-program-kfault: not found in PATH') });
  });

  it('exits 2 on a number that is not one', () => {
    const r = kfault('sweep', '--max-steps', 'many');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  --max-steps: expected a whole number, got 'many'\n");
  });

  it('exits 2 on an unknown command', () => {
    const r = kfault('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  argv: unknown command 'frobnicate'; expected one of: setup, kernel build, kernel config, sweep, compare, command, shell, report, repro, parse, harnesses, new-harness, init, doctor\n");
  });

  it('refuses a prebuilt image that is not a kernel, exit 2', () => {
    const r = kfault('sweep', '--image', bin);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`invalid kfault configuration:\n  kernel.image: ${bin} is neither a bzImage nor an ELF vmlinux\n`);
  });

  it('refuses a kernel tree that is not one, before building anything, exit 2', () => {
    const r = kfault('kernel', 'build', '--tree', '/usr');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('invalid kfault configuration:\n  kernel.tree: /usr is not a Linux source tree (no Makefile)\n');
  });
});

describe('kfault CLI, before anything boots', () => {
  it('names an unknown harness and the catalogue, exit 2', () => {
    const r = kfault('sweep', 'pipe3');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^invalid kfault configuration:\n {2}harness: unknown harness 'pipe3'; expected a C file \(FILE\.c or FILE\.c:ARG\) or one of: open, pipe2, socket-inet, /);
  });

  it("shows the compiler's own message, with file:line, for a harness that does not compile, exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-harness-'));
    writeFileSync(join(dir, 'broken.c'), 'int kfault_run(const char *arg)\n{\n\treturn undeclared;\n}\n');
    const r = kfault('sweep', join(dir, 'broken.c:x'));
    rmSync(dir, { recursive: true });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`harness ${join(dir, 'broken.c')} does not compile (cc -shared -fPIC -O2 -g -Wall -Wextra -std=gnu11 -D_GNU_SOURCE):`);
    expect(r.stderr).toMatch(/broken\.c:3:\d+: error: .undeclared. undeclared/);
  });

  it('refuses a module built for another kernel, naming both releases, exit 2, with no kernel built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-module-'));
    // what a .ko's .modinfo section holds, enough for the check
    writeFileSync(join(dir, 'old.ko'), Buffer.from('\x7fELF\0\0license=GPL\0vermagic=6.1.0-99-amd64 SMP mod_unload \0', 'latin1'));
    // a prebuilt image, so no build can start: the first 16 KiB of a bzImage as kfault builds
    // them, the setup header's kernel_version (0x20e) pointing at the string 6.12.117 prints
    const image = Buffer.alloc(0x4000);
    image.write('HdrS', 0x202, 'latin1');
    image.writeUInt16LE(0x36a0, 0x20e);
    image.write('6.12.117 (kfault@kfault) #1 SMP 2024-01-01\0', 0x36a0 + 0x200, 'latin1');
    writeFileSync(join(dir, 'bzImage'), image);
    const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2', '--image', join(dir, 'bzImage'), '--module', join(dir, 'old.ko')], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: '/dev/null/kfault-no-cache' }, timeout: 60_000 });
    rmSync(dir, { recursive: true });
    expect(r.stderr).toBe(`modules: ${join(dir, 'old.ko')} was built for kernel 6.1.0-99-amd64, but the guest runs 6.12.117; rebuild it against this kernel (or give its source directory and kfault builds it)\n`);
    expect(r.status).toBe(2);
  });

  it('names a bad compare kernel spec, exit 2', () => {
    const r = kfault('compare', '--b', 'patched');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  --b: expected stock, patches:DIR, tree:PATH or image:PATH, got 'patched'\n");
  });
});

describe('kfault report (offline, on results saved from a real stock 6.12.117 guest)', () => {
  const saved = new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url).pathname;

  it('prints the same tables, problems and totals again', () => {
    const r = kfault('report', saved);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 11)).toEqual([
      'pipe2 — pipe2(O_CLOEXEC) (pipe2)',
      '  nth  verdict  errno   call site                                   result',
      '    1  failed   ENFILE  alloc_inode+0x35 <- new_inode_pseudo        ok',
      '    2  failed   ENFILE  alloc_pipe_info+0x66 <- create_pipe_files   ok',
      '    3  failed   ENFILE  alloc_pipe_info+0xf5 <- create_pipe_files   ok',
      '    4  failed   ENOMEM  __d_alloc+0x27 <- d_alloc_pseudo            ok',
      '    5  failed   ENOMEM  alloc_empty_file+0x8b <- alloc_file_pseudo  ok',
      '    6  failed   ENOMEM  alloc_empty_file+0x8b <- alloc_file_clone   ok',
      '    7  end      -',
      "kmemleak filter: on: the stack filter rejects kmemleak's text 0xffffffff810ff27b-0xffffffff81100e6b for failslab and fail_page_alloc",
      'pipe2: 6 failure points: 6 failed, 0 tolerated, 0 absorbed; ended at nth=7; 1300 ms',
    ]);
    // one block per distinct problem below the tables, not one line per failure point
    expect(r.stdout).toContain(
      [
        '\nproblems: 3 distinct, hit 3 times:',
        '  memory leak in kfault_test_alloc',
        '    leak, count 1: harness.c(leak) nth=3',
        '    fault sites: kfault_test_alloc+0xe',
        '    first: harness.c(leak) nth=3: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
        '    reproducer: kfault repro RESULTS.json --problem 1',
        '  BUG: kernel NULL pointer dereference in oopsy',
        '    oops, count 1: harness.c(oops) nth=2',
        '    fault sites: none known (the step took the guest down)',
        '    first: harness.c(oops) nth=2: BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]',
        '    reproducer: kfault repro RESULTS.json --problem 2',
        '  WARNING in warny',
        '    warning, count 1: harness.c(warn) nth=2',
        '    fault sites: kfault_test_alloc+0xe',
        '',
      ].join('\n'),
    );
    expect(r.stdout).toMatch(/^5 harnesses swept: 17 failure points: 17 failed, 0 tolerated, 0 absorbed; 3 problems; [\d.]+ s\nkernel 6\.12\.117 \(tcg\)\n$/m);
  });

  it('says what is wrong with a file that is not one', () => {
    const r = kfault('report', new URL('../fixtures/kmemleak/made-up-report-two-leaks.txt', import.meta.url).pathname);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kfault: .*made-up-report-two-leaks\.txt: not a kfault results file: Unexpected token/);
  });
});

describe('kfault repro', () => {
  const saved = new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url).pathname;

  it('wants one results file, exit 2', () => {
    const r = kfault('repro');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('invalid kfault configuration:\n  argv: expected: kfault repro RESULTS.json [--out DIR] [--problem N] (from kfault sweep --json)\n');
  });

  it('names the problems there are when asked for another, exit 2', () => {
    const out = mkdtempSync(join(tmpdir(), 'kfault-repro-'));
    const r = kfault('repro', saved, '--out', out, '--problem', '9');
    rmSync(out, { recursive: true });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${saved}: no problem 9; the problems with a reproducer are 1, 2, 3\n`);
  });

  it("says why a results file of an older kfault cannot give a user's harness reproducer, exit 2", () => {
    const out = mkdtempSync(join(tmpdir(), 'kfault-repro-'));
    const r = kfault('repro', saved, '--out', out, '--problem', '1');
    rmSync(out, { recursive: true });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("problem 1: harness.c(leak) is a user's harness, and these results (written by an older kfault) do not carry its C file: sweep it again\n");
  });
});

describe('kfault new-harness', () => {
  it('writes a commented starting file that compiles as a harness, and never overwrites', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-new-'));
    const r = kfault('new-harness', join(dir, 'my-path'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`wrote ${join(dir, 'my-path.c')}; sweep it with: npx kfault sweep ${join(dir, 'my-path.c')}\n`);
    const { compileHarness } = await import('../../src/harness/compile.js');
    expect(compileHarness(join(dir, 'my-path.c'))).toMatch(/\/harnesses\/my-path-[0-9a-f]{12}\.so$/);
    const again = kfault('new-harness', join(dir, 'my-path'));
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(`kfault: ${join(dir, 'my-path.c')} exists; not overwriting it\n`);
    rmSync(dir, { recursive: true });
  });
});
