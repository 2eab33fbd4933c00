// The real addon, on the host: it must never arm a fault outside a kfault guest.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native.js';

// Threads come and go (the libuv pool); one that has exited has nothing armed.
const failNthOfAllThreads = () =>
  readdirSync('/proc/self/task').flatMap((t) => {
    try {
      return [readFileSync(`/proc/self/task/${t}/fail-nth`, 'utf8').trim()];
    } catch {
      return [];
    }
  });

describe.runIf(!loadBinding().inGuest())('addon on the host', () => {
  it('knows it is not in a kfault guest', () => {
    expect(loadBinding().inGuest()).toBe(false);
  });

  it('refuses to sweep, with a Node-style error', async () => {
    const steps: unknown[] = [];
    const err = await loadBinding().sweep({ harness: 'pipe2' }, '/nonexistent', { first: 1, last: 5, skip: [] }, (s) => steps.push(s)).catch((e: unknown) => e);
    expect(steps).toEqual([]);
    expect(err).toMatchObject({
      code: 'KFAULT_NOT_GUEST',
      errno: -1,
      syscall: 'arm',
      path: '/proc/cmdline',
    });
    expect((err as Error).message).toBe(
      "KFAULT_NOT_GUEST: refusing to arm fault injection outside a kfault guest (no kfault.guest=1 on the kernel command line), arm '/proc/cmdline'",
    );
    expect(failNthOfAllThreads().every((v) => v === '0')).toBe(true);
  });

  it('refuses global injection (stress) too, before opening anything', async () => {
    const probe = '/nonexistent/failslab/probability';
    const err = await loadBinding().stress('pipe2', '/nonexistent', 10, [probe], [100]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KFAULT_NOT_GUEST', syscall: 'arm', path: '/proc/cmdline' });
  });

  it('lists a catalogue of at least 12 harnesses', () => {
    const names = loadBinding().harnesses().map((h) => h.name);
    expect(names.length).toBeGreaterThanOrEqual(12);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('pipe2');
  });

  it('never loads a user\'s harness on the host', async () => {
    const err = await loadBinding().sweep({ library: '/nonexistent/harness.so', arg: '' }, '/x', { first: 1, last: 5, skip: [] }, () => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KFAULT_NOT_GUEST' });
  });

  it('refuses to load a kernel module on the host', () => {
    expect(() => loadBinding().loadModule('/nonexistent/kfault_test.ko', '')).toThrow(expect.objectContaining({ code: 'KFAULT_NOT_GUEST', syscall: 'arm' }));
  });

  it('rejects an unknown harness and bad arguments', async () => {
    const none = { first: 1, last: 5, skip: [] };
    await expect(loadBinding().sweep({ harness: 'nope' }, '/x', none, () => {})).rejects.toThrow("unknown harness 'nope'");
    await expect(loadBinding().sweep({ harness: 'pipe2' }, '/x', { first: 0, last: 5, skip: [] }, () => {})).rejects.toThrow('steps: expected 1 <= first <= last <= 1000000');
    await expect(loadBinding().sweep({ harness: 'pipe2' }, '/x', { first: 3, last: 2, skip: [] }, () => {})).rejects.toThrow('steps: expected 1 <= first <= last <= 1000000');
    // @ts-expect-error: no callback
    await expect(loadBinding().sweep({ harness: 'pipe2' }, '/x', none)).rejects.toThrow(/^sweep\(target/);
  });
});
