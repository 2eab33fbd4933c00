// The three injection modes, the fault knobs and the save/restore of kernel state, on the real
// guest (stock 6.12, the default kernel).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { boot } from '../../src/guest/boot.js';
import type { Guest } from '../../src/guest/guest.js';
import { compileHarness } from '../../src/harness/compile.js';
import { ensureKernel } from '../../src/kernel/build.js';
import { modulesFor } from '../../src/kernel/modules.js';

const fixture = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
const config = parseConfig({ modules: [fixture] });
let guest: Guest;

beforeAll(async () => {
  const kernel = await ensureKernel(config);
  guest = await boot(config, { kernel });
  await guest.loadModules(await modulesFor(kernel, config.modules));
}, 300_000);

afterAll(async () => {
  await guest?.close();
});

describe('kernel state: snapshot and restore', () => {
  it('every attribute of every fault directory round-trips: changed, restored, read back equal', async () => {
    const r = await guest.faultRoundTrip();
    expect(r.mismatches).toEqual([]);
    // failslab, fail_page_alloc and fail_futex: about a dozen plain attributes each
    expect(r.changed).toBeGreaterThan(30);
    expect(r.attributes).toBeGreaterThan(r.changed);
  });

  it('a sweep that fails half-way (its setup fails) still puts everything back', async () => {
    const before = await guest.faultState();
    const harness = { name: 'harness.c(bogus)', library: compileHarness(`${fixture}/harness.c`), arg: 'bogus' };
    await expect(guest.sweep(harness, { faults: { failslab: { stacktraceDepth: 8 } } })).rejects.toThrow(/setup failed: Invalid argument/);
    expect(await guest.faultState()).toEqual(before);
  });
});

describe('systematic mode with knobs', () => {
  it('require: a function name, resolved in the guest: only faults under alloc_pipe_info count', async () => {
    const near = { require: 'alloc_pipe_info' } as const;
    const r = await guest.sweep('pipe2', { faults: { failslab: near, fail_page_alloc: near } });
    const sites = r.steps.filter((s) => s.injected).map((s) => s.fault?.callSite?.split('+')[0]);
    expect(sites).toEqual(['alloc_pipe_info', 'alloc_pipe_info']);
    expect(r.complete).toBe(true);
  });

  it('a symbol that does not exist is an error naming it', async () => {
    await expect(guest.sweep('pipe2', { faults: { failslab: { reject: ['alloc_pipe_info', 'no_such_function_kfault'] } } })).rejects.toMatchObject({
      code: 'KFAULT_CONFIG',
      message: "faults.failslab.reject: no symbol 'no_such_function_kfault' in this kernel's /proc/kallsyms",
    });
  });
});

describe('random mode: make-it-fail on the harness thread only', () => {
  it('pipe2, probability 10: some runs fail at traced call sites, some succeed', async () => {
    const before = await guest.faultState();
    // about 7 fault points a run: about half the runs fail (0.9^7 = 0.48), far from either bound
    const r = await guest.sweep('pipe2', { mode: 'random', iterations: 150, faults: { failslab: { probability: 10 }, fail_page_alloc: { probability: 10 } } });
    expect(r.mode).toBe('random');
    expect(r.steps).toHaveLength(150);
    const failed = r.steps.filter((s) => s.ret < 0);
    expect(failed.length).toBeGreaterThan(25);
    expect(r.steps.length - failed.length).toBeGreaterThan(25);
    expect(failed.filter((s) => !s.injected || !s.fault?.callSite)).toEqual([]);
    // injected is what this run's own kernel log says, never an earlier run's
    expect(r.steps.filter((s) => s.injected !== s.kmsg.includes('FAULT_INJECTION: forcing a failure'))).toEqual([]);
    expect(new Set(failed.map((s) => s.errno))).toEqual(new Set(['ENFILE', 'ENOMEM']));
    expect(await guest.faultState()).toEqual(before);
  });

  it('the test module: the warning and the leak paths are found at random too', async () => {
    const harness = { name: 'harness.c(warn)', library: compileHarness(`${fixture}/harness.c`), arg: 'warn' };
    const r = await guest.sweep(harness, { mode: 'random', iterations: 60, faults: { failslab: { probability: 50 } } });
    expect(r.steps.some((s) => /^WARNING: .*warny\+/m.test(s.kmsg))).toBe(true);
  });
});

