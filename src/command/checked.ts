// A program's sweep followed by its kmemleak check, each leak tied to the step (the run) that
// made it, as for harnesses: kmemleak names the task that allocated each object, and every step
// records the tasks of its run.
import { attributeLeaks } from '../attribution.js';
import type { CommandSweep, CommandSweepCall, Guest } from '../guest/guest.js';
import type { Leak } from '../kmsg/kmemleak-report.js';

export interface CheckedCommandSweep extends CommandSweep {
  kmemleak: { checked: boolean; enabled: boolean; why: string | null; unattributed: Leak[]; suppressed: number; raw: string };
}

export async function checkedCommandSweep(guest: Guest, argv: string[], o: CommandSweepCall & { leaks: boolean; suppress: string[] }): Promise<CheckedCommandSweep> {
  const { leaks, suppress, ...call } = o;
  const before = guest.restarts;
  const r = await guest.sweepCommand(argv, call);
  if (!leaks) return { ...r, kmemleak: { checked: false, enabled: false, why: 'not checked (leaks off)', unattributed: [], suppressed: 0, raw: '' } };
  // a crash rebooted the guest and took kmemleak's state: sweep again, without the crashes
  const checked = guest.restarts === before ? r : await guest.sweepCommand(argv, { ...call, skip: Object.fromEntries(r.results.map((x) => [x.harness, x.crashes.map((c) => c.nth)])) });
  const k = await guest.kmemleakCheck();
  const a = attributeLeaks(checked.results, k.leaks, suppress);
  const results = r.results.map((x, i) => ({ ...x, leaks: a.results[i]?.leaks ?? [] }));
  return { ...r, results, kmemleak: { checked: true, enabled: k.enabled, why: k.why, unattributed: a.unattributed, suppressed: a.suppressed.length, raw: k.raw } };
}
