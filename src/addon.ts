// Typed facade over the native binding: what the guest agent calls.
import { errnoName } from './errno.js';
import { parseFaultSites } from './kmsg/fault-trace.js';
import { loadBinding } from './native.js';
import type { Harness, SweepResult } from './protocol.js';

export function harnesses(): Harness[] {
  return loadBinding().harnesses();
}

export function inGuest(): boolean {
  return loadBinding().inGuest();
}

/** Global random injection while a harness runs in a loop; see native/stress.c. */
export function stress(name: string, dir: string, ms: number, probabilityPaths: string[]) {
  return loadBinding().stress(name, dir, ms, probabilityPaths);
}

/** Sweeps one harness with fail-nth 1, 2, ... on one native thread. dir: a writable tmpfs dir. */
export async function sweep(name: string, dir: string, maxSteps: number): Promise<Omit<SweepResult, 'kmemleakFilter'>> {
  const binding = loadBinding();
  const harness = binding.harnesses().find((h) => h.name === name);
  if (!harness) {
    const known = binding.harnesses().map((h) => h.name).join(', ');
    throw Object.assign(new Error(`unknown harness '${name}'; the catalogue has: ${known}`), { code: 'KFAULT_UNKNOWN_HARNESS' });
  }
  const start = performance.now();
  const raw = await binding.sweep(name, dir, maxSteps);
  return {
    harness: harness.name,
    syscall: harness.syscall,
    summary: harness.summary,
    maxSteps,
    complete: raw.complete,
    steps: raw.steps.map((s) => ({ ...s, errno: errnoName(s.ret), fault: s.injected ? (parseFaultSites(s.kmsg)[0] ?? null) : null })),
    ms: performance.now() - start,
  };
}
