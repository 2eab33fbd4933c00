// The console crash parser, on serial console logs saved from real guests (stock 6.12.117).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConsoleCrash, stepOfComm } from '../../src/kmsg/crash.js';

const log = (name: string) => readFileSync(new URL(`../fixtures/console/${name}`, import.meta.url), 'utf8').split('\n');

describe('crash reports on the console', () => {
  it('an oops (oops=panic): headline, the step from the comm, where, up to the panic', () => {
    const c = parseConsoleCrash(log('oops-null-deref.log'))!;
    expect(c).toMatchObject({
      kind: 'oops',
      headline: 'BUG: kernel NULL pointer dereference, address: 0000000000000000',
      at: 'oopsy+0x2b/0x87 [kfault_test]',
      pid: 60,
      comm: 'kf#2',
    });
    expect(stepOfComm(c.comm)).toBe(2);
    expect(c.log.at(-1)).toBe('Kernel panic - not syncing: Fatal exception');
    expect(c.log).toContain(' kfault_test_ioctl+0x3d/0x4d [kfault_test]');
  });

  it('a log cut off mid-report still gives the headline, and says what it does not know', () => {
    const c = parseConsoleCrash(log('oops-truncated.log'))!;
    expect(c.headline).toBe('BUG: kernel NULL pointer dereference, address: 0000000000000000');
    expect(c.kind).toBe('oops');
    expect(c.comm).toBeNull();
    expect(c.at).toBeNull();
    expect(stepOfComm(c.comm)).toBeNull();
  });

  it('a clean boot has no crash', () => {
    expect(parseConsoleCrash(log('clean.log'))).toBeNull();
  });

  it('only a sweep thread names a step', () => {
    expect(stepOfComm('kf#17')).toBe(17);
    expect(stepOfComm('kf-setup')).toBeNull();
    expect(stepOfComm('kworker/0:1')).toBeNull();
  });
});
