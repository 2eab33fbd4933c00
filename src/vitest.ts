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
import type { Leak } from './kmsg/kmemleak-report.js';
import type { SweepResult } from './protocol.js';
import { groupBlocks, groupProblems } from './reports/groups.js';
import { bootGuest, checkedConfig, resolveTargets, sweepBatch, type BatchGuest } from './sweep-batch.js';

/** A sweep followed by its own kmemleak check, leaks tied to their steps. */
export interface CheckedSweep extends SweepResult {
  kmemleak: { checked: boolean; enabled: boolean; why: string | null; unattributed: Leak[] };
}

export interface KernelGuest {
  /** Sweeps a catalogue harness, or a user's C file ("path/file.c" or "path/file.c:ARG"),
   * then checks kmemleak (unless leaks: false) and ties each leak to its step. */
  sweep(harness: string, options?: SweepCall & { leaks?: boolean }): Promise<CheckedSweep>;
  /** the booted guest itself */
  readonly raw: Guest;
}

/** Each sweep is a batch of one (src/sweep-batch.ts), as kfault sweep runs them. */
function wrap(booted: BatchGuest, config: Config): KernelGuest {
  return {
    raw: booted.guest,
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

expect.extend({
  toHaveNoLeaks(received: CheckedSweep) {
    if (!received.kmemleak?.checked || !received.kmemleak.enabled) {
      return { pass: false, message: () => `expected ${received.harness} to be checked for leaks, but kmemleak was not: ${received.kmemleak?.why ?? 'not a checked sweep'}` };
    }
    const bad = lines(received, ['leak']);
    return {
      pass: bad.length === 0,
      message: () => (bad.length ? `expected ${received.harness} to leak nothing, but:\n${bad.join('\n')}` : `expected ${received.harness} to leak, but kmemleak found nothing`),
    };
  },
  toHandleEveryFailure(received: CheckedSweep) {
    const bad = lines(received, ['oops', 'panic', 'warning', 'hang', 'signal']);
    return {
      pass: bad.length === 0,
      message: () => (bad.length ? `expected every failure point of ${received.harness} to be handled, but:\n${bad.join('\n')}` : `expected ${received.harness} to mishandle a failure point, but none did`),
    };
  },
});
