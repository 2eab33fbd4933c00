// The debugfs side of fail-nth, in the guest: which injectors count fail-nth, and putting
// their attributes back afterwards.
import { readFileSync, writeFileSync } from 'node:fs';

const DEBUGFS = '/sys/kernel/debug';

/**
 * Settings that let fail-nth reach ordinary GFP_KERNEL allocations: by default failslab and
 * fail_page_alloc ignore allocations that may sleep, and fail_page_alloc ignores order 0.
 * verbose=0 keeps the console quiet (a stack trace per step costs more than the step).
 */
export const FAIL_NTH_SETTINGS: Record<string, string> = {
  'failslab/ignore-gfp-wait': 'N',
  'failslab/verbose': '0',
  'fail_page_alloc/ignore-gfp-wait': 'N',
  'fail_page_alloc/min-order': '0',
  'fail_page_alloc/verbose': '0',
};

function attr(path: string): string {
  return `${DEBUGFS}/${path}`;
}

/** Writes settings, runs fn, then writes the saved values back and checks they stuck. */
export async function withFaultSettings<T>(settings: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string>();
  for (const path of Object.keys(settings)) saved.set(path, readFileSync(attr(path), 'utf8').trim());
  try {
    for (const [path, value] of Object.entries(settings)) writeFileSync(attr(path), value);
    return await fn();
  } finally {
    const wrong: string[] = [];
    for (const [path, value] of saved) {
      writeFileSync(attr(path), value);
      const now = readFileSync(attr(path), 'utf8').trim();
      if (now !== value) wrong.push(`${path}: wanted ${value}, reads ${now}`);
    }
    if (wrong.length) throw new Error(`fault state not restored: ${wrong.join('; ')}`);
  }
}
