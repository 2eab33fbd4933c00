// Function mode on the real guest (the block kernel: FAIL_FUNCTION and kprobe events): the
// traced run, each function failed in turn with the errno the kernel gives its type, the user's
// kprobe events and every fault attribute left as they were, and several fail_function inject
// names in one config (one write each). One boot for all of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { errnoName } from '../../src/errno.js';
import { boot } from '../../src/guest/boot.js';
import type { Guest } from '../../src/guest/guest.js';
import { compileHarness } from '../../src/harness/compile.js';
import { ensureKernel } from '../../src/kernel/build.js';
import { functionOf } from '../../src/kmsg/fault-trace.js';
import type { Step } from '../../src/protocol.js';

const ramfs = new URL('../fixtures/harnesses/ramfs-write.c', import.meta.url).pathname;
const config = parseConfig({ kernel: { profiles: ['block'] } });
const KPROBE_EVENTS = '/sys/kernel/tracing/kprobe_events';
let guest: Guest;

/** What the kernel makes a failed function of each type return by default (kernel/fail_function.c). */
const DEFAULT_RETVAL: Record<string, number> = { ERRNO: -22, ERRNO_NULL: 0, NULL: 0, TRUE: 1 };

async function sh(script: string): Promise<string> {
  const r = await guest.shell(['sh', '-c', script], { cwd: '/', timeoutMs: 20_000 });
  const out = Buffer.from(r.stdout, 'base64').toString();
  if (r.exitCode !== 0) throw new Error(`guest: ${script}: exit ${r.exitCode}: ${out}${Buffer.from(r.stderr, 'base64').toString()}`);
  return out;
}

const framesOf = (s: Step) => (s.fault?.frames ?? []).map(functionOf);

beforeAll(async () => {
  guest = await boot(config, { kernel: await ensureKernel(config) });
}, 300_000);

afterAll(async () => {
  await guest?.close();
});

describe('function mode, the traced pass', () => {
  it('lists the injectable functions open reaches (syscall entry points left out and counted), and removes only its own kprobe events', async () => {
    // a kprobe event of the user's own: kfault adds and removes only its own
    await sh(`echo 'p:mine/openat2 do_sys_openat2' >> ${KPROBE_EVENTS}`);
    const t = await guest.traceFunctions('open');
    expect(t.ret).toBe(0);
    expect(t.syscallsLeftOut).toBeGreaterThan(100);
    expect(t.functions).toContainEqual({ name: 'should_failslab', type: 'ERRNO' });
    expect(t.functions.some((f) => /sys_/.test(f.name))).toBe(false);
    expect(t.functions.map((f) => f.name)).not.toContain('should_fail_bio'); // no block I/O in open on tmpfs
    const events = await sh(`cat ${KPROBE_EVENTS}`);
    expect(events).toMatch(/^p:mine\/openat2 do_sys_openat2/m);
    expect(events).not.toMatch(/kfault_fn/);
    await sh(`echo '-:mine/openat2' >> ${KPROBE_EVENTS}`);
    expect(await sh('ls /sys/kernel/tracing/instances')).not.toMatch(/kfault-functions/);
  }, 60_000);

  it("a user's harness, in a process of its own: its write to ramfs reaches __filemap_add_folio", async () => {
    const t = await guest.traceFunctions({ name: 'ramfs-write.c', library: compileHarness(ramfs), arg: '' });
    expect(t.functions.map((f) => f.name)).toEqual(expect.arrayContaining(['should_failslab', '__filemap_add_folio']));
  }, 60_000);
});

