// kfault/vitest: a vitest fixture that boots one kfault guest per test file, and matchers that
// print the offending problems, one block per bug (src/reports/groups.ts).
//
//   import { kernelTest } from 'kfault/vitest';
//   kernelTest('pipe2 error paths are clean', async ({ guest }) => {
//     const r = await guest.sweep('pipe2');
//     expect(r).toHaveNoLeaks();
//     expect(r).toHandleEveryFailure();
//   });
import { basename } from 'node:path';
import { expect, test } from 'vitest';
import { attributeLeaks } from './attribution.js';
import { parseConfig, type Config, type UserConfig } from './config.js';
import { boot } from './guest/boot.js';
import type { Guest, SweepCall } from './guest/guest.js';
import { compileHarness, parseHarnessSpec } from './harness/compile.js';
import { ensureKernel } from './kernel/build.js';
import { modulesFor } from './kernel/modules.js';
import type { Leak } from './kmsg/kmemleak-report.js';
import type { SweepResult } from './protocol.js';
import { groupBlocks, groupProblems } from './reports/groups.js';

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

function wrap(guest: Guest, config: Config): KernelGuest {
  return {
    raw: guest,
    async sweep(harness, { leaks = config.kmemleak.check, ...options } = {}) {
      const spec = parseHarnessSpec(harness);
      const target = spec ? { name: `${basename(spec.file)}${spec.arg ? `(${spec.arg})` : ''}`, library: compileHarness(spec.file), arg: spec.arg } : harness;
      const before = guest.restarts;
      const r = await guest.sweep(target, options);
      if (!leaks) return { ...r, kmemleak: { checked: false, enabled: false, why: 'not checked (leaks: false)', unattributed: [] } };
      // a crash rebooted the guest and took kmemleak's state: sweep again, without the crashes
      const checked = guest.restarts === before ? r : await guest.sweep(target, { ...options, skip: r.crashes.map((c) => c.nth) });
      const k = await guest.kmemleakCheck();
      const a = attributeLeaks([checked], k.leaks, config.kmemleak.suppress);
      return { ...r, leaks: a.results[0]!.leaks, kmemleak: { checked: true, enabled: k.enabled, why: k.why, unattributed: a.unattributed } };
    },
  };
}

async function bootFor(config: Config): Promise<Guest> {
  const kernel = await ensureKernel(config);
  const modules = await modulesFor(kernel, config.modules);
  const guest = await boot(config, { kernel });
  try {
    if (modules.length) await guest.loadModules(modules);
  } catch (e) {
    await guest.close();
    throw e;
  }
  return guest;
}

/** A vitest `test` with a `guest` fixture: one guest per test file, booted on first use with
 * this config and shut down after the file's last test. Each test starts with kmemleak
 * cleared; every sweep puts the fault-injection settings it changed back and checks them. */
export function createKernelTest(userConfig: UserConfig = {}) {
  return test.extend<{ $test: { guest: KernelGuest }; $file: { kfaultGuest: KernelGuest } }>({
    kfaultGuest: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        const config = parseConfig(userConfig);
        const guest = await bootFor(config);
        try {
          await use(wrap(guest, config));
        } finally {
          await guest.close();
        }
      },
      { scope: 'file' },
    ],
    guest: async ({ kfaultGuest }, use) => {
      await kfaultGuest.raw.kmemleakClear();
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
