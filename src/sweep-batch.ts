// A batch of sweeps, the one way every entry point runs them (kfault sweep and compare, the
// vitest fixture, the library's runBatch): the config checked, the kernel and modules built,
// the guest booted, each harness swept, what a crash took kmemleak's state of swept again, one
// kmemleak check, every leak tied to its step, the results assembled.
import { basename, resolve } from 'node:path';
import { attributeLeaks } from './attribution.js';
import { harnesses } from './addon.js';
import { checkKernelSupports, ConfigError, parseConfig, type Config, type ConfigProblem, type UserConfig } from './config.js';
import { boot, type BootOptions } from './guest/boot.js';
import type { Guest, SweepCall, UserHarness } from './guest/guest.js';
import { compileHarness, parseHarnessSpec } from './harness/compile.js';
import { ensureKernel, type Kernel } from './kernel/build.js';
import { checkConfigPaths } from './kernel/check-paths.js';
import { modulesFor } from './kernel/modules.js';
import type { Crash, Step, SweepResult } from './protocol.js';
import { problems as problemsOf } from './report.js';
import { groupProblems } from './reports/groups.js';
import { resultsProblems } from './repro/problems.js';
import { kfaultVersion } from './repro/version.js';
import { RESULTS_SCHEMA, type ResultsFile } from './results-file.js';
import { estimatedSteps, rememberSteps } from './step-estimates.js';
import { catalogueFor, withHarnessNeeds } from './harness/needs.js';

/** What a batch of sweeps found: the results file `kfault sweep --json` writes. */
export type Batch = ResultsFile;

/** A catalogue harness by name, or a user's C file compiled. */
export interface SweepTarget {
  name: string;
  user?: UserHarness;
}

export interface BootHooks {
  /** what kfault is doing, a line at a time ("kfault: guest up ..."); the CLI prints them on stderr */
  log?: (line: string) => void;
  /** the kernel is built (or found in the cache) and about to boot */
  onBooting?: (kernel: Kernel) => void;
  onQemuCommand?: BootOptions['onQemuCommand'];
  onConsoleLine?: BootOptions['onConsoleLine'];
}

export interface BatchOptions extends BootHooks {
  /** options of every harness's sweep (mode, iterations, faults, maxSteps, skip, onStep...) */
  sweep?: SweepCall;
  /** the kmemleak check after the sweeps (default: the config's kmemleak.check) */
  leaks?: boolean;
  /** a sweep begins (aboutSteps: how many it took last time on this kernel): what to call with
   * each of its steps, and when it ends */
  onSweep?: (harness: string, aboutSteps: number | null) => { step(s: Step): void; end(): void };
  /** each harness's result once it is final: after the kmemleak check when there is one */
  onResult?: (r: SweepResult) => void;
}

/** A booted guest with the config's modules loaded, and what they were. */
export interface BatchGuest {
  guest: Guest;
  modules: Batch['modules'];
}

/** How often the harnesses a crash took kmemleak's state of are swept again before kfault
 * says it could not check them (a crash that comes back at other steps in every sweep). */
const MAX_LEAK_ROUNDS = 3;

/** The config as every entry point takes it: parsed (the schema, its cross-field checks) and
 * the files it names checked, so the CLI and the library refuse the same input the same way. */
