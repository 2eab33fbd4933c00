// KVM is remembered as not working only when it was KVM's failure, for a week at most, and
// `kfault doctor` says what was remembered and how to clear it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failureWasKvms, KVM_VERDICT_TTL_MS, knownKvmFailure, kvmStatus, rememberedKvm, rememberKvm } from '../../src/guest/accel.js';
import { doctor } from '../../src/host.js';
import { spawnSync } from 'node:child_process';

// real: QEMU 7.2 with -cpu host on this project's CI machine, where /dev/kvm opens but no guest runs
const msrAbort = readFileSync(new URL('../fixtures/console/kvm-msr-abort.log', import.meta.url), 'utf8');

describe("whose failure a KVM boot's was", () => {
  it("QEMU's own KVM error is KVM's", () => {
    expect(failureWasKvms('QEMU exited (SIGABRT) before the agent was ready', msrAbort, false)).toBe(true);
  });
  it('no kernel banner is KVM\'s', () => {
    expect(failureWasKvms('no kernel banner on the console within 15000 ms', 'kfault: started qemu-system-x86_64 (kvm), pid 1', false)).toBe(true);
  });
  it('a guest that printed its banner and then lost its agent is not KVM\'s', () => {
    const console = '[    0.000000] Linux version 6.12.117 (root@host)\n[    1.2] Run /work/x/init.sh as init process\n[    1.3] Kernel panic - not syncing: Requested init /work/x/init.sh failed (error -2).';
    expect(failureWasKvms('the guest agent did not report ready within 120000 ms', console, true)).toBe(false);
    expect(failureWasKvms('QEMU exited (status 0) before the agent was ready', console, true)).toBe(false);
  });
});

describe('the remembered verdict', () => {
  let dir: string;
  const saved = process.env.XDG_CACHE_HOME;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kfault-accel-'));
    process.env.XDG_CACHE_HOME = dir;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds for a week for the same host and QEMU, then expires', () => {
    const t = Date.parse('2026-12-01T10:00:00Z');
    rememberKvm('QEMU emulator version 7.2.22', false, 'kvm: QEMU exited (SIGABRT) before the agent was ready', t);
    expect(knownKvmFailure('QEMU emulator version 7.2.22', t + 1000)).toMatch(/^kvm: QEMU exited \(SIGABRT\) before the agent was ready; remembered 2026-12-01T10:00:00.000Z in .*kvm-verdict\.json$/);
    expect(knownKvmFailure('QEMU emulator version 8.2.0', t + 1000)).toBeNull();
    expect(knownKvmFailure('QEMU emulator version 7.2.22', t + KVM_VERDICT_TTL_MS + 1)).toBeNull();
  });

  it('a verdict an older kfault wrote (no date, any boot failure) is not trusted', () => {
    rememberKvm('Q', false, 'x');
    const file = join(dir, 'kfault', 'kvm-verdict.json');
    const v = JSON.parse(readFileSync(file, 'utf8'));
    delete v.at;
    writeFileSync(file, JSON.stringify(v));
    expect(rememberedKvm('Q')).toBeNull();
  });

  it('doctor says what was remembered, until when, and how to clear it', () => {
    const t = Date.parse('2026-12-01T10:00:00Z');
    rememberKvm('Q', false, 'kvm: no kernel banner on the console within 15000 ms', t);
    expect(kvmStatus(null, rememberedKvm('Q', t))).toBe(
      `note    KVM: remembered as not working on this host since 2026-12-01T10:00:00.000Z (kvm: no kernel banner on the console within 15000 ms); guests run under TCG until 2026-12-08T10:00:00.000Z. To try KVM again now: rm ${join(dir, 'kfault', 'kvm-verdict.json')}`,
    );
    expect(kvmStatus(null, null)).toMatch(/^note    \/dev\/kvm opens; whether KVM runs a guest here is known after the first boot/);
    expect(kvmStatus('/dev/kvm: ENOENT', null)).toBe('note    KVM: /dev/kvm: ENOENT; guests run under TCG (slower)');
  });

  it("kfault doctor on this machine: never 'usable' where KVM failed", () => {
    const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
    expect(qemu.status).toBe(0);
    rememberKvm(qemu.stdout.split('\n')[0]!.trim(), false, 'kvm: QEMU exited (SIGABRT) before the agent was ready');
    const kvm = doctor().find((l) => /KVM|kvm/.test(l.text))!;
    expect(kvm.text).not.toMatch(/usable/);
    expect(kvm.text).toMatch(/\/dev\/kvm: |remembered as not working on this host since .* To try KVM again now: rm /);
  });
});
