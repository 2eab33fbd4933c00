// `kfault repro`: one standalone C reproducer for one problem of a results file (a harness, the
// nth of the step that showed the problem, its kind), built with cc and run as root on any kernel
// with fault injection. The driver is src/repro/repro-template.c; this fills it in.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { allocatedAt } from '../attribution.js';
import { FAIL_NTH_SETTINGS, optInSettings } from '../guest/faults.js';
import { INJECTOR_NAMES, knobSettings, type FaultsConfig, type SymbolRange } from '../fault-knobs.js';
import { kernelCmdline } from '../guest/qemu.js';
import { packageRoot } from '../paths.js';
import type { SweepResult } from '../protocol.js';
import type { ResultsFile } from '../results-file.js';
import { builtinHarnessC, kmsgReaderC } from './c-extract.js';
import { notReproducible, reproFileName, resultsProblems, type ReproKind } from './problems.js';

export const TEMPLATE = join(packageRoot, 'src/repro/repro-template.c');
export const FRAGMENT = join(packageRoot, 'kernel/kfault.config');

export class ReproError extends Error {}

/** A problem to reproduce: a sweep of the results, the nth of its step, and what went wrong. */
export interface ReproTarget {
  id: number;
  result: SweepResult;
  nth: number;
  kind: ReproKind;
  text: string;
}

/** The problems of a results file a reproducer can be written for, numbered as the file's
 * `problems[].reproducer.problem` (computed again for files written before that field). */
export function reproTargets(file: ResultsFile): ReproTarget[] {
  const listed = file.problems.length ? file.problems : resultsProblems(file.results);
  const out: ReproTarget[] = [];
  for (const p of listed) {
    if (!p.reproducer || p.nth === null) continue;
    const result = file.results.find((r) => r.harness === p.harness);
    if (!result) throw new ReproError(`problem ${p.reproducer.problem}: no sweep of ${p.harness} in the results`);
    out.push({ id: p.reproducer.problem, result, nth: p.nth, kind: p.kind as ReproKind, text: p.text });
  }
  return out;
}