export function checkedConfig(input: UserConfig | Config): Config {
  const config = parseConfig(input);
  const problems = checkConfigPaths(config);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** Catalogue names and user harness files ("file.c" or "file.c:ARG", compiled now) -> what to sweep. */
export function resolveTargets(names: string[]): SweepTarget[] {
  const known = harnesses().map((h) => h.name);
  const problems: ConfigProblem[] = [];
  const targets = names.map((n): SweepTarget => {
    const spec = parseHarnessSpec(n);
    if (spec) {
      const name = `${basename(spec.file)}${spec.arg ? `(${spec.arg})` : ''}`;
      return { name, user: { name, library: compileHarness(spec.file), arg: spec.arg, source: resolve(spec.file) } };
    }
    if (!known.includes(n)) problems.push({ path: 'harness', message: `unknown harness '${n}'; expected a C file (FILE.c or FILE.c:ARG) or one of: ${known.join(', ')}` });
    return { name: n };
  });
  if (problems.length) throw new ConfigError(problems);
  return targets;
}

/** The kernel and the config's modules built, the guest booted, the config's faults checked
 * against the running kernel and the modules loaded; the guest is closed if any of it fails. */
export async function bootGuest(config: Config, hooks: BootHooks = {}): Promise<BatchGuest> {
  const kernel = await ensureKernel(config);
  const modules = await modulesFor(kernel, config.modules);
  const start = Date.now();
  hooks.onBooting?.(kernel);
  const guest = await boot(config, { kernel, onQemuCommand: hooks.onQemuCommand, onConsoleLine: hooks.onConsoleLine });
  try {
    checkKernelSupports(config.faults, await guest.faultState('capabilities'));
    if (modules.length) await guest.loadModules(modules);
  } catch (e) {
    await guest.close();
    throw e;
  }
  hooks.log?.(`kfault: guest up (${guest.kernel}, ${guest.accel}) in ${((Date.now() - start) / 1000).toFixed(1)} s; ${guest.notes.join('; ')}`);
  return { guest, modules };
}

/** Checks the config and the harnesses, boots, sweeps them (none named: the whole catalogue),
 * checks kmemleak, and shuts the guest down. */
export async function runBatch(input: UserConfig | Config, names: string[] = [], options: BatchOptions = {}): Promise<Batch> {
  const config = withHarnessNeeds(checkedConfig(input), names);
  const targets = resolveTargets(names);
  const booted = await bootGuest(config, options);
  try {
    if (targets.length) return await sweepBatch(booted, config, targets, options);
    const whole = catalogueFor(booted.guest.catalogue.map((h) => h.name), booted.guest.disks);
    if (whole.left.length) options.log?.(`kfault: not swept: ${whole.left.join(', ')} (they need an ext4 on disk 0: name them, or give --profile block --disk 64M:ext4)`);
    return await sweepBatch(booted, config, whole.names.map((name) => ({ name })), options);
  } finally {
    await booted.guest.close();
  }
}

/** Sweeps each target on a booted guest, then (unless leaks are off) one kmemleak check for
 * them all: kmemleak is cleared first, so the check sees only this batch's leaks. */
export async function sweepBatch({ guest, modules }: BatchGuest, config: Config, targets: SweepTarget[], options: BatchOptions = {}): Promise<Batch> {
  const { sweep: call = {}, leaks = config.kmemleak.check, onSweep, onResult, log } = options;
  const restartsBefore = guest.restarts;
  if (leaks) await guest.kmemleakClear();
  const bootOf: number[] = [];
  let progress: ReturnType<NonNullable<BatchOptions['onSweep']>> | undefined;
  // one request for them all (see Guest.sweepMany): the same sweeps as one by one
  const results = await guest
    .sweepMany(
      targets.map((t) => t.user ?? t.name),
      {
        ...call,
        onBegin: (i) => {
          bootOf[i] = guest.restarts;
          progress = onSweep?.(targets[i]!.name, estimatedSteps(guest.kernel, targets[i]!.name));
        },
        onStep: (_i, s) => {
          call.onStep?.(s);
          progress?.step(s);
        },
        onEnd: (i, r) => {
          progress?.end();
          progress = undefined;
          if (r.complete) rememberSteps(guest.kernel, targets[i]!.name, Math.max(0, ...r.steps.map((s) => s.nth), ...r.crashes.map((c) => c.nth)));
          if (!leaks) onResult?.(r);
        },
      },
    )
    .finally(() => progress?.end());
  let kmemleak: Batch['kmemleak'] = null;
  if (leaks) {
    const checked = await sweepAgainAfterCrashes(guest, targets, results, bootOf, call, log);
    log?.('kfault: kmemleak: scan, wait for the minimum object age, scan again');
    const k = await guest.kmemleakCheck();
    const a = attributeLeaks(checked.sweeps, k.leaks, config.kmemleak.suppress);
    for (const [i, r] of a.results.entries()) {
      // A harness whose first sweep crashed keeps its steps (the crashes among them); one swept
      // again only because another harness crashed takes the steps of its last sweep, the one
      // the leaks came from (step numbers can differ between two boots, where a cache needs a
      // new slab page in one and not in the other). Every crash of every sweep is kept.
      const base = results[i]!.crashes.length ? results[i]! : checked.sweeps[i]!;
      results[i] = { ...base, crashes: checked.crashes[i]!, leaks: r.leaks };
    }
    const why = k.why ?? (checked.unchecked.length ? `the guest crashed again in each of ${MAX_LEAK_ROUNDS} sweeps of ${checked.unchecked.join(', ')} for kmemleak, each crash taking kmemleak's state of them` : null);
    kmemleak = { enabled: k.enabled && !checked.unchecked.length, why, unattributed: a.unattributed, suppressed: a.suppressed.length, raw: k.raw };
    for (const r of results) onResult?.(r);
  }
  return {
    schema: RESULTS_SCHEMA,
    kernel: guest.kernel,
    accel: guest.accel,
    results,
    kmemleak,
    restarts: guest.restarts - restartsBefore,
    groups: groupProblems(results),
    kfault: kfaultVersion(),
    modules,
    problems: resultsProblems(results),
  };
}

const byNth = (c: Crash[]) => c.sort((a, b) => a.nth - b.nth);

/**
 * kmemleak's state dies with a crashed guest: a harness whose sweep began before the last
 * reboot is swept again in the guest now up, without the steps that crashed, until one guest
 * has run the last sweep of every harness (a sweep again that crashes makes the others stale
 * too). sweeps: the sweep of each harness the leaks will come from; crashes: every crash of
 * every sweep of it; unchecked: harnesses still stale after MAX_LEAK_ROUNDS.
 */
async function sweepAgainAfterCrashes(guest: Guest, targets: SweepTarget[], first: SweepResult[], bootOf: number[], call: SweepCall, log?: (line: string) => void) {
  const sweeps = [...first];
  const crashes: Crash[][] = first.map((r) => [...r.crashes]);
  const sweptIn = [...bootOf];
  const { onStep: _, ...quiet } = call; // a sweep again is kfault's business: no steps reported twice
  for (let round = 1; ; round++) {
    const stale = targets.flatMap((_t, i) => (sweptIn[i] === guest.restarts ? [] : [i]));
    if (!stale.length) break;
    if (round > MAX_LEAK_ROUNDS) return { sweeps, crashes: crashes.map(byNth), unchecked: stale.map((i) => targets[i]!.name) };
    for (const i of stale) {
      const t = targets[i]!;
      log?.(`kfault: ${t.name}: sweeping again for kmemleak (a crash rebooted the guest after it ran)`);
      sweptIn[i] = guest.restarts;
      const again = await guest.sweep(t.user ?? t.name, { ...quiet, skip: [...(call.skip ?? []), ...crashes[i]!.map((c) => c.nth)] });
      crashes[i]!.push(...again.crashes);
      sweeps[i] = again;
    }
  }
  return { sweeps, crashes: crashes.map(byNth), unchecked: [] as string[] };
}

/** A batch failed when any step leaked, crashed, warned or hung, or kmemleak could not check. */
export function batchFailed(b: Batch): boolean {
  return b.results.some((r) => problemsOf(r).length > 0) || (b.kmemleak !== null && !b.kmemleak.enabled);
}
