// KVM when it works, TCG otherwise. "Works" means a guest really ran: on some hosts /dev/kvm
// opens and KVM_CREATE_VM succeeds, but no guest ever prints a line (see NOTES).
import { constants, accessSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { cacheDir } from '../paths.js';
import type { Accel } from './qemu.js';

export function kvmDeviceUsable(dev = '/dev/kvm'): string | null {
  try {
    accessSync(dev, constants.R_OK | constants.W_OK);
    return null;
  } catch (e) {
    return `${dev}: ${(e as NodeJS.ErrnoException).code ?? 'not usable'}`;
  }
}

const Verdict = z.object({ host: z.string(), kvmWorks: z.boolean(), reason: z.string(), at: z.string().optional() });
export type KvmVerdict = z.infer<typeof Verdict>;

/** A KVM failure is remembered for a week at most: a host's KVM can be fixed without a change
 * to its kernel, CPU or QEMU (a module option, a BIOS setting, a hypervisor's nested setting). */
export const KVM_VERDICT_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * Pure: was a failed boot under KVM KVM's fault? Only when QEMU itself said so (its KVM errors)
 * or the kernel never printed its banner: a guest that got as far as the kernel and then lost
 * its agent (a bad init, a bad ready message, a harness) would fail under TCG the same way.
 */
export function failureWasKvms(message: string, console: string, bannerSeen: boolean): boolean {
  if (/KVM internal error|failed to set MSR|kvm_\w+: Assertion|Could not access KVM kernel module|kvm: /i.test(console)) return true;
  return !bannerSeen || /no kernel banner/.test(message);
}

function hostKey(qemuVersion: string): string {
  return `${release()}|${cpus()[0]?.model ?? '?'}|${qemuVersion}`;
}

function verdictFile(): string {
  return join(cacheDir(), 'kvm-verdict.json');
}

/** A KVM failure seen on this host (kernel, CPU, QEMU), so later boots go straight to TCG. */
export function knownKvmFailure(qemuVersion: string, now = Date.now()): string | null {
  const v = rememberedKvm(qemuVersion, now);
  return v && !v.kvmWorks ? `${v.reason}; remembered ${v.at ?? 'earlier'} in ${verdictFile()}` : null;
}

/** What this host's last KVM try said, if it still holds: same kernel, CPU and QEMU, and not expired. */
export function rememberedKvm(qemuVersion: string, now = Date.now()): (KvmVerdict & { file: string; expires: string | null }) | null {
  let v: KvmVerdict;
  try {
    v = Verdict.parse(JSON.parse(readFileSync(verdictFile(), 'utf8')));
  } catch {
    return null;
  }
  if (v.host !== hostKey(qemuVersion)) return null;
  // an old verdict without a date is a failure remembered by an earlier kfault for any reason: not trusted
  if (!v.at) return null;
  const expires = v.kvmWorks ? null : Date.parse(v.at) + KVM_VERDICT_TTL_MS;
  if (expires !== null && !(expires > now)) return null;
  return { ...v, file: verdictFile(), expires: expires === null ? null : new Date(expires).toISOString() };
}

export function rememberKvm(qemuVersion: string, kvmWorks: boolean, reason: string, now = Date.now()): void {
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(verdictFile(), JSON.stringify({ host: hostKey(qemuVersion), kvmWorks, reason, at: new Date(now).toISOString() }) + '\n');
}

/** What `kfault doctor` says of KVM: the device, and what the last try on this host showed. */
export function kvmStatus(device: string | null, remembered: ReturnType<typeof rememberedKvm>): string {
  if (device) return `note    KVM: ${device}; guests run under TCG (slower)`;
  if (!remembered) return 'note    /dev/kvm opens; whether KVM runs a guest here is known after the first boot (a failed KVM start falls back to TCG)';
  if (remembered.kvmWorks) return `ok      KVM ran a guest on this host (${remembered.at})`;
  return `note    KVM: remembered as not working on this host since ${remembered.at} (${remembered.reason}); guests run under TCG until ${remembered.expires}. To try KVM again now: rm ${remembered.file}`;
}

export interface AccelPlan {
  /** accelerators to try, in order */
  order: Accel[];
  note: string;
}

/** Pure: which accelerators to try for a requested mode. */
export function planAccel(requested: 'auto' | 'kvm' | 'tcg', kvmProblem: string | null): AccelPlan {
  if (requested === 'tcg') return { order: ['tcg'], note: 'TCG (requested)' };
  if (requested === 'kvm') return { order: ['kvm'], note: 'KVM (requested)' };
  if (kvmProblem) return { order: ['tcg'], note: `TCG: KVM not usable (${kvmProblem})` };
  return { order: ['kvm', 'tcg'], note: 'KVM, falling back to TCG if the guest does not start' };
}
