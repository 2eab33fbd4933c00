// kfault/vitest as a kernel developer's test file uses it: one guest for this file, the test
// module loaded, each test sweeping a harness and asserting with kfault's matchers.
import { expect } from 'vitest';
import { createKernelTest } from 'kfault/vitest';

const fixture = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
const kernelTest = createKernelTest({ modules: [fixture] });

kernelTest('pipe2 error paths are clean', async ({ guest }) => {
  const r = await guest.sweep('pipe2');
  expect(r).toHaveNoLeaks();
  expect(r).toHandleEveryFailure();
  expect(r.steps.filter((s) => s.injected).length).toBeGreaterThan(0);
}, 120_000);

kernelTest("the matchers name the step: the test module's leak and warning", async ({ guest }) => {
  const leak = await guest.sweep(`${fixture}/harness.c:leak`);
  expect(() => expect(leak).toHaveNoLeaks()).toThrow(
    'expected harness.c(leak) to leak nothing, but:\n  harness.c(leak) nth=3  kfault_test_alloc+0xe <- leaky  ENOMEM  leak: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
  );
  expect(leak).toHandleEveryFailure();
  const warn = await guest.sweep(`${fixture}/harness.c:warn`, { leaks: false });
  expect(() => expect(warn).toHandleEveryFailure()).toThrow(/^expected every failure point of harness\.c\(warn\) to be handled, but:\n {2}harness\.c\(warn\) nth=2 .* warning: WARNING: /);
  expect(() => expect(warn).toHaveNoLeaks()).toThrow('expected harness.c(warn) to be checked for leaks, but kmemleak was not: not checked (leaks: false)');
}, 180_000);

kernelTest('the same guest serves every test of the file', async ({ guest }) => {
  expect(guest.raw.restarts).toBe(0);
  expect((await guest.raw.harnesses()).map((h) => h.name)).toContain('pipe2');
});
