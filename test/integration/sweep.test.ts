// The real thing: the default kernel under QEMU, the real addon in the guest, real debugfs.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { boot } from '../../src/guest/boot.js';
import type { Guest } from '../../src/guest/guest.js';
import { ensureKernel } from '../../src/kernel/build.js';
import type { SweepResult } from '../../src/protocol.js';
import { counts } from '../../src/report.js';

const HARNESSES = ['pipe2', 'socket-inet', 'open', 'eventfd', 'memfd', 'socketpair-unix', 'msgget', 'mount-tmpfs'];
const config = parseConfig({ sweep: { maxSteps: 200 } });

let guest: Guest;
const results = new Map<string, SweepResult>();
const outcomes = (r: SweepResult) => r.steps.map((s) => `${s.nth}:${s.injected ? 'injected' : '-'}:${s.errno ?? 'ok'}`);

beforeAll(async () => {
  const kernel = await ensureKernel(config);
  guest = await boot(config, { kernelImage: kernel.image });
}, 600_000);

afterAll(async () => {
  await guest?.close();
}, 60_000);

describe('fail-nth sweeps on a real 6.12 guest', () => {
  it('boots the kernel kfault built, under an accelerator it names', () => {
    expect(guest.kernel).toMatch(/^6\.12\./);
    expect(['kvm', 'tcg']).toContain(guest.accel);
    expect(guest.catalogue.length).toBeGreaterThanOrEqual(12);
  });

  it.each(HARNESSES)('%s: the sweep ends at a step with nothing injected, before its maximum', async (name) => {
    const r = await guest.sweep(name);
    results.set(name, r);
    expect(r.complete).toBe(true);
    expect(r.steps.length).toBeLessThan(200);
    const last = r.steps.at(-1)!;
    expect(last.injected).toBe(false);
    expect(last.ret).toBe(0);
    expect(r.steps.slice(0, -1).every((s) => s.injected)).toBe(true);
    expect(counts(r).points).toBeGreaterThan(0);
    expect(r.steps.map((s) => s.nth)).toEqual(r.steps.map((_, i) => i + 1));
  }, 120_000);

  it('pipe2: an injected fault makes the call fail with ENOMEM or ENFILE', () => {
    const failed = results.get('pipe2')!.steps.filter((s) => s.injected && s.ret < 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const s of failed) expect(['ENOMEM', 'ENFILE']).toContain(s.errno);
  });

  it('failed calls return a real errno, never a bare -1', () => {
    for (const r of results.values()) {
      for (const s of r.steps.filter((s) => s.ret < 0)) expect(s.errno, `${r.harness} nth=${s.nth}`).toMatch(/^E[A-Z]+$/);
    }
  });

  it.each(['pipe2', 'open', 'socket-inet'])('%s swept again gives the same outcomes', async (name) => {
    const again = await guest.sweep(name);
    expect(outcomes(again)).toEqual(outcomes(results.get(name)!));
  }, 120_000);

  it('stops at max-steps and says the sweep is not complete', async () => {
    const r = await guest.sweep('socket-inet', { maxSteps: 2 });
    expect(r.steps.map((s) => s.nth)).toEqual([1, 2]);
    expect(r.complete).toBe(false);
  });

  it('an unknown harness is an error naming it, and the guest goes on', async () => {
    await expect(guest.sweep('no-such-harness')).rejects.toMatchObject({ code: 'KFAULT_UNKNOWN_HARNESS' });
    expect((await guest.sweep('eventfd')).complete).toBe(true);
  }, 60_000);

  it('writes the console to a log file', () => {
    expect(existsSync(guest.consoleLog)).toBe(true);
  });
});
