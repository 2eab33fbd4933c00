// kfault command's host-side pieces: the program's path, --call, which syscall a fault struck,
// leaks tied to a program's run, and the random report's words for runs that did not start.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attributeLeaks } from '../../src/attribution.js';
import { parseCallSpec, resolveProgram } from '../../src/command/program.js';
import { syscallOfFault } from '../../src/kmsg/fault-syscall.js';
import { parseKmemleakReport } from '../../src/kmsg/kmemleak-report.js';
import { loadBinding } from '../../src/native.js';
import type { CommandResult, Step, SweepResult } from '../../src/protocol.js';
import { commandTable } from '../../src/reports/command.js';
import { programCell, sweepTable } from '../../src/report.js';

const names = loadBinding().syscallNames();

describe('kfault command, on the host', () => {
  it('resolves the program as the guest will run it, or says what is wrong', () => {
    expect(resolveProgram('true', '/', '/usr/bin:/bin')).toMatch(/^\/(usr\/)?bin\/true$/);
    expect(resolveProgram('./bin/kfault.js', new URL('../..', import.meta.url).pathname)).toMatch(/\/bin\/kfault\.js$/);
    expect(() => resolveProgram('no-such-program-kfault', '/', '/usr/bin')).toThrow(/no-such-program-kfault: not found in PATH/);
    expect(() => resolveProgram('./README.md', new URL('../..', import.meta.url).pathname)).toThrow(/no executable file at/);
  });

  it('--call NAME[:K]: an x86_64 syscall, and which of its calls', () => {
    expect(names[293]).toBe('pipe2');
    expect(parseCallSpec('pipe2', names)).toEqual({ syscall: 'pipe2', call: 1 });
    expect(parseCallSpec('ioctl:3', names)).toEqual({ syscall: 'ioctl', call: 3 });
    expect(() => parseCallSpec('pipe3', names)).toThrow(/unknown syscall 'pipe3'/);
    expect(() => parseCallSpec('ioctl:0', names)).toThrow(/expected NAME or NAME:K/);
  });

  it('names the syscall a fault struck from its stack, or a page fault', () => {
    expect(syscallOfFault(['alloc_pipe_info+0x66', 'create_pipe_files+0x46', 'do_pipe2+0x4b', '__x64_sys_pipe2+0x1c', 'do_syscall_64+0x5e'])).toBe('pipe2');
    expect(syscallOfFault(['vm_area_alloc+0x1d', '__mmap_region+0x2f', '__do_sys_mmap.isra.0+0x10'])).toBe('mmap');
    expect(syscallOfFault(['__alloc_pages_noprof+0x2c', 'do_anonymous_page+0x9a', 'handle_mm_fault+0x1a', 'do_user_addr_fault+0x1b3', 'exc_page_fault+0x6c'])).toBe('(page fault)');
    expect(syscallOfFault(['kthread+0xe'])).toBeNull();
  });

  it("ties a leak to the run whose tasks made it (a program's comm is its own, not kf#N)", () => {
    const report = readFileSync(new URL('../fixtures/kmemleak/report-6.12.117-module-leak.txt', import.meta.url), 'utf8');
    const leak = { ...parseKmemleakReport(report)[0]!, comm: 'kfault-ioctl', pid: 205 };
    const run = (nth: number, pid: number): Step => ({
      nth, ret: -12, errno: 'ENOMEM', injected: true, tid: pid, signal: null, ns: 1, kmsg: '', fault: null, trace: '',
      command: { started: true, execError: null, exitCode: 1, signal: null, timedOut: false, timeoutMs: 20000, ms: 5, pid, threads: [pid], output: 'ioctl leak: Cannot allocate memory\n', outputBytes: 35, syscall: 'ioctl', call: 1, reached: true, ret: -12 },
    });
    const r: SweepResult = {
      harness: 'kfault-ioctl leak: ioctl', library: null, arg: null, syscall: 'ioctl', summary: '', maxSteps: 100, mode: 'systematic', complete: true, ms: 1, refillFilter: '', setup: null,
      steps: [run(1, 203), run(2, 204), run(3, 205)], leaks: [], crashes: [],
      kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: true, note: 'on' },
    };
    const a = attributeLeaks([r], [leak], []);
    expect(a.results[0]!.leaks.map((l) => l.nth)).toEqual([3]);
    expect(a.unattributed).toEqual([]);
    expect(programCell(r.steps[2]!)).toBe('exit 1: ioctl leak: Cannot allocate memory');
    expect(sweepTable(a.results[0]!)).toMatch(/^ +3 +failed +ENOMEM +\(no call site: neither logged nor traced\) +exit 1: ioctl leak: Cannot allocate memory +leak: 1 object, 256 bytes/m);
  });

  it('random: runs in which the program did not start are counted and said so, never clean', () => {
    const r: CommandResult = {
      argv: ['./not-a-program'], mode: 'random', settings: { 'failslab/probability': '100', 'failslab/interval': '1', 'failslab/times': '1' },
      runs: [1, 2].map((run) => ({ run, started: false, execError: 'ENOEXEC', exitCode: 127, signal: null, timedOut: false, timeoutMs: 1000, ms: 1, pid: 9, threads: [9], output: '', outputBytes: 0, faults: [], problems: [], kmsg: '' })),
    };
    const text = commandTable(r);
    expect(text).toMatch(/^ +1 +did not start \(execve: ENOEXEC\) +0 +- +- +NOT RUN$/m);
    expect(text.split('\n').at(-1)).toBe('2 runs: the program ran in 0; it did NOT start in 2 (did not start (execve: ENOEXEC) x2): those runs tested nothing; 0 faults traced; no problems');
  });
});
