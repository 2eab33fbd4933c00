// The kfault command line.
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { checkKernelSupports, ConfigError, formatProblems, type Config, type ConfigProblem } from '../config.js';
import { GuestError } from '../guest/guest.js';
import { attributeLeaks } from '../attribution.js';
import { compileHarness, HarnessCompileError, parseHarnessSpec } from '../harness/compile.js';
import { writeHarnessTemplate } from '../harness/template.js';
import { Progress } from '../progress.js';
import { estimatedSteps, rememberSteps } from '../step-estimates.js';
import { ModuleError, modulesFor } from '../kernel/modules.js';
import type { UserHarness } from '../guest/guest.js';
import { boot } from '../guest/boot.js';
import { doctor, installMissing } from '../host.js';
import { DEFAULT_KMEMLEAK_PATCH, ensureKernel } from '../kernel/build.js';
import { kernelPathProblems } from '../kernel/check-paths.js';
import { compareFailed, compareTable, leakText, parseKernelSpec } from '../compare.js';
import { harnesses } from '../addon.js';
import type { SweepResult } from '../protocol.js';
import { readResultsFile, RESULTS_SCHEMA, type ResultsFile } from '../results-file.js';
import { junit } from '../reports/junit.js';
import { commandTable } from '../reports/command.js';
import { ktap } from '../reports/ktap.js';
import { mergeResults, MergeError } from '../reports/merge.js';
import { colorize, problems, randomTable, sweepTable, totalsLine } from '../report.js';
import { groupLines, groupProblems } from '../reports/groups.js';
import { configFrom, parse, type Flags } from './args.js';
import { InitError, writeStartingConfig } from './init.js';
import { resultsProblems } from '../repro/problems.js';
import { kfaultVersion } from '../repro/version.js';
import { writeRepros } from '../repro/command.js';
import { ReproError } from '../repro/generate.js';
import { parseCommand } from './parse.js';
import { shellCommand } from './shell.js';
import { kernelConfig } from './kernel-config.js';

const USAGE = `usage: kfault <command> [options]

commands:
  setup                 install missing Debian packages (as root) and build the default kernel
  kernel build          build (or find in the cache) the kernel the config asks for
  kernel config         the merged .config it is (or would be) built with, and the options asked
                        for but dropped by olddefconfig (no build): --out FILE, --json
  sweep [harness...]    boot the kernel and sweep harnesses (default: the whole catalogue);
                        a harness is a catalogue name or your C file: FILE.c or FILE.c:ARG
  compare [harness...]  the same sweeps on two kernels (--a, --b), side by side
  command -- CMD ARGS   run a whole program under random injection (make-it-fail + task-filter,
                        as failcmd.sh does): --runs N, --probability P, --interval N, --times N
  shell [-- CMD ARGS]   the guest a sweep runs in (modules loaded, debugfs mounted), with a
                        shell on this terminal; with -- CMD, runs it there and exits with its
                        status (no terminal needed): --timeout SECONDS (default 600)
  report FILE...        a saved "kfault sweep --json" again (no guest): --format table|junit|
                        ktap|json; --merge joins the results of several shards
  repro FILE            a standalone C reproducer (cc, root, no kfault) for each leak, oops and
                        warning of a saved "kfault sweep --json": --out DIR (default
                        kfault-repro), --problem N for one
  parse FILE|-          the oopses, WARNINGs, KASAN reports, kmemleak records and fault-injection
                        traces of a saved console log, dmesg or /dev/kmsg dump (any machine;
                        no guest); --json
  harnesses             list the built-in harnesses
  new-harness NAME      write NAME.c, a commented starting point for your own harness
  init [--json]         write a starting kfault.config.ts (--json: kfault.config.json with
                        "$schema": "./node_modules/kfault/schema.json"); never overwrites
  doctor                say what the host lacks and how to install it

options:
  --config FILE         a config file (default: the first of ./kfault.config.ts, .mts, .mjs, .js, .json)
  --image PATH          boot a prebuilt bzImage or vmlinux
  --tree PATH           build this kernel tree instead of Debian's linux-source
  --fragment FILE       an extra Kconfig fragment (repeatable)
  --patches DIR         a patch series (DIR/series) applied to the Debian source
  --kasan               a KASAN kernel (kernel/kasan.config; its own cache entry)
  --accel auto|kvm|tcg  default auto: KVM when it works, TCG otherwise
  --cpus N --memory MiB the guest's size
  --max-steps N         stop a sweep after N steps (default 1000)
  --mode systematic|random|global
                        fail-nth 1, 2, ... (default); random: --iterations runs with
                        make-it-fail on the harness thread; global: every task, --seconds
  --probability P --interval N --times N
                        failslab and fail_page_alloc knobs (random, global, command)
  --kmemleak-filter on|off
                        keep injected faults out of kmemleak's own code (default on)
  --a SPEC, --b SPEC    compare's kernels: stock | patches:DIR | tree:PATH | image:PATH
                        (default: stock against kernel/patches/kmemleak-no-fault-inject)
  --leaks on|off        after the sweeps: kmemleak scan, wait, scan, each leak tied to its
                        step (default on)
  --module DIR|KO       a kernel module to load first: a kbuild dir (built against the
                        kernel) or a .ko built for it (repeatable)
  --json                print results as JSON (schema kfault/results@1)
  --junit FILE, --ktap FILE
                        sweep: also write the results as JUnit XML, or as KTAP
  --print-qemu          print the exact QEMU command line
  --console             echo the guest's console
  --log-dir DIR         where console logs go (default .kfault)`;

