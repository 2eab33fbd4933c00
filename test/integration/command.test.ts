// kfault command on real programs, in one real guest (the library's vitest fixture): random
// injection that reaches the program, and --sweep under ptrace of a C program, of a second
// thread's call, of a program from Debian's packages (mkfifo, over the host root), and of the
// test module reached through a plain ioctl program, whose planted leak must be found at its nth.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { beforeAll, describe, expect } from 'vitest';
import { createKernelTest } from '../../src/vitest.js';
import { problems } from '../../src/report.js';

const root = new URL('../..', import.meta.url).pathname;
const out = `${root}.kfault/programs`; // the guest sees the host's root, and .kfault is not under /tmp
const module = `${root}test/fixtures/kfault-test-module`;
const program = (name: string) => `${out}/${name}`;

function cc(name: string, source: string, ...flags: string[]): void {
  const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-o', program(name), source, ...flags], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

beforeAll(() => {
  mkdirSync(out, { recursive: true });
  cc('pipe2', `${root}test/fixtures/programs/pipe2.c`);
  cc('pipe2-static', `${root}test/fixtures/programs/pipe2.c`, '-static');
  cc('threaded-pipe2', `${root}test/fixtures/programs/threaded-pipe2.c`, '-pthread');
  cc('kfault-ioctl', `${module}/ioctl-tool.c`);
});

const kernelTest = createKernelTest({ modules: [module] });
// pipe2's failure points in the kernel, as the pipe2 harness finds them (README)
const PIPE2_SITES = /^(alloc_inode|alloc_pipe_info|__d_alloc|alloc_empty_file)\+0x/;

describe('kfault command on the real guest', () => {
  kernelTest('random: the program itself runs in every run, and its stdout is in the report', async ({ guest }) => {
    const r = await guest.command([program('pipe2-static')], { runs: 3, probability: 100, times: 1 });
    expect(r).toHaveRunTheProgram();
    for (const run of r.runs) {
      expect(run.output).toMatch(/^pipe2: /m);
      // times=1 for each of failslab and fail_page_alloc: one or two faults, in the program's own
      // task, in one of its syscalls or page faults, after its execve
      expect(run.faults.length).toBeGreaterThanOrEqual(1);
      expect(run.faults.length).toBeLessThanOrEqual(2);
      for (const f of run.faults) {
        expect(run.threads).toContain(f.pid);
        expect(f.syscall).not.toBeNull();
        expect(f.syscall).not.toMatch(/^execve/);
      }
    }
  }, 600_000);

  kernelTest('--sweep --call pipe2: every failure point of the call, its errno in the program, its call site', async ({ guest }) => {
    const r = await guest.sweepCommand([program('pipe2')], { call: 'pipe2' });
    expect(r.results).toHaveLength(1);
    const [x] = r.results;
    const failed = x!.steps.filter((s) => s.injected);
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(new Set(failed.map((s) => s.errno))).toEqual(new Set(['ENFILE', 'ENOMEM']));
    for (const s of failed) {
      expect(s.fault?.callSite, `nth=${s.nth}`).toMatch(PIPE2_SITES);
      expect(s.command).toMatchObject({ syscall: 'pipe2', call: 1, reached: true, exitCode: 1, ret: -({ ENFILE: 23, ENOMEM: 12 } as Record<string, number>)[s.errno!]! });
      expect(s.command!.output).toMatch(/^pipe2: (Too many open files in system|Cannot allocate memory)$/m);
    }
    const end = x!.steps.at(-1)!;
    expect(end).toMatchObject({ injected: false, errno: null, command: { exitCode: 0, output: 'pipe2: ok\n' } });
    expect(x!.complete).toBe(true);
    expect(r).toHaveNoLeaks();
    expect(r).toHandleEveryFailure();
  }, 600_000);

  kernelTest("a multi-threaded program: the second thread's pipe2 is armed on that thread", async ({ guest }) => {
    const r = await guest.sweepCommand([program('threaded-pipe2')], { call: 'pipe2', leaks: false });
    const steps = r.results[0]!.steps;
    const failed = steps.filter((s) => s.injected);
    expect(failed.length).toBeGreaterThanOrEqual(5);
    for (const s of failed) {
      // armed on the thread that made the call, not the main one, and the program saw the errno there
      expect(s.tid).not.toBe(s.command!.pid);
      expect(s.command!.threads).toEqual(expect.arrayContaining([s.command!.pid, s.tid]));
      expect(s.command!.output).toMatch(new RegExp(`^thread ${s.tid}: pipe2: (Too many open files in system|Cannot allocate memory)$`, 'm'));
      expect(s.fault?.callSite).toMatch(PIPE2_SITES);
    }
    expect(steps.at(-1)).toMatchObject({ injected: false, command: { exitCode: 0 } });
  }, 600_000);

  kernelTest("a program from Debian's packages: mkfifo, whose mknodat fails with the kernel's own errno", async ({ guest }) => {
    const r = await guest.sweepCommand(['mkfifo', 'fifo'], { call: 'mknodat', leaks: false });
    const x = r.results[0]!;
    const failed = x.steps.filter((s) => s.injected && s.errno);
    expect(failed.length).toBeGreaterThan(0);
    for (const s of failed) {
      expect(s.command!.exitCode).toBe(1);
      expect(s.command!.output).toMatch(/^mkfifo: cannot create fifo 'fifo': /m);
      expect(s.fault?.callSite).toBeTruthy();
    }
    // tmpfs has no inode for the fifo: the error path returns ENOSPC, which mkfifo reports
    expect(failed.map((s) => s.errno)).toContain('ENOSPC');
    expect(failed.find((s) => s.errno === 'ENOSPC')!.command!.output).toMatch(/No space left on device/);
    expect(x.complete).toBe(true);
  }, 600_000);

  kernelTest('the test module through a plain ioctl program: its planted leak at nth=3, with its site', async ({ guest }) => {
    const r = await guest.sweepCommand([program('kfault-ioctl'), 'leak'], { call: 'ioctl' });
    const x = r.results[0]!;
    expect(x.steps.map((s) => [s.nth, s.errno])).toEqual([[1, 'ENOMEM'], [2, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    for (const s of x.steps.filter((s) => s.injected)) expect(s.fault?.callSite).toMatch(/^kfault_test_alloc\+0x/);
    expect(x.leaks.map((l) => l.nth)).toEqual([3]);
    expect(x.leaks[0]!.leak.frames.map((f) => f.split('+')[0])).toEqual(expect.arrayContaining(['kfault_test_alloc', 'leaky', 'kfault_test_ioctl']));
    expect(problems(x)).toEqual([{ nth: 3, kind: 'leak', text: '1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky' }]);
    expect(r.kmemleak).toMatchObject({ checked: true, enabled: true, unattributed: [] });
    expect(() => expect(r).toHaveNoLeaks()).toThrow(/memory leak in kfault_test_alloc/);
  }, 600_000);

  kernelTest('with no call: the first call of each distinct syscall, exit_group left out and said so', async ({ guest }) => {
    const r = await guest.sweepCommand([program('pipe2-static')], { leaks: false });
    const swept = r.calls.map((c) => c.syscall);
    expect(swept).toContain('pipe2');
    expect(swept).not.toContain('exit_group');
    expect(r.notSwept).toContain('exit_group: never returns to the program (no syscall exit to read fail-nth at)');
    expect(r.results.map((x) => x.syscall)).toEqual(swept);
    expect(r.results.every((x) => x.complete)).toBe(true);
    const pipe2 = r.results.find((x) => x.syscall === 'pipe2')!;
    expect(new Set(pipe2.steps.filter((s) => s.injected).map((s) => s.errno))).toEqual(new Set(['ENFILE', 'ENOMEM']));
  }, 900_000);

  kernelTest('a run past its time limit is killed, with all it started, and is a hang of its step', async ({ guest }) => {
    // mkfifo runs in a child of the shell (fork, exec: traced too); when it fails, the shell waits
    const r = await guest.sweepCommand(['/bin/sh', '-c', 'mkfifo f || sleep 60'], { call: 'mknodat', timeoutMs: 3000, leaks: false });
    const x = r.results[0]!;
    const hung = x.steps.filter((s) => s.command!.timedOut);
    expect(hung.length).toBeGreaterThan(0);
    expect(hung.map((s) => s.errno)).toEqual(x.steps.filter((s) => s.errno).map((s) => s.errno));
    for (const s of hung) {
      expect(s.command!.signal).toBe('SIGKILL');
      expect(s.command!.ms).toBeLessThan(10_000);
      expect(s.command!.threads.length).toBeGreaterThanOrEqual(3); // sh, mkfifo, sleep
    }
    expect(problems(x).filter((p) => p.kind === 'hang').map((p) => p.nth)).toEqual(hung.map((s) => s.nth));
    expect(() => expect(r).toHandleEveryFailure()).toThrow(/hang in /);
    expect(x.complete).toBe(true);
  }, 600_000);

  kernelTest("the module's WARN and oops through the ioctl program: tied to their steps; the oops reboots the guest and the sweep goes on", async ({ guest }) => {
    const warn = (await guest.sweepCommand([program('kfault-ioctl'), 'warn'], { call: 'ioctl', leaks: false })).results[0]!;
    expect(problems(warn)).toEqual([{ nth: 2, kind: 'warning', text: expect.stringMatching(/^WARNING: CPU: \d+ PID: \d+ at .*kfault_test\.c:\d+ warny\+/) }]);
    const before = guest.raw.restarts;
    const oops = (await guest.sweepCommand([program('kfault-ioctl'), 'oops'], { call: 'ioctl', leaks: false })).results[0]!;
    expect(oops.crashes).toHaveLength(1);
    expect(oops.crashes[0]).toMatchObject({ nth: 2, kind: 'oops', headline: expect.stringMatching(/^BUG: kernel NULL pointer dereference/) });
    expect(oops.crashes[0]!.at).toMatch(/^oopsy\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kfault_test\]$/);
    expect(oops.steps.map((s) => [s.nth, s.errno])).toEqual([[1, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    expect(oops.complete).toBe(true);
    expect(guest.raw.restarts).toBe(before + 1);
  }, 600_000);
});
