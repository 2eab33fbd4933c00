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

kernelTest("the matchers print the problem's group: the test module's leak and warning", async ({ guest }) => {
  const leak = await guest.sweep(`${fixture}/harness.c:leak`);
  expect(() => expect(leak).toHaveNoLeaks()).toThrow(
    [
      'expected harness.c(leak) to leak nothing, but:',
      '  memory leak in kfault_test_alloc',
      '    leak, count 1: harness.c(leak) nth=3',
      '    fault sites: kfault_test_alloc+0xe',
      '    first: harness.c(leak) nth=3: 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky',
    ].join('\n'),
  );
  expect(leak).toHandleEveryFailure();
  const warn = await guest.sweep(`${fixture}/harness.c:warn`, { leaks: false });
  expect(() => expect(warn).toHandleEveryFailure()).toThrow(
    /^expected every failure point of harness\.c\(warn\) to be handled, but:\n {2}WARNING in warny\n {4}warning, count 1: harness\.c\(warn\) nth=2\n {4}fault sites: kfault_test_alloc\+0xe\n {4}first: harness\.c\(warn\) nth=2: WARNING: /,
  );
  expect(() => expect(warn).toHaveNoLeaks()).toThrow('expected harness.c(warn) to be checked for leaks, but kmemleak was not: not checked (leaks: false)');
}, 180_000);

kernelTest('the same guest serves every test of the file', async ({ guest }) => {
  expect(guest.raw.restarts).toBe(0);
  expect((await guest.raw.harnesses()).map((h) => h.name)).toContain('pipe2');
});