const err = (s: string) => process.stderr.write(s + '\n');

interface Target {
  name: string;
  user?: UserHarness;
}

/** Catalogue names and user harness files ("file.c" or "file.c:ARG") -> what to sweep. */
function targetsOf(names: string[]): Target[] {
  const known = harnesses().map((h) => h.name);
  const problems: ConfigProblem[] = [];
  const targets = names.map((n): Target => {
    const spec = parseHarnessSpec(n);
    if (spec) return { name: `${basename(spec.file)}${spec.arg ? `(${spec.arg})` : ''}`, user: { name: `${basename(spec.file)}${spec.arg ? `(${spec.arg})` : ''}`, library: compileHarness(spec.file), arg: spec.arg, source: resolve(spec.file) } };
    if (!known.includes(n)) problems.push({ path: 'harness', message: `unknown harness '${n}'; expected a C file (FILE.c or FILE.c:ARG) or one of: ${known.join(', ')}` });
    return { name: n };
  });
  if (problems.length) throw new ConfigError(problems);
  return targets;
}

/** What a batch of sweeps found: the results file kfault sweep --json writes. */
export type Batch = ResultsFile;

async function sweepOn(config: Config, flags: Flags, names: string[], onResult: (r: SweepResult) => void): Promise<Batch> {
  const targets = targetsOf(names);
  const kernel = await ensureKernel(config);
  const modules = await modulesFor(kernel, config.modules);
  const start = Date.now();
  if (process.stderr.isTTY) process.stderr.write(`kfault: booting ${kernel.image}\n`);
  const guest = await boot(config, {
    kernel,
    onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined,
    onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined,
  });
  const results: SweepResult[] = [];
  let kmemleak: Batch['kmemleak'] = null;
  try {
    checkKernelSupports(config.faults, await guest.faultState('capabilities'));
    if (modules.length) await guest.loadModules(modules);
    err(`kfault: guest up (${guest.kernel}, ${guest.accel}) in ${((Date.now() - start) / 1000).toFixed(1)} s; ${guest.notes.join('; ')}`);
    const all = targets.length ? targets : guest.catalogue.map((h): Target => ({ name: h.name }));
    const bootOf: number[] = [];
    for (const t of all) {
      bootOf.push(guest.restarts);
      const about = estimatedSteps(guest.kernel, t.name);
      const progress = new Progress(`sweep ${t.name}`);
      const r = await guest.sweep(t.user ?? t.name, { onStep: (s) => progress.update(`step ${s.nth}${about ? ` of about ${about}` : ''}`) });
      progress.clear();
      if (r.complete) rememberSteps(guest.kernel, t.name, Math.max(0, ...r.steps.map((s) => s.nth), ...r.crashes.map((c) => c.nth)));
      results.push(r);
      if (!config.kmemleak.check) onResult(r);
    }
    if (config.kmemleak.check) {
      // kmemleak's state dies with a crashed guest: sweeps that ran (even partly) before the
      // last reboot are swept again in this guest, without the steps that crashed, for leaks.
      const checked = [...results];
      for (const [i, t] of all.entries()) {
        if (bootOf[i] === guest.restarts) continue;
        err(`kfault: ${t.name}: sweeping again for kmemleak (a crash rebooted the guest after it ran)`);
        checked[i] = await guest.sweep(t.user ?? t.name, { skip: results[i]!.crashes.map((c) => c.nth) });
      }
      err('kfault: kmemleak: scan, wait for the minimum object age, scan again');
      const k = await guest.kmemleakCheck();
      const a = attributeLeaks(checked, k.leaks, config.kmemleak.suppress);
      for (const [i, r] of a.results.entries()) {
        // A harness swept again whose first sweep did not crash: its steps are the second
        // sweep's, the one the leaks came from (step numbers can differ between two boots, where
        // a cache needs a new slab page in one and not in the other).
        const again = checked[i] !== results[i] && results[i]!.crashes.length === 0;
        results[i] = { ...(again ? checked[i]! : results[i]!), leaks: r.leaks };
      }
      kmemleak = { enabled: k.enabled, why: k.why, unattributed: a.unattributed, suppressed: a.suppressed.length, raw: k.raw };
      for (const r of results) onResult(r);
    }
  } finally {
    await guest.close();
  }
  return { schema: RESULTS_SCHEMA, kernel: guest.kernel, accel: guest.accel, results, kmemleak, restarts: guest.restarts, groups: groupProblems(results), kfault: kfaultVersion(), modules, problems: resultsProblems(results) };
}

