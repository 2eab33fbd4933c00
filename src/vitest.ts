// kfault/vitest: a vitest fixture that boots one kfault guest per test file, and matchers that
// print the offending problems, one block per bug (src/reports/groups.ts).
//
//   import { kernelTest } from 'kfault/vitest';
//   kernelTest('pipe2 error paths are clean', async ({ guest }) => {
//     const r = await guest.sweep('pipe2');
//     expect(r).toHaveNoLeaks();
//     expect(r).toHandleEveryFailure();
//   });
import { expect, test } from 'vitest';
import type { Config, UserConfig } from './config.js';
import type { Guest, SweepCall } from './guest/guest.js';
import type { CommandSweepCall } from './guest/guest.js';
import { checkedCommandSweep, type CheckedCommandSweep } from './command/checked.js';
import type { Leak } from './kmsg/kmemleak-report.js';
import type { CommandResult, SweepResult } from './protocol.js';
import { groupBlocks, groupProblems } from './reports/groups.js';
import { bootGuest, checkedConfig, resolveTargets, sweepBatch, type BatchGuest } from './sweep-batch.js';

/** A sweep followed by its own kmemleak check, leaks tied to their steps. */
export interface CheckedSweep extends SweepResult {
  kmemleak: { checked: boolean; enabled: boolean; why: string | null; unattributed: Leak[] };
}

/** A program's sweep followed by its kmemleak check (see src/command/checked.ts). */
export type CheckedProgramSweep = CheckedCommandSweep;

export interface KernelGuest {
  /** Sweeps a catalogue harness, or a user's C file ("path/file.c" or "path/file.c:ARG"),
   * then checks kmemleak (unless leaks: false) and ties each leak to its step. */
  sweep(harness: string, options?: SweepCall & { leaks?: boolean }): Promise<CheckedSweep>;
  /** An unmodified program under random injection, armed once its own execve succeeded. */
  command(argv: string[], options?: Parameters<Guest['command']>[1]): Promise<CommandResult>;
  /** Sweeps an unmodified program under ptrace (call "pipe2" or "ioctl:2"; default: each
   * distinct syscall's first call), then checks kmemleak (unless leaks: false). */
  sweepCommand(argv: string[], options?: CommandSweepCall & { leaks?: boolean }): Promise<CheckedCommandSweep>;
  /** the booted guest itself */
  readonly raw: Guest;
}

/** Each sweep is a batch of one (src/sweep-batch.ts), as kfault sweep runs them. */
function wrap(booted: BatchGuest, config: Config): KernelGuest {
  return {
    raw: booted.guest,
    command: (argv, options) => booted.guest.command(argv, options),
    sweepCommand: (argv, { leaks = config.kmemleak.check, ...options } = {}) => checkedCommandSweep(booted.guest, argv, { ...options, leaks, suppress: config.kmemleak.suppress }),
    async sweep(harness, { leaks, ...options } = {}) {
      const b = await sweepBatch(booted, config, resolveTargets([harness]), { sweep: options, leaks });
      const r = b.results[0]!;
      if (!b.kmemleak) return { ...r, kmemleak: { checked: false, enabled: false, why: leaks === false ? 'not checked (leaks: false)' : 'not checked (kmemleak.check is off)', unattributed: [] } };
      return { ...r, kmemleak: { checked: true, enabled: b.kmemleak.enabled, why: b.kmemleak.why, unattributed: b.kmemleak.unattributed } };
    },
  };
}

/** A vitest `test` with a `guest` fixture: one guest per test file, booted on first use with
 * this config and shut down after the file's last test. Each sweep's kmemleak check sees only
 * its own leaks; every sweep puts the fault-injection settings it changed back and checks them. */
export function createKernelTest(userConfig: UserConfig = {}) {
  return test.extend<{ $test: { guest: KernelGuest }; $file: { kfaultGuest: KernelGuest } }>({
    kfaultGuest: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        const config = checkedConfig(userConfig);
        const booted = await bootGuest(config);
        try {
          await use(wrap(booted, config));
        } finally {
          await booted.guest.close();
        }
      },
      { scope: 'file' },
    ],
    guest: async ({ kfaultGuest }, use) => {
      await use(kfaultGuest);
    },
  });
}

/** The default: kfault's default kernel and machine. */
export const kernelTest = createKernelTest();

interface Matchers<R = unknown> {
  /** kmemleak was checked after the sweep and no step leaked */
  toHaveNoLeaks(): R;
  /** no step crashed (the kernel or the harness), hung, oopsed or warned */
  toHandleEveryFailure(): R;
  /** kfault command (random): the program started in every run (its execve succeeded) */
  toHaveRunTheProgram(): R;
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Assertion<T> extends Matchers<T> {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining extends Matchers {}
}

/** The blocks of the distinct problems of these kinds: title, count, nths, fault sites. */
function lines(r: CheckedSweep, kinds: string[]): string[] {
  return groupBlocks(groupProblems(r).filter((g) => kinds.includes(g.kind)));
}

/** A program's sweep has one result per call: the matchers look at all of them. */
const isProgramSweep = (r: unknown): r is CheckedCommandSweep => typeof r === 'object' && r !== null && Array.isArray((r as CheckedCommandSweep).results) && 'trace' in r;
const nameOf = (r: CheckedSweep | CheckedCommandSweep) => (isProgramSweep(r) ? r.argv.join(' ') : r.harness);
function blocks(r: CheckedSweep | CheckedCommandSweep, kinds: string[]): string[] {
  return isProgramSweep(r) ? groupBlocks(groupProblems(r.results).filter((g) => kinds.includes(g.kind))) : lines(r, kinds);
}

expect.extend({
  toHaveNoLeaks(received: CheckedSweep | CheckedCommandSweep) {
    if (!received.kmemleak?.checked || !received.kmemleak.enabled) {
      return { pass: false, message: () => `expected ${nameOf(received)} to be checked for leaks, but kmemleak was not: ${received.kmemleak?.why ?? 'not a checked sweep'}` };
    }
    const bad = blocks(received, ['leak']);
    return {
      pass: bad.length === 0,
      message: () => (bad.length ? `expected ${nameOf(received)} to leak nothing, but:\n${bad.join('\n')}` : `expected ${nameOf(received)} to leak, but kmemleak found nothing`),
    };
  },
  toHandleEveryFailure(received: CheckedSweep | CheckedCommandSweep) {
    const bad = blocks(received, ['oops', 'panic', 'warning', 'hang', 'signal', 'corrupted']);
    return {
      pass: bad.length === 0,
      message: () => (bad.length ? `expected every failure point of ${nameOf(received)} to be handled, but:\n${bad.join('\n')}` : `expected ${nameOf(received)} to mishandle a failure point, but none did`),
    };
  },
  toHaveRunTheProgram(received: CommandResult) {
    const notRun = received.runs.filter((x) => !x.started);
    return {
      pass: notRun.length === 0 && received.runs.length > 0,
      message: () =>
        notRun.length || !received.runs.length
          ? `expected ${received.argv.join(' ')} to start in every run, but it did not in ${notRun.length} of ${received.runs.length}: ${notRun.map((x) => `run ${x.run}: execve: ${x.execError}`).join('; ')}`
          : `expected ${received.argv.join(' ')} not to start in some run, but it started in all ${received.runs.length}`,
    };
  },
});
