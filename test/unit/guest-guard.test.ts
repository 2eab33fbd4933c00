// "Faults are never armed on the host", for JavaScript too: every JS path that writes fault
// state (src/guest/faults.ts, src/guest/command.ts) checks first that it runs in a kfault guest
// (kfault.guest=1 on the kernel command line, the check native/guest.c makes). Run on the host,
// where the check must refuse: the paths given are ones that do not exist, so even without the
// guard nothing on the host is written.
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native.js';
import { withFaultSettings } from '../../src/guest/faults.js';
import { runCommand } from '../../src/guest/command.js';

const notGuest = { code: 'KFAULT_NOT_GUEST', message: expect.stringMatching(/^refusing to arm fault injection outside a kfault guest/) };

describe.runIf(!loadBinding().inGuest())('the guest guard, on the host', () => {
  it('withFaultSettings refuses before it writes anything, and never runs fn', async () => {
    let ran = false;
    const e = await withFaultSettings({ '/nonexistent/kfault-guard-test': '1' }, async () => {
      ran = true;
    }).catch((x: unknown) => x);
    expect(e).toMatchObject(notGuest);
    expect(ran).toBe(false);
  });

  it('kfault command (runCommand) refuses before it writes anything or runs the program', async () => {
    const e = await runCommand({ id: 1, type: 'command', path: '/nonexistent/kfault-guard-test', argv: ['/nonexistent/kfault-guard-test'], runs: 1, probability: 0, interval: 1, times: 0, timeoutMs: 1000 }, '/').catch((x: unknown) => x);
    expect(e).toMatchObject(notGuest);
  });

  it('the ptrace runner (commandRun) refuses in every mode before it forks the program', async () => {
    const binding = loadBinding();
    const base = { path: '/bin/true', argv: ['true'], cwd: '/', timeoutMs: 1000 };
    for (const o of [{ mode: 'trace' as const }, { mode: 'random' as const }, { mode: 'nth' as const, syscall: 'pipe2', call: 1, nth: 1 }]) {
      await expect(binding.commandRun({ ...base, ...o })).rejects.toMatchObject({ code: 'KFAULT_NOT_GUEST', message: expect.stringMatching(/refusing to arm fault injection outside a kfault guest/) });
    }
  });
});