/** What the kmemleak check found beyond the steps' own leaks. */
function kmemleakLine(k: Batch['kmemleak']): string {
  if (!k) return 'kmemleak: not checked (kmemleak.check is off)';
  if (!k.enabled) return `kmemleak: FAILED: kmemleak is not working, so leaks were not checked: ${k.why}`;
  const extra = k.unattributed.length ? `; ${k.unattributed.length} leaks outside the sweep threads: ${leakText(k.unattributed)}` : '';
  return `kmemleak: checked after all sweeps (stacks not scanned)${k.suppressed ? `; ${k.suppressed} suppressed` : ''}${extra}`;
}

/** Exit status of a batch: 1 when any step leaked, crashed, warned or hung, or kmemleak failed. */
export function batchFailed(b: Batch): boolean {
  return b.results.some((r) => problems(r).length > 0) || (b.kmemleak !== null && !b.kmemleak.enabled);
}

async function compare(config: Config, flags: Flags, names: string[]): Promise<number> {
  const a = parseKernelSpec(flags.a ?? 'stock', config.kernel, '--a');
  const b = parseKernelSpec(flags.b ?? `patches:${DEFAULT_KMEMLEAK_PATCH}`, config.kernel, '--b');
  // both kernels checked before the first is swept (a typo in --b must not cost a stock sweep)
  const wrong = [a, b].flatMap((side, i) => kernelPathProblems(side.kernel).map((p) => ({ path: i ? '--b' : '--a', message: p.message })));
  if (wrong.length) throw new ConfigError(wrong);
  // Kernels are compared as they are: without kfault's kmemleak filter unless asked for.
  const sweep = { ...config.sweep, kmemleakFilter: flags['kmemleak-filter'] === 'on' };
  const sides = [];
  for (const side of [a, b]) {
    err(`kfault: sweeping on ${side.label}`);
    const r = await sweepOn({ ...config, kernel: side.kernel, sweep, kmemleak: { ...config.kmemleak, check: true } }, flags, names, () => {});
    const leaks = r.kmemleak?.enabled ? [...r.results.flatMap((x) => x.leaks.map((l) => l.leak)), ...r.kmemleak.unattributed] : null;
    sides.push({ label: side.label, kernel: r.kernel, results: r.results, leaks });
  }
  if (flags.json) console.log(JSON.stringify(sides, null, 2));
  else console.log(compareTable(sides[0]!, sides[1]!));
  return compareFailed(sides[0]!, sides[1]!) ? 1 : 0;
}

async function kernelBuild(config: Config): Promise<number> {
  const k = await ensureKernel(config);
  console.log(`${k.image}${k.origin === 'cache' ? ' (cached)' : ''}`);
  return 0;
}

/** sweep.mode global: every task may fail, for sweep.seconds, while each harness loops. */
/** The injectors a random or global run drives: always the allocators, and those the config names. */
function injectorsNamed(config: Config): string {
  const opt = (['fail_usercopy', 'fail_futex'] as const).filter((i) => config.faults[i] !== undefined);
  return ['failslab', 'fail_page_alloc', ...opt].join(', ').replace(/, ([^,]+)$/, ' and $1');
}

