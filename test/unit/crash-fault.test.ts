// The fault of a step that crashed the guest, read from the console before the crash report, on
// serial console logs saved from real guests (stock 6.12.117, the test module's oops at nth=2).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { faultBeforeCrash, parseConsoleCrash } from '../../src/kmsg/crash.js';

const log = (name: string) => readFileSync(new URL(`../fixtures/console/${name}`, import.meta.url), 'utf8').split('\n');

describe("the crashed step's fault, from its stack dump on the console", () => {
  it("the oops: the dump of the step's thread (kf#2) before the report names the call site", () => {
    const lines = log('oops-null-deref.log');
    expect(parseConsoleCrash(lines)!.comm).toBe('kf#2');
    expect(faultBeforeCrash(lines, 'kf#2')).toMatchObject({ injector: 'failslab', callSite: 'kfault_test_alloc+0xe', caller: 'oopsy', inKmemleak: false });
  });

  it('a log cut off mid-report still has the dump before it', () => {
    expect(faultBeforeCrash(log('oops-truncated.log'), 'kf#2')).toMatchObject({ callSite: 'kfault_test_alloc+0xe', caller: 'oopsy' });
  });

  it("another step's thread, or a log with no dump: none", () => {
    expect(faultBeforeCrash(log('oops-null-deref.log'), 'kf#3')).toBeNull();
    expect(faultBeforeCrash(log('clean.log'), 'kf#2')).toBeNull();
  });
});
