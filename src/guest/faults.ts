// The debugfs side of fail-nth, in the guest: which injectors count fail-nth, and putting
// their attributes back afterwards.
import { readFileSync, writeFileSync } from 'node:fs';

const DEBUGFS = '/sys/kernel/debug';

/**
 * Settings that let fail-nth reach ordinary GFP_KERNEL allocations: by default failslab and
 * fail_page_alloc ignore allocations that may sleep, and fail_page_alloc ignores order 0.
 * verbose=2 logs a stack trace of every injected fault (read back from /dev/kmsg per step),
 * without the rate limit that would drop most of them. Messages at the default level (the stack
 * trace) are kept off the serial console, where printing them would cost more than the step.
 */
export const FAIL_NTH_SETTINGS: Record<string, string> = {
  'failslab/ignore-gfp-wait': 'N',
  'failslab/verbose': '2',
  'failslab/verbose_ratelimit_interval_ms': '0',
  'fail_page_alloc/ignore-gfp-wait': 'N',
  'fail_page_alloc/min-order': '0',
  'fail_page_alloc/verbose': '2',
  'fail_page_alloc/verbose_ratelimit_interval_ms': '0',
  '/proc/sys/kernel/printk': '5 7 1 7',
};

/** Global mode: every failslab and fail_page_alloc call may fail, in any task or interrupt.
 * probability stays 0 here: the native loop turns it to 100 through files it opened first. */
export const GLOBAL_SETTINGS: Record<string, string> = Object.fromEntries(
  ['failslab', 'fail_page_alloc'].flatMap((inj) => [
    [`${inj}/probability`, '0'],
    [`${inj}/interval`, '1'],
    [`${inj}/times`, '-1'],
    [`${inj}/space`, '0'],
    [`${inj}/verbose`, '0'],
    [`${inj}/task-filter`, 'N'],
    [`${inj}/ignore-gfp-wait`, 'N'],
  ]),
);
GLOBAL_SETTINGS['fail_page_alloc/min-order'] = '0';

/** Relative paths are debugfs attributes. */
function attr(path: string): string {
  return path.startsWith('/') ? path : `${DEBUGFS}/${path}`;
}

const norm = (s: string) => s.trim().split(/\s+/).join(' ');

/** Writes settings, runs fn, then writes the saved values back and checks they stuck. */
export async function withFaultSettings<T>(settings: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string>();
  for (const path of Object.keys(settings)) saved.set(path, norm(readFileSync(attr(path), 'utf8')));
  try {
    for (const [path, value] of Object.entries(settings)) writeFileSync(attr(path), value);
    return await fn();
  } finally {
    const wrong: string[] = [];
    for (const [path, value] of saved) {
      writeFileSync(attr(path), value);
      const now = norm(readFileSync(attr(path), 'utf8'));
      if (now !== value) wrong.push(`${path}: wanted ${value}, reads ${now}`);
    }
    if (wrong.length) throw new Error(`fault state not restored: ${wrong.join('; ')}`);
  }
}