async function globalMode(config: Config, flags: Flags, names: string[]): Promise<number> {
  const targets = targetsOf(names).filter((t) => {
    if (t.user) throw new ConfigError([{ path: 'harness', message: `${t.name}: global mode runs catalogue harnesses only` }]);
    return true;
  });
  const kernel = await ensureKernel(config);
  const guest = await boot(config, { kernel, onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined });
  try {
    checkKernelSupports(config.faults, await guest.faultState('capabilities'));
    const out = [];
    for (const t of targets.length ? targets : [{ name: 'pipe2' }]) {
      const r = await guest.stress(t.name, config.sweep.seconds);
      out.push(r);
      if (!flags.json) {
        console.log(`${r.harness}: global injection (${injectorsNamed(config)} in every task) for ${r.seconds.toFixed(1)} s: ${r.runs} runs, ${r.failed} failed; kmemleak ${r.kmemleakEnabledAfter ? 'still enabled' : 'DISABLED'}${r.kmemleakLog.length ? `: ${r.kmemleakLog.join('; ')}` : ''}`);
      }
    }
    if (flags.json) console.log(JSON.stringify(out, null, 2));
    return out.some((r) => r.kmemleakEnabledBefore && !r.kmemleakEnabledAfter) ? 1 : 0;
  } finally {
    await guest.close();
  }
}

async function sweep(config: Config, flags: Flags, names: string[]): Promise<number> {
  if (config.sweep.mode === 'global') return globalMode(config, flags, names);
  const start = Date.now();
  const color = process.stdout.isTTY && !process.env.NO_COLOR ? colorize : (t: string) => t;
  const r = await sweepOn(config, flags, names, (one) => {
    if (!flags.json) console.log(color(one.mode === 'random' ? randomTable(one) : sweepTable(one)) + '\n');
  });
  if (flags.junit) writeFileSync(flags.junit, junit(r));
  if (flags.ktap) writeFileSync(flags.ktap, ktap(r));
  if (flags.json) console.log(JSON.stringify(r, null, 2));
  else console.log(batchFooter(r, Date.now() - start));
  return batchFailed(r) ? 1 : 0;
}

/** Below the tables: one block per distinct problem, the kmemleak check, restarts, the totals. */
function batchFooter(r: Batch, ms: number): string {
  const repro = resultsProblems(r.results).flatMap((p) => (p.reproducer ? [p.reproducer.problem] : []));
  return [
    ...groupLines(groupProblems(r.results)),
    ...(repro.length ? [`reproducers: kfault repro RESULTS.json (from --json) writes a C reproducer for each of problems ${repro.join(', ')}`] : []),
    kmemleakLine(r.kmemleak),
    ...(r.restarts ? [`the guest was booted again ${r.restarts} time(s) after a crash or hang`] : []),
    totalsLine(r.results, ms),
  ].join('\n');
}

/** kfault command [--runs N] [--probability P] [--interval N] [--times N] -- CMD ARGS... */
async function commandHarness(config: Config, flags: Flags, argv: string[]): Promise<number> {
  if (!argv.length) throw new ConfigError([{ path: 'argv', message: 'expected: kfault command [--runs N] [--probability P] [--interval N] [--times N] -- CMD ARGS...' }]);
  const num = (flag: 'runs' | 'probability' | 'interval' | 'times', min: number, max: number, dflt: number) => {
    const v = flags[flag];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) throw new ConfigError([{ path: `--${flag}`, message: `expected a whole number from ${min} to ${max}, got '${v}'` }]);
    return n;
  };
  const o = { runs: num('runs', 1, 100_000, 10), probability: num('probability', 0, 100, 100), interval: num('interval', 1, 1_000_000, 1), times: num('times', -1, 1_000_000, 1) };
  const kernel = await ensureKernel(config);
  const modules = await modulesFor(kernel, config.modules);
  const guest = await boot(config, { kernel, onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined });
  try {
    if (modules.length) await guest.loadModules(modules);
    const r = await guest.command(argv, o);
    console.log(flags.json ? JSON.stringify(r, null, 2) : commandTable(r));
    return r.runs.some((x) => x.problems.length) ? 1 : 0;
  } finally {
    await guest.close();
  }
}

/** kfault report FILE... [--merge] [--format table|junit|ktap|json]: offline, no guest. */
function report(flags: Flags, files: string[]): number {
  if (!files.length) throw new ConfigError([{ path: 'argv', message: 'expected: kfault report RESULTS.json... (from kfault sweep --json)' }]);
  if (files.length > 1 && !flags.merge) throw new ConfigError([{ path: 'argv', message: `${files.length} results files: add --merge to join shards into one report` }]);
  const format = flags.format ?? 'table';
  if (!['table', 'junit', 'ktap', 'json'].includes(format)) throw new ConfigError([{ path: '--format', message: `expected table, junit, ktap or json, got '${format}'` }]);
  const saved = mergeResults(files.map((path) => ({ path, file: readResultsFile(path) })));
  if (format === 'junit') process.stdout.write(junit(saved));
  else if (format === 'ktap') process.stdout.write(ktap(saved));
  else if (format === 'json') console.log(JSON.stringify(saved, null, 2));
  else {
    for (const r of saved.results) console.log(sweepTable(r) + '\n');
    console.log(batchFooter(saved, saved.results.reduce((ms, r) => ms + r.ms, 0)));
    console.log(`kernel ${saved.kernel} (${saved.accel})`);
  }
  return 0;
}

