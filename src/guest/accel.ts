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

const Verdict = z.object({ host: z.string(), kvmWorks: z.boolean(), reason: z.string() });

function hostKey(qemuVersion: string): string {
  return `${release()}|${cpus()[0]?.model ?? '?'}|${qemuVersion}`;
}

function verdictFile(): string {
  return join(cacheDir(), 'kvm-verdict.json');
}

/** A KVM failure seen on this host (kernel, CPU, QEMU), so later boots go straight to TCG. */
export function knownKvmFailure(qemuVersion: string): string | null {
  try {
    const v = Verdict.parse(JSON.parse(readFileSync(verdictFile(), 'utf8')));
    return v.host === hostKey(qemuVersion) && !v.kvmWorks ? v.reason : null;
  } catch {
    return null;
  }
}

export function rememberKvm(qemuVersion: string, kvmWorks: boolean, reason: string): void {
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(verdictFile(), JSON.stringify({ host: hostKey(qemuVersion), kvmWorks, reason }) + '\n');
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