describe('fail_usercopy: in the default kernel, opt-in', () => {
  it('systematic: left out of fail-nth unless named (the step numbers stay those of allocations)', async () => {
    const plain = await guest.sweep('pipe2');
    expect(plain.steps.some((s) => s.errno === 'EFAULT')).toBe(false);
    const withCopies = await guest.sweep('pipe2', { faults: { fail_usercopy: {} } });
    expect(withCopies.complete).toBe(true);
    const efault = withCopies.steps.filter((s) => s.errno === 'EFAULT');
    expect(efault.length).toBeGreaterThan(0);
    expect(efault.every((s) => /should_fail_usercopy|_copy_(to|from)_user|copy_(to|from)_user/.test(s.kmsg))).toBe(true);
    expect(withCopies.steps.length).toBeGreaterThan(plain.steps.length);
  });

  it('random: only copies fail when only fail_usercopy has a probability', async () => {
    const before = await guest.faultState();
    const r = await guest.sweep('pipe2', { mode: 'random', iterations: 80, faults: { failslab: { probability: 0 }, fail_page_alloc: { probability: 0 }, fail_usercopy: { probability: 50 } } });
    const failed = r.steps.filter((s) => s.ret < 0);
    expect(failed.length).toBeGreaterThan(5);
    expect(new Set(failed.map((s) => s.errno))).toEqual(new Set(['EFAULT']));
    expect(await guest.faultState()).toEqual(before);
  });
});

describe('fail_futex: in the default kernel, opt-in', () => {
  const futexWake = () => ({ name: 'futex-wake.c', library: compileHarness(new URL('../fixtures/harnesses/futex-wake.c', import.meta.url).pathname), arg: '' });

  it('systematic: not a step unless named; named, FUTEX_WAKE fails with EFAULT in get_futex_key', async () => {
    const plain = await guest.sweep(futexWake());
    expect(plain.steps.map((s) => s.injected)).toEqual([false]);
    const named = await guest.sweep(futexWake(), { faults: { fail_futex: {} } });
    expect(named.steps[0]).toMatchObject({ nth: 1, injected: true, errno: 'EFAULT' });
    expect(named.steps[0]!.fault?.callSite).toMatch(/^get_futex_key\+/);
    expect(named.complete).toBe(true);
  });

  it('random: some runs fail with EFAULT, some succeed', async () => {
    const r = await guest.sweep(futexWake(), { mode: 'random', iterations: 60, faults: { fail_futex: { probability: 50 } } });
    const failed = r.steps.filter((s) => s.ret < 0);
    expect(new Set(failed.map((s) => s.errno))).toEqual(new Set(['EFAULT']));
    expect(failed.length).toBeGreaterThan(10);
    expect(r.steps.length - failed.length).toBeGreaterThan(10);
  });
});

describe('global mode: every task', () => {
  it('failslab and fail_page_alloc at probability 20 for 3 s while pipe2 loops; the guest and kmemleak live on', async () => {
    const r = await guest.stress('pipe2', 3, { failslab: { probability: 20 }, fail_page_alloc: { probability: 20 } });
    expect(r.runs).toBeGreaterThan(100);
    expect(r.failed).toBeGreaterThan(0);
    expect(r.failed).toBeLessThan(r.runs);
    expect(r.kmemleakEnabledAfter).toBe(true);
    expect((await guest.sweep('eventfd')).complete).toBe(true);
  });
});
