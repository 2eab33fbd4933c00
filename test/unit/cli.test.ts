// The CLI as a user runs it (the compiled bin), for what needs no guest.
import { spawnSync } from 'node:child_process';
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
    expect(r.stderr).toBe('invalid kfault configuration:\n  machine.accel: Invalid option: expected one of "auto"|"kvm"|"tcg"\n');
  });

  it('exits 2 on a number that is not one', () => {
    const r = kfault('sweep', '--max-steps', 'many');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  --max-steps: expected a whole number, got 'many'\n");
  });

  it('exits 2 on an unknown command', () => {
    const r = kfault('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  argv: unknown command 'frobnicate'; expected one of: setup, kernel build, sweep, compare, report, harnesses, doctor\n");
  });

  it('refuses a prebuilt image that is not a kernel', () => {
    const r = kfault('sweep', '--image', bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`kfault: kernel.image: ${bin} is neither a bzImage nor an ELF vmlinux\n`);
  });

  it('refuses a kernel tree that is not one', () => {
    const r = kfault('kernel', 'build', '--tree', '/usr');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('kfault: kernel.tree: /usr is not a Linux source tree (no Makefile)\n');
  });
});

describe('kfault CLI, before anything boots', () => {
  it('names an unknown harness and the catalogue, exit 2', () => {
    const r = kfault('sweep', 'pipe3');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^invalid kfault configuration:\n {2}harness: unknown harness 'pipe3'; expected one of: open, pipe2, socket-inet, /);
  });

  it('names a bad compare kernel spec, exit 2', () => {
    const r = kfault('compare', '--b', 'patched');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("invalid kfault configuration:\n  --b: expected stock, patches:DIR, tree:PATH or image:PATH, got 'patched'\n");
  });
});

describe('kfault report (offline, on results saved from a real stock 6.12.117 guest)', () => {
  const saved = new URL('../fixtures/results/stock-6.12.117-pipe2-open.json', import.meta.url).pathname;

  it('prints the same tables again', () => {
    const r = kfault('report', saved);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 11)).toEqual([
      'pipe2 — pipe2(O_CLOEXEC) (pipe2)',
      '  nth  verdict  errno   call site',
      '    1  failed   ENFILE  alloc_inode+0x35 <- new_inode_pseudo',
      '    2  failed   ENFILE  alloc_pipe_info+0x66 <- create_pipe_files',
      '    3  failed   ENFILE  alloc_pipe_info+0xf5 <- create_pipe_files',
      '    4  failed   ENOMEM  __d_alloc+0x27 <- d_alloc_pseudo',
      '    5  failed   ENOMEM  alloc_empty_file+0x8b <- alloc_file_pseudo',
      '    6  failed   ENOMEM  alloc_empty_file+0x8b <- alloc_file_clone',
      '    7  end      -',
      "kmemleak filter: on: the stack filter rejects kmemleak's text 0xffffffff810ff27b-0xffffffff81100e6b for failslab and fail_page_alloc",
      'pipe2: 6 failure points: 6 failed, 0 tolerated, 0 absorbed; ended at nth=7; 128 ms',
    ]);
  });

  it('says what is wrong with a file that is not one', () => {
    const r = kfault('report', new URL('../fixtures/kmemleak/report-two-leaks.txt', import.meta.url).pathname);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kfault: .*report-two-leaks\.txt: not a kfault results file: Unexpected token/);
  });
});
