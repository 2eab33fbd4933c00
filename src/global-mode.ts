// The check global mode makes of config.faults: in a module of its own, without zod, because
// the guest agent makes it too (on a stress request) and every module it loads costs its boot.
import type { ConfigProblem } from './config.js';
import type { FaultsConfig } from './fault-knobs.js';

/** Global mode turns injection off again with a write, whose copy from user space
 * fail_usercopy would fail in every task: it could stay armed. (fail_futex cannot fail that
 * write; native/stress.c retries it until every probability file takes the 0.) */
export function globalModeProblems(faults: FaultsConfig): ConfigProblem[] {
  if (faults.fail_usercopy === undefined) return [];
  return [{ path: 'faults.fail_usercopy', message: 'global mode cannot drive fail_usercopy: the write that turns injection off again is itself a copy from user space, which it would fail in every task, so faults could stay armed; use sweep.mode random (the harness thread only) or systematic' }];
}
