// The kfault command line.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError, formatProblems, type Config } from '../config.js';
import { GuestError } from '../guest/guest.js';
import { HarnessCompileError } from '../harness/compile.js';
import { writeHarnessTemplate } from '../harness/template.js';
import { Progress } from '../progress.js';
import { ModuleError } from '../kernel/modules.js';
import { doctor, installMissing } from '../host.js';
import { DEFAULT_KMEMLEAK_PATCH, ensureKernel } from '../kernel/build.js';
import { kernelPathProblems } from '../kernel/check-paths.js';
import { compareFailed, compareTable, leakText, parseKernelSpec } from '../compare.js';
import { harnesses } from '../addon.js';
import { readResultsFile } from '../results-file.js';
import { batchFailed, bootGuest, resolveTargets, runBatch, type Batch, type BootHooks } from '../sweep-batch.js';
import { junit } from '../reports/junit.js';
import { commandTable } from '../reports/command.js';
import { ktap } from '../reports/ktap.js';
import { mergeResults, MergeError } from '../reports/merge.js';
import { colorize, randomTable, sweepTable, totalsLine } from '../report.js';
import { functionTable } from '../reports/functions.js';
import { compactNths, groupLines, groupProblems } from '../reports/groups.js';
import { configFrom, parse, type Flags } from './args.js';
import { InitError, writeStartingConfig } from './init.js';
import { resultsProblems } from '../repro/problems.js';
import { writeRepros } from '../repro/command.js';
import { ReproError } from '../repro/generate.js';
import { checkCommandFlags, commandSweepMain } from './command-sweep.js';
import { resolveProgram } from '../command/program.js';
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
                        set once its own execve succeeded): --runs N, --probability P,
                        --interval N, --times N, --timeout MS (per run)
  command --sweep [--call NAME[:K]] -- CMD ARGS
                        sweep an unmodified program under ptrace: fail-nth 1, 2, ... on the
                        thread of the K-th call of syscall NAME (default: the first call of each
                        distinct syscall, --max-calls N of them); --timeout MS per run
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
  --profile block       the block kernel (kernel/block.config: block layer, virtio-blk, ext4,
                        fail_make_request, fail_function; its own cache entry)
  --disk SIZE[:FS]      a scratch disk for the guest (repeatable), e.g. 64M:ext4: a sparse file
                        kfault makes and removes, virtio-blk; with FS (ext4, ext3, ext2) made by
                        mke2fs and mounted at /mnt/kfault<i>; harnesses see KFAULT_DISK<i>,
                        KFAULT_MNT<i>. The ext4-* harnesses get 64M:ext4 and --profile block
                        when they are named and nothing else is given
  --accel auto|kvm|tcg  default auto: KVM when it works, TCG otherwise
  --cpus N --memory MiB the guest's size
  --max-steps N         stop a sweep after N steps (default 1000)
  --mode systematic|random|global|function
                        fail-nth 1, 2, ... (default); random: --iterations runs with
                        make-it-fail on the harness thread; global: every task, --seconds;
                        function: each injectable function a traced run of the harness
                        reaches, failed once with fail_function (--profile block)
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

/** What the command line asks to see of a boot: --print-qemu, --console, and kfault's own lines. */
function batchHooks(flags: Flags): BootHooks {
  return {
    log: err,
    onBooting: (kernel) => {
      if (process.stderr.isTTY) err(`kfault: booting ${kernel.image}`);
    },
    onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined,
    onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined,
  };
}