describe('function mode: a built-in harness (open)', () => {
  it('traces the injectable functions open reaches, fails each once, and leaves the user\'s kprobe events and the fault state as they were', async () => {
    // a kprobe event of the user's own: kfault adds and removes only its own
    await sh(`echo 'p:mine/openat2 do_sys_openat2' >> ${KPROBE_EVENTS}`);
    const before = await guest.faultState();
    const r = await guest.sweepFunctions('open');
    const t = r.functionTrace!;
    expect(r.mode).toBe('function');
    expect(t.ret).toBe(0);
    // syscall entry points are on the list but left out, and counted
    expect(t.syscallsLeftOut).toBeGreaterThan(100);
    expect(t.functions.map((f) => f.name)).toContain('should_failslab');
    expect(t.functions.some((f) => /sys_/.test(f.name))).toBe(false);
    expect(r.steps.map((s) => s.nth)).toEqual(t.functions.map((_, i) => i + 1));
    for (const [i, s] of r.steps.entries()) {
      const f = t.functions[i]!;
      expect(s.function).toEqual({ name: f.name, type: f.type, retval: DEFAULT_RETVAL[f.type] });
      // a function the traced (first) run reached can be missed by a later one: the first run
      // refills the slab caches from the page allocator (should_fail_alloc_page), later runs
      // find them full. Such a step is "not hit": nothing failed, the harness succeeded.
      if (!s.injected) {
        expect([s.ret, s.errno, s.fault]).toEqual([0, null, null]);
        continue;
      }
      // the fault site: fail_function's own stack dump, through the function it failed
      expect(s.fault?.injector).toBe('fail_function');
      expect(framesOf(s)).toContain(f.name);
    }
    const slab = r.steps.find((s) => s.function?.name === 'should_failslab')!;
    expect(slab.injected).toBe(true);
    expect(slab.errno).toMatch(/^E(NOMEM|NFILE|MFILE)$/); // the allocation failed; open's error path chose the errno
    expect(r.crashes).toEqual([]);
    expect(await guest.faultState()).toEqual(before);
    const events = await sh(`cat ${KPROBE_EVENTS}`);
    expect(events).toMatch(/^p:mine\/openat2 do_sys_openat2/m);
    expect(events).not.toMatch(/kfault_fn/);
    await sh(`echo '-:mine/openat2' >> ${KPROBE_EVENTS}`);
    expect(await sh('ls /sys/kernel/tracing/instances')).not.toMatch(/kfault-functions/);
  }, 120_000);
});

describe('function mode: an errno that reaches the harness', () => {
  const harness = () => ({ name: 'ramfs-write.c', library: compileHarness(ramfs), arg: '' });

  it('a write to ramfs: __filemap_add_folio failed returns its retval (EINVAL by default) to write(), in a user harness\'s own process', async () => {
    const r = await guest.sweepFunctions(harness());
    const names = r.functionTrace!.functions.map((f) => f.name);
    expect(names).toContain('__filemap_add_folio');
    const s = r.steps.find((x) => x.function?.name === '__filemap_add_folio')!;
    expect(s.function!.retval).toBe(-22);
    expect(s.injected).toBe(true);
    expect(s.ret).toBe(s.function!.retval);
    expect(s.errno).toBe(errnoName(s.function!.retval));
    expect(framesOf(s)).toContain('__filemap_add_folio');
  }, 120_000);

  it('faults.fail_function.retval sets what an ERRNO function returns: -28 comes back as ENOSPC', async () => {
    const r = await guest.sweepFunctions(harness(), { faults: { fail_function: { retval: -28 } } });
    const s = r.steps.find((x) => x.function?.name === '__filemap_add_folio')!;
    expect(s.function!.retval).toBe(-28);
    expect(s.errno).toBe('ENOSPC');
    // a TRUE function returns what the kernel fixes for it, whatever retval says
    const page = r.steps.find((x) => x.function?.type === 'TRUE');
    if (page) expect(page.function!.retval).toBe(1);
  }, 120_000);
});

describe('faults.fail_function.inject: several names, one write each', () => {
  // a harness that reads the inject list while the sweep has it set: every name must be on it
  const reader = new URL('../fixtures/harnesses/read-inject.c', import.meta.url).pathname;
  const names = ['should_fail_bio', '__filemap_add_folio', 'should_failslab'];

  it(`inject ${JSON.stringify(names)}: all three are on the kernel's list during the run, and gone after`, async () => {
    const before = await guest.faultState();
    const r = await guest.sweep(
      { name: 'read-inject.c', library: compileHarness(reader), arg: names.join(',') },
      // probability 0: the names are listed, nothing is failed
      { mode: 'random', iterations: 1, faults: { failslab: { probability: 0 }, fail_page_alloc: { probability: 0 }, fail_function: { inject: names, probability: 0 } } },
    );
    expect(r.steps.map((s) => [s.ret, s.errno])).toEqual([[0, null]]);
    expect(before['fail_function/inject']).toBe('');
    expect(await guest.faultState()).toEqual(before);
  }, 60_000);

  it('the same harness fails when a name is not on the list (the test can fail): already its unarmed run', async () => {
    const sweep = guest.sweep(
      { name: 'read-inject.c', library: compileHarness(reader), arg: 'should_failslab' },
      { mode: 'random', iterations: 1, faults: { failslab: { probability: 0 }, fail_page_alloc: { probability: 0 }, fail_function: { inject: ['should_fail_bio'], probability: 0 } } },
    );
    await expect(sweep).rejects.toThrow(/fails with no fault injected: No such file or directory/);
  }, 60_000);
});