/** A C string literal. */
export function cString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}\"\"`)}"`;
}
const cStrOrNull = (s: string | null | undefined) => (s === null || s === undefined ? 'NULL' : cString(s));

/** Text for inside a C block comment. */
const commentSafe = (s: string) => s.replace(/\*\//g, '* /');

/** "kfault_test_alloc+0xe/0x20 [kfault_test]" -> "kfault_test_alloc" */
const fnOf = (frame: string) => frame.split('+')[0]!.trim();

export interface Setting {
  path: string;
  value: string;
  /** write only when this file exists */
  cond: string | null;
}

export interface InjectorPlan {
  /** the mode's settings, then the kmemleak filter, then the user's knobs: kfault's order */
  base: Setting[];
  user: Setting[];
  ranges: Array<{ injector: string; kind: 'require' | 'reject'; first: string; last: string }>;
}

/** The debugfs settings of a systematic sweep, as src/guest/agent.ts makes them, with symbol
 * ranges left as names (the reproducer resolves them in /proc/kallsyms). */
export function injectorPlan(faults: FaultsConfig): InjectorPlan {
  const named = (inj: string) => faults[inj as keyof FaultsConfig] !== undefined;
  const base: Setting[] = Object.entries(FAIL_NTH_SETTINGS).map(([path, value]) => ({ path, value, cond: null }));
  // where the kernel has the filter files (an injector the config does not name takes no steps)
  for (const [path, value] of Object.entries(optInSettings(named, () => true))) {
    const inj = path.split('/')[0]!;
    base.push({ path, value, cond: named(inj) ? null : `${inj}/stacktrace-depth` });
  }
  if (faults.fail_function) throw new ReproError('faults.fail_function: kfault repro does not write fail_function knobs yet');
  const ranges: InjectorPlan['ranges'] = [];
  const plain: Record<string, Record<string, unknown>> = {};
  for (const inj of INJECTOR_NAMES) {
    const knobs = faults[inj] as Record<string, unknown> | undefined;
    if (!knobs) continue;
    const { require, reject, ...rest } = knobs as { require?: SymbolRange; reject?: SymbolRange };
    plain[inj] = rest;
    for (const [kind, r] of [['require', require], ['reject', reject]] as const) {
      if (r === undefined) continue;
      const [first, last] = typeof r === 'string' ? [r, r] : r;
      ranges.push({ injector: inj, kind, first, last });
    }
  }
  const user = knobSettings(plain as FaultsConfig, () => 'no ranges here').settings;
  return { base, user: Object.entries(user).map(([path, value]) => ({ path, value, cond: null })), ranges };
}

/** The options of kfault's kernel fragment that fault injection, kmemleak and their reports need. */
export function fragmentOptions(fragment = readFileSync(FRAGMENT, 'utf8'), modules = false): string[] {
  const matters = /^(?:# )?CONFIG_(DEBUG_KERNEL|DEBUG_FS|KALLSYMS\w*|STACKTRACE|FRAME_POINTER|UNWINDER_FRAME_POINTER|FAULT_INJECTION\w*|FAIL\w+|DEBUG_KMEMLEAK\w*|KASAN\w*|MODULES|MODULE_UNLOAD)\b/;
  return fragment.split('\n').filter((l) => matters.test(l) && (modules || !/CONFIG_MODULE/.test(l)));
}

function expectations(t: ReproTarget) {
  const step = t.result.steps.find((s) => s.nth === t.nth);
  const site = step?.fault?.callSite ? [step.fault.callSite, step.fault.caller].filter(Boolean).join(' <- ') : null;
  const crash = t.result.crashes.find((c) => c.nth === t.nth);
  const leaks = t.result.leaks.filter((l) => l.nth === t.nth).map((l) => l.leak);
  const at = leaks.length ? allocatedAt(leaks[0]!) : null;
  let fn: string | null = null;
  let headline = t.text;
  if (t.kind === 'warning') fn = /(?:^|\s)([\w.]+)\+0x[0-9a-f]+/.exec(t.text.replace(/^.*? at \S+ /, ''))?.[1] ?? null;
  if (t.kind === 'oops' || t.kind === 'panic') {
    headline = crash?.headline ?? t.text.replace(/ at \S+(?: \[\S+\])?$/, '');
    fn = crash?.at ? fnOf(crash.at) : null;
  }
  return {
    site,
    leak: at,
    leakSite: at && at !== '?' ? fnOf(at.split(' <- ')[0]!) : null,
    leakCaller: at?.includes(' <- ') ? at.split(' <- ')[1]! : null,
    headline,
    fn,
    errno: step?.errno ?? null,
  };
}

export interface Repro {
  file: string;
  text: string;
  build: string;
}

/** The reproducer's C text for one problem. */
export function generateRepro(file: ResultsFile, t: ReproTarget, o: { resultsPath: string; template?: string; fragment?: string }): Repro {
  const r = t.result;
  const why = notReproducible(r, t);
  if (why) throw new ReproError(`problem ${t.id}: ${why}`);
  const setup = r.setup;
  const faults: FaultsConfig = setup?.faults ?? {};
  const plan = injectorPlan(faults);
  const e = expectations(t);
  const user = r.library !== null;
  const moduleNames = file.modules.map((m) => basename(m.path, '.ko').replace(/-/g, '_'));
  let harness: string;
  let harnessNote: string;
  if (user) {
    const source = setup?.source ?? null;
    if (!source) throw new ReproError(`problem ${t.id}: ${r.harness} is a user's harness, and these results (written by an older kfault) do not carry its C file: sweep it again`);
    harness = userHarnessC(source.text, source.path, r.arg ?? '');
    harnessNote = `${source.path}, compiled in below, with the argument ${JSON.stringify(r.arg ?? '')}`;
  } else {
    harness = builtinHarnessSection(r.harness);
    harnessNote = `the built-in harness ${r.harness} (${r.summary}), its code taken from kfault's native/harnesses.c`;
  }
  const libs = [/#\s*include\s*<pthread\.h>/.test(harness) ? '-pthread' : '', /#\s*include\s*<dlfcn\.h>/.test(harness) ? '-ldl' : ''].filter(Boolean);
  const name = reproFileName(t.id, r.harness, t.nth, t.kind);
  const exe = name.replace(/\.c$/, '');
  const build = ['cc', '-O2', '-o', exe, name, ...libs].join(' ');
  const filterWanted = setup ? setup.kmemleakFilter : true;
  const kmemleakWhy = setup ? setup.kmemleakTextWhy || (setup.kmemleakFilter ? '' : 'turned off (kmemleakFilter: false)') : 'these results (written by an older kfault) do not name kmemleak\'s functions';
  const extraCmdline = setup?.cmdline ?? ['kasan.stacktrace=off'];
  const guestParams = kernelCmdline({ init: '/init', cmdline: extraCmdline }).split(' ').filter((p) => !/^(console|root|rootfstype|rootflags|ro|init)(=|$)/.test(p));
  const template = o.template ?? readFileSync(TEMPLATE, 'utf8');
  const title = `${r.harness} nth=${t.nth}: ${t.kind}: ${t.text}`;
  const settingLines = [
    ...plan.base.map((s) => `${s.path} = ${s.value}${s.cond ? ` (where ${s.cond} exists)` : ''}`),
    'fail_page_alloc reject-start/-end = allocate_slab or new_slab (slab refills are not counted points, as in the sweep; unless a fail_page_alloc reject range is set)',
    ...(filterWanted ? [`failslab reject-start/-end = kmemleak's text${setup?.kmemleakText ? `, ${setup.kmemleakText[0]} .. ${setup.kmemleakText[1]}` : ''} (kfault's kmemleak filter, when kmemleak is on; fail_page_alloc too when the refill range is not set)`] : []),
    ...plan.user.map((s) => `${s.path} = ${s.value} (the sweep's config)`),
    ...plan.ranges.map((x) => `${x.injector}/${x.kind}-start/-end = ${x.first} .. ${x.last} (the sweep's config)`),
  ];
  const header = [
    `/*`,
    ` * kfault reproducer ${t.id}: ${title}`,
    ` *`,
    ` * Found by kfault ${file.kfault} on Linux ${file.kernel} (${file.accel}): a systematic fail-nth sweep of`,
    ` * ${harnessNote}.`,
    ` * The ${ordinal(t.nth)} fault-injection point the harness reached failed${e.errno ? ` (the call returned ${e.errno})` : ''}${e.site ? `, at ${e.site}` : ''}.`,
    ...(t.kind === 'leak' && e.leak ? [` * kmemleak then reported the object allocated at ${e.leak}.`] : []),
    ` *`,
    ` * Build:  ${build}`,
    ` * Run, as root, on a test machine or VM (it injects faults into the running kernel):`,
    ...moduleNames.map((m) => ` *   insmod ${m}.ko      (the module the sweep loaded; the reproducer does not load it)`),
    ` *   ./${exe} --yes-inject`,
    ` * Without --yes-inject it only warns and exits (unless the kernel command line has kfault.guest=1,`,
    ` * as in kfault's own guests). --nth N arms another failure point; --from K arms K..N in turn.`,
    ` * Exit status: 1 the problem reproduced, 0 it did not, 2 refused or usage, 3 a setup error.`,
    ` *`,
    ` * What it does, as kfault did in its sweep: saves and then sets the fault-injection settings`,
    ` * below (restored on exit), stops kmemleak's scan thread${t.kind === 'leak' ? ' and clears its list' : ''}, runs the harness in a`,
    ` * child process pinned to one CPU: setup, one unarmed run, then fail-nth=${t.nth} written to`,
    ` * /proc/thread-self/fail-nth around one run (thread named kf#${t.nth}), read back, 0 written; teardown.`,
    ...(t.kind === 'leak'
      ? [` * Then kmemleak: stack=off, scan, wait until the step's objects are 5 s old, stack=off, scan, and`, ` * the report (/sys/kernel/debug/kmemleak), searched for an object of comm kf#${t.nth} allocated at the same site.`]
      : [` * Then the kernel log of the step, searched for the same ${t.kind === 'warning' ? 'WARNING' : 'oops title'}.`]),
    ` *`,
    ` * Fault-injection settings (debugfs, /sys/kernel/debug), in the order kfault wrote them:`,
    ...settingLines.map((l) => ` *   ${l}`),
    ` * Symbol ranges are given by function names and resolved at run time in /proc/kallsyms.`,
    ` *`,
    ` * Kernel config: the options of kfault's fragment (kernel/kfault.config) that matter here:`,
    ...fragmentOptions(o.fragment, moduleNames.length > 0).map((l) => ` *   ${l}`),
    ` * kfault's guests boot with: ${guestParams.join(' ')}`,
    ` * (with oops=panic an oops takes the machine down at once; without it this program reports it).`,
    ` *`,
    ` * Regenerate: kfault repro ${basename(o.resultsPath)} --problem ${t.id}`,
  ]
    .map(commentSafe)
    .concat(' */')
    .join('\n');
  const data = [
    `static const char kfr_title[] = ${cString(`reproducer ${t.id}: ${title}`)};`,
    `static const char kfr_kernel[] = ${cString(file.kernel)};`,
    `static const char kfr_harness_name[] = ${cString(r.harness)};`,
    `static const int kfr_nth = ${t.nth};`,
    `static const int kfr_is_leak = ${t.kind === 'leak' ? 1 : 0};`,
    `static const int kfr_is_warning = ${t.kind === 'warning' ? 1 : 0};`,
    `static const struct kfr_setting kfr_settings[] = {`,
    ...plan.base.map((s) => `\t{ ${cString(s.path)}, ${cString(s.value)}, ${cStrOrNull(s.cond)} },`),
    `\t{ NULL, NULL, NULL }`,
    `};`,
    `static const struct kfr_setting kfr_user_settings[] = {`,
    ...plan.user.map((s) => `\t{ ${cString(s.path)}, ${cString(s.value)}, NULL },`),
    `\t{ NULL, NULL, NULL }`,
    `};`,
    `static const struct kfr_range kfr_ranges[] = {`,
    ...plan.ranges.map((x) => `\t{ ${cString(x.injector)}, ${cString(x.kind)}, ${cString(x.first)}, ${cString(x.last)} },`),
    `\t{ NULL, NULL, NULL, NULL }`,
    `};`,
    `static const int kfr_kmemleak_filter_wanted = ${filterWanted ? 1 : 0};`,
    `static const char *const kfr_kmemleak_filter_why = ${cString(kmemleakWhy)};`,
    `static const char *const kfr_kmemleak_first = ${cStrOrNull(setup?.kmemleakText?.[0])};`,
    `static const char *const kfr_kmemleak_last = ${cStrOrNull(setup?.kmemleakText?.[1])};`,
    `static const char *const kfr_modules[] = { ${[...moduleNames.map(cString), 'NULL'].join(', ')} };`,
    `static const char *const kfr_expected_site = ${cStrOrNull(e.site)};`,
    `static const char *const kfr_expected_leak = ${cStrOrNull(e.leak)};`,
    `static const char *const kfr_leak_site = ${cStrOrNull(e.leakSite)};`,
    `static const char *const kfr_leak_caller = ${cStrOrNull(e.leakCaller)};`,
    `static const char *const kfr_expected_problem = ${cString(e.headline)};`,
    `static const char *const kfr_problem_function = ${cStrOrNull(e.fn)};`,
  ].join('\n');
  if (t.kind === 'warning' && !e.fn) throw new ReproError(`problem ${t.id}: cannot tell which function warned in "${t.text}"`);
  if (t.kind === 'leak' && !e.leakSite) throw new ReproError(`problem ${t.id}: the leak's allocation site is unknown`);
  const marker = (m: string) => {
    if (!template.includes(`/*@@${m}@@*/`)) throw new ReproError(`${TEMPLATE}: no /*@@${m}@@*/ marker`);
  };
  marker('HARNESS');
  marker('DATA');
  marker('KMSG');
  // the template's own opening comment is about the template
  const driver = template.replace(/^\/\*[\s\S]*?\*\/\n/, '');
  const text = `${header}\n#define _GNU_SOURCE\n` + driver.replace('/*@@HARNESS@@*/', () => harness).replace('/*@@DATA@@*/', () => data).replace('/*@@KMSG@@*/', () => kmsgReaderC());
  return { file: name, text, build };
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${s}`;
}

/** A built-in harness and the four calls the driver makes, through sweep.c's reset_ctx/release. */
function builtinHarnessSection(name: string): string {
  return `${builtinHarnessC(name)}
/* the driver's calls, as native/sweep.c makes them */
static struct kf_ctx kfr_ctx;

static void kfr_harness_reset(const char *dir)
{
	reset_ctx(&kfr_ctx, &kfr_h, dir);
}

static int kfr_harness_setup(const char *dir)
{
	int ret;

	kfr_harness_reset(dir);
	ret = kfr_h.setup ? kfr_h.setup(&kfr_ctx) : 0;
	kfr_harness_reset(dir);
	return ret;
}

static int kfr_harness_run(const char *dir)
{
	(void)dir;
	return kfr_h.run(&kfr_ctx);
}

static void kfr_harness_release(const char *dir)
{
	release(&kfr_h, &kfr_ctx);
	kfr_harness_reset(dir);
}

static void kfr_harness_teardown(const char *dir)
{
	kfr_harness_reset(dir);
	if (kfr_h.teardown)
		kfr_h.teardown(&kfr_ctx);
}
`;
}

/** A user's harness file, compiled in, and the driver's calls: kfault_run(arg) and the optional
 * kfault_setup(arg) / kfault_teardown(arg), as kfault's dlopen trampolines (native/user.c) call them. */
export function userHarnessC(source: string, path: string, arg: string): string {
  const defines = (fn: string) => new RegExp(`\\b${fn}\\s*\\([^)]*\\)\\s*\\{`).test(source);
  return `/* ---- the harness: ${commentSafe(path)} ---- */
${source.replace(/\s+$/, '')}
/* ---- end of ${commentSafe(basename(path))} ---- */

/* kfault's harness interface: kfault_run(arg), and kfault_setup(arg) and kfault_teardown(arg) when the file has them */
static const char kfr_arg[] = ${cString(arg)};

static int kfr_harness_setup(const char *dir)
{
	(void)dir;
	return ${defines('kfault_setup') ? 'kfault_setup(kfr_arg)' : '0'};
}

static int kfr_harness_run(const char *dir)
{
	(void)dir;
	return kfault_run(kfr_arg);
}

static void kfr_harness_release(const char *dir)
{
	(void)dir;
}

static void kfr_harness_teardown(const char *dir)
{
	(void)dir;${defines('kfault_teardown') ? '\n\tkfault_teardown(kfr_arg);' : ''}
}
`;
}
