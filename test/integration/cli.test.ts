// `kfault sweep` as a user runs it: the real CLI, the real kernel, a real guest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandResult } from '../../src/protocol.js';
import { ResultsFile } from '../../src/results-file.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const kfault = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });

describe('kfault sweep on the real guest', () => {
  it('prints the table, the exact QEMU command, and a kmemleak check', () => {
    const r = kfault('sweep', 'pipe2', 'eventfd', '--print-qemu');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^qemu-system-x86_64 -accel (kvm|tcg) .*-append '.*kfault\.guest=1.*'/m);
    expect(r.stderr).toMatch(/^kfault: guest up \(6\.12\.\d+, (kvm|tcg)\)/m);
    expect(r.stdout).toMatch(/^pipe2 — pipe2\(O_CLOEXEC\) \(pipe2\)\n  nth  verdict  errno   call site +result\n    1  failed   ENFILE  alloc_inode\+0x[0-9a-f]+ <- new_inode_pseudo +ok\n/m);
    expect(r.stdout).toMatch(/^pipe2: \d+ failure points: \d+ failed, \d+ tolerated, 0 absorbed; ended at nth=\d+; \d+ ms$/m);
    expect(r.stdout).toMatch(/^eventfd: \d+ failure points/m);
    expect(r.stdout).toMatch(/^kmemleak: checked after all sweeps \(stacks not scanned\)$/m);
    expect(r.stdout).toMatch(/^2 harnesses swept: .*; no problems; [\d.]+ s$/m);
  }, 300_000);

  it('--json writes what kfault report reads back', () => {
    const r = kfault('sweep', 'memfd', '--json', '--leaks', 'off');
    expect(r.status, r.stderr).toBe(0);
    const saved = ResultsFile.parse(JSON.parse(r.stdout));
    expect(saved.kernel).toMatch(/^6\.12\./);
    expect(saved.results.map((x) => x.harness)).toEqual(['memfd']);
    expect(saved.kmemleak).toBeNull();
    expect(saved.restarts).toBe(0);
  }, 300_000);

  it('kfault command: the program itself runs in every run, and the faults strike its own task, never a wrapper', () => {
    const r = kfault('command', '--runs', '3', '--probability', '100', '--times', '1', '--json', '--', '/bin/echo', 'hello');
    expect(r.status, r.stderr).toBe(0);
    const out = CommandResult.parse(JSON.parse(r.stdout));
    expect(out.mode).toMatch(/^random injection, not a sweep: the program was started under ptrace and, once its own execve had succeeded, got make-it-fail=1/);
    expect(out.settings).toMatchObject({ 'failslab/task-filter': 'Y', 'failslab/probability': '100', 'failslab/times': '1' });
    expect(out.runs).toHaveLength(3);
    for (const run of out.runs) {
      expect(run).toMatchObject({ started: true, execError: null });
      // times=1 for each of failslab and fail_page_alloc: one or two faults per run, in the
      // program's own task (its pid in the fault dump), inside one of its syscalls or page
      // faults: never execve, which had succeeded
      expect(run.faults.length).toBeGreaterThanOrEqual(1);
      expect(run.faults.length).toBeLessThanOrEqual(2);
      for (const f of run.faults) {
        expect(run.threads).toContain(f.pid);
        expect(f.syscall).not.toBeNull();
        expect(f.syscall).not.toMatch(/^execve/);
      }
      expect(run.problems).toEqual([]);
    }
  }, 300_000);

  it('kfault command: runs in which the program did not start are counted and said so, never clean', () => {
    // an executable file the kernel cannot run: its execve fails (ENOEXEC), nothing was tested
    const dir = mkdtempSync(join(new URL('../../.kfault/', import.meta.url).pathname, 'not-a-program-'));
    try {
      const file = join(dir, 'not-a-program');
      writeFileSync(file, 'no ELF header and no #! line\n', { mode: 0o755 });
      const r = kfault('command', '--runs', '2', '--', file);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^ +1 +did not start \(execve: ENOEXEC\) +0 .* NOT RUN$/m);
      expect(r.stdout).toMatch(/^2 runs: the program ran in 0; it did NOT start in 2 \(did not start \(execve: ENOEXEC\) x2\): those runs tested nothing; 0 faults traced; no problems$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('a config the running kernel cannot do is a config error naming the CONFIG_ option, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-cli-'));
    try {
      writeFileSync(join(dir, 'kfault.config.json'), JSON.stringify({ faults: { fail_function: { taskFilter: true } } }));
      const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2'], { encoding: 'utf8', timeout: 300_000, cwd: dir });
      expect(r.stderr.slice(r.stderr.indexOf('invalid kfault configuration'))).toBe(
        'invalid kfault configuration:\n  faults.fail_function: this kernel has no /sys/kernel/debug/fail_function: build it with CONFIG_FAIL_FUNCTION=y\n',
      );
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('a stack-filter symbol this kernel does not have: its name, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-cli-'));
    try {
      writeFileSync(join(dir, 'kfault.config.mjs'), "export default { faults: { failslab: { require: 'no_such_function_kfault' } } };\n");
      const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2', '--leaks', 'off'], { encoding: 'utf8', timeout: 300_000, cwd: dir });
      expect(r.stderr.slice(r.stderr.indexOf('invalid kfault configuration'))).toBe(
        "invalid kfault configuration:\n  faults.failslab.require: no symbol 'no_such_function_kfault' in this kernel's /proc/kallsyms\n",
      );
      expect(r.status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
