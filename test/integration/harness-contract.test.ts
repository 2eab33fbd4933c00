// A user's harness that returns a positive value (the contract is 0 or -errno) must end the
// command at once with exit 1 and a clear error, and leave no QEMU behind: it used to hang at
// "step 1" forever (the host's schema refused the step and the host waited for QEMU to exit).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { qemuNaming } from '../helpers/qemu-processes.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const harness = new URL('../fixtures/harnesses/returns-positive.c', import.meta.url).pathname;

/** kfault sweep with its own TMPDIR: QEMU's command line names the socket in it, so
 * qemuNaming finds this run's QEMU and no one else's. Booting takes from 10 s to a minute under TCG on a
 * loaded machine, so the clock that matters starts when kfault says the guest is up: the
 * sweep must end within 20 s of it (it used to stay at "step 1" until killed). */
async function sweep(arg: string) {
  const tmp = mkdtempSync('/tmp/kfc-');
  try {
    const child = spawn(process.execPath, [bin, 'sweep', `${harness}:${arg}`, '--leaks', 'off'], { env: { ...process.env, TMPDIR: tmp } });
    let stderr = '';
    let upAt: number | null = null;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (upAt === null && /kfault: guest up/.test(stderr)) upAt = Date.now();
    });
    child.stdout.resume();
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    const status = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    clearTimeout(killer);
    const afterUp = upAt === null ? null : (Date.now() - upAt) / 1000;
    const left = qemuNaming(tmp);
    return { status, stderr, afterUp, qemuLeft: left };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("a user's harness that returns 1", () => {
  it.each(['always', 'on-error'])('%s: exit 1 with "kfault_run returned 1; expected 0 or -errno", no hang, no QEMU left', async (arg) => {
    const r = await sweep(arg);
    expect(r.afterUp, r.stderr).not.toBeNull();
    expect(r.afterUp!, 'seconds from "guest up" to the end').toBeLessThan(20);
    expect(r.stderr).toContain('kfault_run returned 1; expected 0 or -errno');
    expect(r.status, r.stderr).toBe(1);
    expect(r.qemuLeft).toEqual([]);
  }, 300_000);
});

describe('a message from the guest that the host cannot read', () => {
  it('ends the request with the reason and kills QEMU, instead of waiting for it to exit', async () => {
    const { boot, GuestError, parseConfig } = await import('../../src/index.js');
    const guest = await boot(parseConfig({}));
    const pid = guest.pid;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      // What the agent sent for a harness that returned 1, before the guest checked the
      // contract: a step the host's schema refuses (ret must be <= 0). It is fed to the
      // host's end of the channel as a line read from the socket.
      const step = { nth: 1, ret: 1, errno: null, injected: true, tid: 60, signal: null, ns: 1, kmsg: '', fault: null };
      (guest as unknown as { machine: { channel: { receive(line: string): void } } }).machine.channel.receive(JSON.stringify({ type: 'step', id: 1, step }));
      const start = Date.now();
      const e = await guest.sweep('pipe2').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GuestError);
      expect((e as InstanceType<typeof GuestError>).code).toBe('KFAULT_PROTOCOL');
      expect((e as Error).message).toMatch(/^message from guest agent/);
      await guest.close();
      expect(Date.now() - start).toBeLessThan(15_000);
      expect(alive()).toBe(false);
    } finally {
      await guest.close();
    }
  }, 120_000);
});
