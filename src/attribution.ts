// Ties what kmemleak found after a batch of sweeps to the step that made each leak: the sweep
// thread's pid (Step.tid) and its comm during the step, "kf#<nth>" (native/sweep.c); for a
// program's sweep, the tasks of the step's run (Step.command.threads).
import { functionOf as fn, isAllocatorFrame } from './kmsg/fault-trace.js';
import type { Leak } from './kmsg/kmemleak-report.js';
import type { SweepResult } from './protocol.js';

export interface Attribution {
  results: SweepResult[];
  /** leaks made outside any sweep thread (another task, an RCU callback, a worker) */
  unattributed: Leak[];
  /** leaks with a frame in config kmemleak.suppress */
  suppressed: Leak[];
}

export function attributeLeaks(results: SweepResult[], leaks: Leak[], suppress: string[]): Attribution {
  const out = results.map((r) => ({ ...r, leaks: [...r.leaks] }));
  const unattributed: Leak[] = [];
  const suppressed: Leak[] = [];
  for (const leak of leaks) {
    if (leak.frames.some((f) => suppress.includes(fn(f)))) {
      suppressed.push(leak);
      continue;
    }
    const nth = /^kf#(\d+)$/.exec(leak.comm);
    // The latest sweep with this thread id: pids restart in a guest booted after a crash,
    // and leaks of a crashed guest died with it.
    const owner = [...out].reverse().find((r) => r.steps.some((s) => s.tid === leak.pid));
    if (owner && nth) owner.leaks.push({ nth: Number(nth[1]), leak });
    else if (owner && /^kf-(setup|teardown)$/.test(leak.comm)) owner.leaks.push({ nth: null, leak });
    else {
      // a program's sweep (kfault command --sweep): one run per step, each with tasks of its own
      const run = [...out].reverse().flatMap((r) => r.steps.filter((s) => s.command?.threads.includes(leak.pid)).map((s) => ({ r, nth: s.nth })))[0];
      if (run) run.r.leaks.push({ nth: run.nth, leak });
      else unattributed.push(leak);
    }
  }
  return { results: out, unattributed, suppressed };
}

/** "kfault_test_alloc+0xe <- leaky": the first frame past the allocator, and its caller. */
export function allocatedAt(leak: Leak): string {
  const i = leak.frames.findIndex((f) => !isAllocatorFrame(fn(f)));
  if (i < 0) return '?';
  const site = leak.frames[i]!.replace(/\/0x[0-9a-f]+/, '').replace(/ \[\S+\]$/, '');
  const caller = leak.frames[i + 1];
  return caller ? `${site} <- ${fn(caller)}` : site;
}

/** "1 object, 200 bytes, allocated at kfault_test_alloc+0xe <- leaky" */
export function leakSummary(leaks: Leak[]): string {
  const bytes = leaks.reduce((n, l) => n + l.size, 0);
  const sites = [...new Set(leaks.map(allocatedAt))];
  return `${leaks.length} object${leaks.length === 1 ? '' : 's'}, ${bytes} bytes, allocated at ${sites.join(', ')}`;
}