/** What the kmemleak check found beyond the steps' own leaks. */
function kmemleakLine(k: Batch['kmemleak']): string {
  if (!k) return 'kmemleak: not checked (kmemleak.check is off)';
  if (!k.enabled) return `kmemleak: FAILED: kmemleak is not working, so leaks were not checked: ${k.why}`;
  const extra = k.unattributed.length ? `; ${k.unattributed.length} leaks outside the sweep threads: ${leakText(k.unattributed)}` : '';
  return `kmemleak: checked after all sweeps (stacks not scanned)${k.suppressed ? `; ${k.suppressed} suppressed` : ''}${extra}`;
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
    const r = await runBatch({ ...config, kernel: side.kernel, sweep, kmemleak: { ...config.kmemleak, check: true } }, names, batchHooks(flags));
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
  const targets = resolveTargets(names).filter((t) => {
    if (t.user) throw new ConfigError([{ path: 'harness', message: `${t.name}: global mode runs catalogue harnesses only` }]);
    return true;
  });
  const { guest } = await bootGuest(config, batchHooks(flags));
  try {
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
  const r = await runBatch(config, names, {
    ...batchHooks(flags),
    onSweep: (name, about) => {
      const progress = new Progress(`sweep ${name}`);
      return { step: (s) => progress.update(`step ${s.nth}${about ? ` of about ${about}` : ''}`), end: () => progress.clear() };
    },
    onResult: (one) => {
      if (!flags.json) console.log(color(one.mode === 'random' ? randomTable(one) : one.mode === 'function' ? functionTable(one) : sweepTable(one)) + '\n');
    },
  });
  if (flags.junit) writeFileSync(flags.junit, junit(r));
  if (flags.ktap) writeFileSync(flags.ktap, ktap(r));
  if (flags.json) console.log(JSON.stringify(r, null, 2));
  else console.log(batchFooter(r, Date.now() - start));
  return batchFailed(r) ? 1 : 0;
}

/** Below the tables: one block per distinct problem, the kmemleak check, restarts, the totals. */
function batchFooter(r: Batch, ms: number): string {
  const listed = resultsProblems(r.results);
  const repro = listed.flatMap((p) => (p.reproducer ? [p.reproducer.problem] : []));
  return [
    ...groupLines(groupProblems(r.results), listed),
    // each hit of a problem has its number; as runs ("1-373"), since a bug hit at hundreds of
    // failure points made this line hundreds of numbers long. Each block above names its first hit's.
    ...(repro.length ? [`reproducers: kfault repro RESULTS.json (from --json) writes a C reproducer for each hit: ${repro.length === 1 ? 'problem' : 'problems'} ${compactNths([...new Set(repro)].sort((a, b) => a - b))}`] : []),
    kmemleakLine(r.kmemleak),
    ...(r.restarts ? [`the guest was booted again ${r.restarts} time(s) after a crash or hang`] : []),
    totalsLine(r.results, ms),
  ].join('\n');
}

/** kfault command [--runs N] [--probability P] [--interval N] [--times N] -- CMD ARGS... */
async function commandHarness(config: Config, flags: Flags, argv: string[]): Promise<number> {
  if (!argv.length) throw new ConfigError([{ path: 'argv', message: 'expected: kfault command [--runs N] [--probability P] [--interval N] [--times N] -- CMD ARGS...' }]);
  const num = (flag: 'runs' | 'probability' | 'interval' | 'times' | 'timeout', min: number, max: number, dflt: number) => {
    const v = flags[flag];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) throw new ConfigError([{ path: `--${flag}`, message: `expected a whole number from ${min} to ${max}, got '${v}'` }]);
    return n;
  };
  const o = { runs: num('runs', 1, 100_000, 10), probability: num('probability', 0, 100, 100), interval: num('interval', 1, 1_000_000, 1), times: num('times', -1, 1_000_000, 1), timeoutMs: num('timeout', 100, 3_600_000, 30_000) };
  resolveProgram(argv[0]!); // before anything boots
  const { guest } = await bootGuest(config, batchHooks(flags));
  try {
    const r = await guest.command(argv, o);
    console.log(flags.json ? JSON.stringify(r, null, 2) : commandTable(r));
    // a run in which the program did not start tested nothing: never "clean"
    return r.runs.some((x) => x.problems.length || !x.started) ? 1 : 0;
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
    for (const r of saved.results) console.log((r.mode === 'random' ? randomTable(r) : r.mode === 'function' ? functionTable(r) : sweepTable(r)) + '\n');
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
        checkCommandFlags(flags);
        if (flags.sweep) return await commandSweepMain(await configFrom(flags), flags, rest);
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