/** kfault repro RESULTS.json [--out DIR] [--problem N]: offline, no guest. */
function repro(flags: Flags, files: string[]): number {
  if (files.length !== 1) throw new ConfigError([{ path: 'argv', message: 'expected: kfault repro RESULTS.json [--out DIR] [--problem N] (from kfault sweep --json)' }]);
  const only = flags.problem === undefined ? undefined : Number(flags.problem);
  if (only !== undefined && !(Number.isInteger(only) && only > 0)) throw new ConfigError([{ path: '--problem', message: `expected a problem number, got '${flags.problem}'` }]);
  const written = writeRepros(readResultsFile(files[0]!), files[0]!, flags.out ?? 'kfault-repro', only);
  for (const w of written) {
    console.log(`problem ${w.id}: ${w.harness} nth=${w.nth}: ${w.kind}: ${w.text}`);
    console.log(`  wrote ${w.source}`);
    console.log(w.program ? `  built ${w.program} (${w.build}); run it as root: ${w.program} --yes-inject` : `  NOT BUILT (${w.build}): ${w.buildError}`);
  }
  return written.every((w) => w.program) ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values: flags, positionals } = parse(argv);
    const [command, ...rest] = positionals;
    if (flags.help || !command) {
      console.log(USAGE);
      return command || flags.help ? 0 : 2;
    }
    switch (command) {
      case 'doctor': {
        const lines = doctor((await configFrom(flags)).kernel.source);
        for (const l of lines) console.log(l.text);
        return lines.every((l) => l.ok) ? 0 : 1;
      }
      case 'new-harness': {
        if (!rest[0]) throw new ConfigError([{ path: 'argv', message: 'expected: kfault new-harness NAME' }]);
        const file = writeHarnessTemplate(rest[0]);
        console.log(`wrote ${file}; sweep it with: npx kfault sweep ${file}`);
        return 0;
      }
      case 'init': {
        const file = writeStartingConfig(process.cwd(), flags.json === true);
        console.log(`wrote ${basename(file)}`);
        return 0;
      }
      case 'harnesses':
        for (const h of harnesses()) console.log(`${h.name.padEnd(16)} ${h.syscall.padEnd(18)} ${h.summary}`);
        return 0;
      case 'setup': {
        const config = await configFrom(flags);
        if (!installMissing(config.kernel.image ? undefined : config.kernel.source, err)) return 1;
        return await kernelBuild(config);
      }
      case 'kernel':
        if (rest[0] === 'config') return await kernelConfig(await configFrom(flags), { out: flags.out, json: flags.json === true });
        if (rest[0] !== 'build') throw new ConfigError([{ path: 'argv', message: `unknown kernel command '${rest[0] ?? ''}'; expected: kernel build, kernel config` }]);
        return await kernelBuild(await configFrom(flags));
      case 'sweep': {
        const config = await configFrom(flags);
        return await sweep(config, flags, rest.length ? rest : config.harnesses);
      }
      case 'report':
        return report(flags, rest);
      case 'repro':
        return repro(flags, rest);
      case 'parse':
        return parseCommand(rest, flags.json === true);
      case 'shell':
        return await shellCommand(await configFrom(flags), flags, rest);
      case 'command':
        // --probability/--interval/--times are the command's own (make-it-fail runs), not a sweep's knobs
        return await commandHarness(await configFrom({ ...flags, probability: undefined, interval: undefined, times: undefined }), flags, rest);
      case 'compare': {
        const config = await configFrom(flags);
        return await compare(config, flags, rest.length ? rest : config.harnesses);
      }
      default:
        throw new ConfigError([{ path: 'argv', message: `unknown command '${command}'; expected one of: setup, kernel build, kernel config, sweep, compare, command, shell, report, repro, parse, harnesses, new-harness, init, doctor` }]);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return e.exitCode;
    }
    if (e instanceof GuestError && e.code === 'KFAULT_CONFIG') {
      err(formatProblems(e.message.split('\n').map((l) => ({ path: l.split(': ')[0]!, message: l.split(': ').slice(1).join(': ') }))));
      return 2;
    }
    if (e instanceof HarnessCompileError || e instanceof ModuleError || e instanceof MergeError || e instanceof InitError || e instanceof ReproError) {
      err(e.message);
      return 2;
    }
    err(`kfault: ${(e as Error).message}`);
    return 1;
  }
}
