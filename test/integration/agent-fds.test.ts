// The guest agent must not leak file descriptors: every /dev/kmsg reader it opens is closed on
// every path. Counted in the real guest, from /proc/<agent>/fd, by a program the agent runs
// (kfault command, probability 0: nothing is injected).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boot, GuestError, parseConfig, type Guest } from '../../src/index.js';

let guest: Guest;
beforeAll(async () => {
  guest = await boot(parseConfig({}));
}, 180_000);
afterAll(async () => {
  await guest?.close();
});

/** How many of the agent's fds are /dev/kmsg (the command's parent is the agent). */
async function kmsgFds(): Promise<number> {
  const r = await guest.command(['/bin/sh', '-c', 'ls -l /proc/$PPID/fd | grep -c /dev/kmsg'], { runs: 1, probability: 0, times: 0 });
  const n = Number(r.runs[0]!.output.trim());
  expect(Number.isInteger(n), r.runs[0]!.output).toBe(true);
  return n;
}

describe('/dev/kmsg readers of the agent', () => {
  it('none is left open by kmemleak reports', async () => {
    const before = await kmsgFds();
    for (let i = 0; i < 3; i++) {
      const k = await guest.kmemleakCheck();
      expect(k.enabled, k.why ?? '').toBe(true);
    }
    expect(await kmsgFds()).toBe(before);
  }, 120_000);

  it('none is left open by a stress request with config problems', async () => {
    const before = await kmsgFds();
    for (let i = 0; i < 3; i++) {
      const e = await guest.stress('pipe2', 1, { failslab: { require: 'kfault_no_such_function' } }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GuestError);
      expect((e as GuestError).code).toBe('KFAULT_CONFIG');
    }
    expect(await kmsgFds()).toBe(before);
  }, 120_000);
});
