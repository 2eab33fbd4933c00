// In the guest: the fault settings of a fail-nth sweep, whatever is swept (a harness or a
// program): fail-nth's own, the opt-in injectors', kfault's kmemleak and slab-refill filters,
// and the user's knobs over them.
import { knobSettings } from '../fault-knob-table.js';
import type { FaultsConfig } from '../fault-knobs.js';
import type { KmemleakFilter, TextRange } from '../protocol.js';
import { FAIL_NTH_SETTINGS, hasAttr, optInSettings } from './faults.js';
import { kallsymsAddress, planKmemleakFilter, probeGuest, resolveRange } from './kmemleak-filter.js';
import { planRefillFilter } from './refill-filter.js';
import { diskFailSettings } from './guest-disks.js';

export interface SweepSettings {
  settings: Record<string, string>;
  kmemleakFilter: KmemleakFilter;
  refillFilter: string;
}

/** base: the mode's settings (default: fail-nth's); throws KFAULT_CONFIG on knobs this kernel cannot take. */
export function sweepSettings(req: { faults: FaultsConfig; kmemleakText: TextRange | null; kmemleakTextWhy: string }, base?: Record<string, string>): SweepSettings {
  const user = knobSettings(req.faults, resolveRange);
  if (user.problems.length) throw Object.assign(new Error(user.problems.map((p) => `${p.path}: ${p.message}`).join('\n')), { code: 'KFAULT_CONFIG' });
  const probe = probeGuest();
  for (const k of Object.keys(user.settings).filter((k) => /\/reject-start$/.test(k))) probe.userRejects.push(`${k}=${user.settings[k]} (config)`);
  const plan = planKmemleakFilter(req.kmemleakText, req.kmemleakTextWhy, probe, kallsymsAddress);
  // fail_page_alloc's one reject range goes to slab refills, which also covers kmemleak's
  // own pages (its metadata comes from slab caches); failslab's stays on kmemleak's text
  const refills = planRefillFilter(probe.stackFilter, probe.userRejects, resolveRange);
  if (refills.applied && plan.filter.applied) plan.filter.note = plan.filter.note.replace('for failslab and fail_page_alloc', 'for failslab (and its pages through slab refills, which fail_page_alloc rejects)');
  const named = (inj: string) => req.faults[inj as keyof typeof req.faults] !== undefined;
  const mode = base ?? { ...FAIL_NTH_SETTINGS, ...optInSettings(named, hasAttr) };
  const disks = named('fail_make_request') ? diskFailSettings() : {};
  return { settings: { ...mode, ...plan.settings, ...refills.settings, ...disks, ...user.settings }, kmemleakFilter: plan.filter, refillFilter: refills.note };
}
