// Typed facade over the native binding: what the guest agent calls.
import { errnoName } from './errno.js';
import { parseFaultSites, type FaultSite } from './kmsg/fault-trace.js';
import { loadBinding, type NativeSteps } from './native.js';
import { openStepTraces } from './guest/fault-trace-events.js';
import type { Harness, Step } from './protocol.js';

export function harnesses(): Harness[] {
  return loadBinding().harnesses();
}

export function inGuest(): boolean {
  return loadBinding().inGuest();
}

/** Global random injection while a harness runs in a loop; see native/stress.c. */
export function stress(name: string, dir: string, ms: number, probabilityPaths: string[], probabilities: number[]) {
  return loadBinding().stress(name, dir, ms, probabilityPaths, probabilities);
}

let catalogue: Set<string> | undefined;

export interface SweepTarget {
  /** the catalogue's name, or the label of a user's harness */
  harness: string;
  /** a user's harness: its shared object, as the guest sees it */
  library: string | null;
  arg: string;
}

/**
 * Sweeps one harness with fail-nth = first, first+1, ... on a native thread of its own;
 * onStep gets each step as soon as it is done. dir: a writable tmpfs dir.
 */
export async function sweep(target: SweepTarget, dir: string, steps: NativeSteps, onStep: (s: Step) => void): Promise<{ complete: boolean }> {
  const binding = loadBinding();
  // the catalogue is compiled in: its names are asked for once, not on every sweep
  catalogue ??= new Set(binding.harnesses().map((h) => h.name));
  if (!target.library && !catalogue.has(target.harness)) {
    const known = [...catalogue].join(', ');
    throw Object.assign(new Error(`unknown harness '${target.harness}'; the catalogue has: ${known}`), { code: 'KFAULT_UNKNOWN_HARNESS' });
  }
  const native = target.library ? { library: target.library, arg: target.arg } : { harness: target.harness };
  // the allocation tracepoints' records, split by step: read for a step whose fault needs them
  const traces = openStepTraces();
  try {
    const none = { text: '', site: null };
    return await binding.sweep(native, dir, steps, (s) => {
      // random mode knows a fault struck from the trace, where a __GFP_NOWARN one logs nothing;
      // a fail-nth step needs the trace only when its fault logged no call site (the trace keeps
      // each step's records apart by its marker, so the steps not read cost nothing)
      let traced: { text: string; site: FaultSite | null } | null = steps.random === true ? (traces?.of(s.nth) ?? none) : null;
      const injected = s.injected || (traced !== null && traced.site !== null);
      const logged = injected ? (parseFaultSites(s.kmsg)[0] ?? null) : null;
      if (injected && !logged) traced ??= traces?.of(s.nth) ?? none;
      traced ??= none;
      const fault = injected ? (logged ?? traced.site) : null;
      onStep({ ...s, injected, errno: errnoName(s.ret), fault, trace: fault && !logged ? traced.text : '' });
    });
  } finally {
    traces?.close();
  }
}

/** Loads a kernel module in the guest (finit_module). */
export function loadModule(path: string, params: string): 'loaded' | 'already loaded' {
  return loadBinding().loadModule(path, params);
}
