// In the guest: a sweeps request, many sweeps in one (see protocol.ts). The fault settings are
// written once for a run of built-in harnesses and restored once after them: the catalogue's
// code never touches fault state, so one restore after them puts back what one after each would.
// A user's harness (its own code, in a process of its own) gets a write and a restore of its own.
import * as addon from '../addon.js';
import type { AgentMessage, Request } from '../protocol.js';
import { ensureFaultTracing } from './fault-trace-events.js';
import { withFaultSettings } from './faults.js';
import { sweepSettings } from './sweep-settings.js';

export type SweepsRequest = Extract<Request, { type: 'sweeps' }>;

/** base: the mode's settings (random mode's), as for a single sweep. send must write a
 * sweepDone event out at once: the host takes the next step events for the next target's. */
export async function runSweeps(req: SweepsRequest, dir: string, base: Record<string, string> | undefined, send: (msg: AgentMessage) => void): Promise<{ swept: number }> {
  const plan = sweepSettings(req, base);
  ensureFaultTracing();
  const done = { kmemleakFilter: plan.kmemleakFilter, refillFilter: plan.refillFilter };
  const one = async (i: number) => {
    const t = req.targets[i]!;
    const steps = { first: 1, last: req.maxSteps, skip: t.skip, random: req.random };
    const start = performance.now();
    const r = await addon.sweep({ harness: t.harness, library: t.library, arg: t.arg }, dir, steps, (step) => send({ type: 'step', id: req.id, index: i, step }));
    send({ type: 'sweepDone', id: req.id, index: i, done: { complete: r.complete, ...done }, ms: performance.now() - start });
  };
  for (let i = 0; i < req.targets.length; ) {
    let end = i + 1;
    if (!req.targets[i]!.library) while (end < req.targets.length && !req.targets[end]!.library) end++;
    const from = i;
    await withFaultSettings(plan.settings, async () => {
      for (let k = from; k < end; k++) await one(k);
    });
    i = end;
  }
  return { swept: req.targets.length };
}
