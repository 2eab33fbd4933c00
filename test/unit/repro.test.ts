// kfault repro without a guest: what goes into a reproducer, taken from kfault's own sources and
// from the results; every reproducer compiles cleanly. (Running them is test/integration/repro.test.ts.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { harnesses } from '../../src/addon.js';
import { FAIL_NTH_SETTINGS } from '../../src/guest/faults.js';
import { ResultsFile } from '../../src/results-file.js';
import { builtinHarnessC, catalogueEntry, topLevelItems } from '../../src/repro/c-extract.js';
import { fragmentOptions, generateRepro, injectorPlan, reproTargets, ReproError } from '../../src/repro/generate.js';
import { resultsProblems } from '../../src/repro/problems.js';
import { kmemleakSymbols } from '../../src/repro/setup.js';

const fixture = new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url).pathname;
const harnessC = new URL('../fixtures/kfault-test-module/harness.c', import.meta.url).pathname;
const nativeHarnesses = readFileSync(new URL('../../native/harnesses.c', import.meta.url), 'utf8');
const old = () => ResultsFile.parse(JSON.parse(readFileSync(fixture, 'utf8')));

/** The fixture as a current kfault writes it: each sweep's setup, the module. */
function current(): ResultsFile {
  const f = old();
  for (const r of f.results) {
    r.setup = {
      faults: {},
      kmemleakFilter: true,
      kmemleakText: ['__pfx_kmemleak_first', 'kmemleak_last'],
      kmemleakTextWhy: '',
      source: r.library ? { path: harnessC, text: readFileSync(harnessC, 'utf8') } : null,
      cmdline: ['kasan.stacktrace=off'],
    };
  }
  f.modules = [{ path: '/cache/modules/kfault_test.ko', params: '' }];
  f.problems = resultsProblems(f.results);
  return f;
}

function compile(text: string): { status: number | null; stderr: string } {
  const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-x', 'c', '-o', '/dev/null', '-'], { input: text, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('a built-in harness, taken from native/harnesses.c', () => {
  it('holds the harness functions and what they use, as the source has them, and nothing else', () => {
    const c = builtinHarnessC('open');
    const fn = (name: string) => topLevelItems(nativeHarnesses).find((i) => i.name === name)!.text;
    for (const name of ['open_setup', 'open_run', 'open_undo', 'open_teardown', 'open_fresh_dir', 'keep_fd', 'OPEN_DIR']) expect(c).toContain(fn(name));
    expect(c).not.toContain('pipe2_run');
    expect(c).not.toContain('kf_harnesses[]');
    expect(c).toContain(`static const struct kf_harness kfr_h = ${catalogueEntry(nativeHarnesses, 'open')!.text};`);
    expect(c).toMatch(/static void reset_ctx\(struct kf_ctx \*c, const struct kf_harness \*h, const char \*dir\)/);
  });

  it('every harness of the catalogue makes a reproducer that compiles with -Wall -Wextra -Werror', { timeout: 120_000 }, () => {
    const f = current();
    const base = f.results.find((r) => r.harness === 'pipe2')!;
    const names = harnesses().map((h) => h.name);
    expect(names.length).toBeGreaterThan(10);
    for (const h of harnesses()) {
      const result = { ...base, harness: h.name, summary: h.summary };
      const g = generateRepro(f, { id: 1, result, nth: 1, kind: 'warning', text: 'WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2' }, { resultsPath: 'r.json' });
      const c = compile(g.text);
      expect(c.stderr, h.name).toBe('');
      expect(c.status, h.name).toBe(0);
    }
  });
});

describe("the results' problems and their reproducers", () => {
  it('each leak, oops and warning of a systematic sweep gets a reproducer; numbers follow them', () => {
    const p = resultsProblems(old().results);
    expect(p.map((x) => [x.harness, x.nth, x.kind, x.reproducer])).toEqual([
      ['harness.c(leak)', 3, 'leak', { problem: 1, file: 'repro-1-harness.c-leak-leak-nth3.c', command: 'kfault repro RESULTS.json --problem 1' }],
      ['harness.c(oops)', 2, 'oops', { problem: 2, file: 'repro-2-harness.c-oops-oops-nth2.c', command: 'kfault repro RESULTS.json --problem 2' }],
      ['harness.c(warn)', 2, 'warning', { problem: 3, file: 'repro-3-harness.c-warn-warning-nth2.c', command: 'kfault repro RESULTS.json --problem 3' }],
    ]);
  });

  it('a results file written before these fields still reads, with defaults', () => {
    const f = old();
    expect(f).toMatchObject({ kfault: 'unknown', modules: [], problems: [] });
    expect(f.results.every((r) => r.setup === null)).toBe(true);
    expect(reproTargets(f).map((t) => [t.id, t.result.harness, t.nth, t.kind])).toEqual([
      [1, 'harness.c(leak)', 3, 'leak'],
      [2, 'harness.c(oops)', 2, 'oops'],
      [3, 'harness.c(warn)', 2, 'warning'],
    ]);
  });

  it("an old file without the user's harness source: a clear error, not a guess", () => {
    const f = old();
    expect(() => generateRepro(f, reproTargets(f)[0]!, { resultsPath: 'old.json' })).toThrow(ReproError);
    expect(() => generateRepro(f, reproTargets(f)[0]!, { resultsPath: 'old.json' })).toThrow(/do not carry its C file: sweep it again/);
  });
});

describe("a user's harness reproducer", () => {
  const f = current();
  const [leak, oops, warn] = reproTargets(f);
  const g = generateRepro(f, leak!, { resultsPath: '/somewhere/results.json' });

  it("compiles the user's file in, verbatim, with its argument, and builds with plain cc -O2", () => {
    expect(g.text).toContain(readFileSync(harnessC, 'utf8').trimEnd());
    expect(g.text).toContain('static const char kfr_arg[] = "leak";');
    expect(g.build).toBe('cc -O2 -o repro-1-harness.c-leak-leak-nth3 repro-1-harness.c-leak-leak-nth3.c');
    for (const t of [leak!, oops!, warn!]) expect(compile(generateRepro(f, t, { resultsPath: 'r.json' }).text)).toEqual({ status: 0, stderr: '' });
  });

  it('says in its header: kernel, kfault, build and run commands, the module, the config options that matter', () => {
    const header = g.text.slice(0, g.text.indexOf(' */') + 3);
    expect(header).toContain('on Linux 6.12.117 (tcg)');
    expect(header).toContain('Found by kfault unknown');
    expect(header).toContain(' * Build:  cc -O2 -o repro-1-harness.c-leak-leak-nth3 repro-1-harness.c-leak-leak-nth3.c\n');
    expect(header).toContain(' *   insmod kfault_test.ko');
    expect(header).toContain(' *   ./repro-1-harness.c-leak-leak-nth3 --yes-inject\n');
    for (const o of ['CONFIG_FAULT_INJECTION=y', 'CONFIG_FAILSLAB=y', 'CONFIG_FAIL_PAGE_ALLOC=y', 'CONFIG_FAULT_INJECTION_DEBUG_FS=y', 'CONFIG_FAULT_INJECTION_STACKTRACE_FILTER=y', 'CONFIG_DEBUG_KMEMLEAK=y', 'CONFIG_MODULES=y']) expect(header).toContain(` *   ${o}\n`);
    expect(header).toContain(' * Regenerate: kfault repro results.json --problem 1');
    expect(header.match(/\*\//g)).toHaveLength(1);
  });

  it("sets kfault's fail-nth settings, in kfault's order, and kmemleak's text by name", () => {
    for (const [path, value] of Object.entries(FAIL_NTH_SETTINGS)) expect(g.text).toContain(`\t{ "${path}", "${value}", NULL },`);
    expect(g.text).toContain('static const char *const kfr_kmemleak_first = "__pfx_kmemleak_first";');
    expect(g.text).toContain('static const char *const kfr_modules[] = { "kfault_test", NULL };');
    expect(g.text).toContain('static const char *const kfr_leak_site = "kfault_test_alloc";');
    expect(g.text).toContain('static const char *const kfr_leak_caller = "leaky";');
    expect(g.text).toContain('static const int kfr_nth = 3;');
  });

  it('--help runs on any machine and arms nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-repro-'));
    try {
      const src = join(dir, 'r.c');
      spawnSync('sh', ['-c', `cat > ${src}`], { input: g.text });
      expect(spawnSync('cc', ['-O2', '-o', join(dir, 'r'), src]).status).toBe(0);
      const r = spawnSync(join(dir, 'r'), ['--help'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: \S+ --yes-inject \[--nth N\] \[--from K\] \[--dir DIR\]/);
      expect(r.stdout).toContain('(default: 3, where kfault saw the problem)');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('settings and names', () => {
  it("the user's knobs: values over the mode's, symbol ranges left as names", () => {
    const plan = injectorPlan({ failslab: { times: 5, reject: ['first_fn', 'last_fn'] }, fail_page_alloc: { require: 'one_fn' } });
    expect(plan.user).toEqual([{ path: 'failslab/times', value: '5', cond: null }]);
    expect(plan.ranges).toEqual([
      { injector: 'failslab', kind: 'reject', first: 'first_fn', last: 'last_fn' },
      { injector: 'fail_page_alloc', kind: 'require', first: 'one_fn', last: 'one_fn' },
    ]);
    // an opt-in injector the config does not name takes no steps, where the kernel has its filter
    expect(plan.base).toContainEqual({ path: 'fail_usercopy/stacktrace-depth', value: '0', cond: 'fail_usercopy/stacktrace-depth' });
    const named = injectorPlan({ fail_usercopy: {} });
    expect(named.base).toContainEqual({ path: 'fail_usercopy/verbose', value: '2', cond: null });
  });

  it("kmemleak's text as the names of its first and last functions (unique in System.map)", () => {
    const map = [
      'ffffffff81100000 T before',
      'ffffffff81100100 t __pfx_first',
      'ffffffff81100110 t first',
      'ffffffff81100200 t dup',
      'ffffffff81100300 T __create_object',
      'ffffffff81100400 t last',
      'ffffffff81100480 t dup',
      'ffffffff81100500 T after',
      'ffffffff82000000 D __create_object_data',
    ].join('\n');
    expect(kmemleakSymbols(map, { anchor: '__create_object', start: -0x200, end: 0x200 })).toEqual(['__pfx_first', 'last']);
    expect(kmemleakSymbols(map, { anchor: 'missing', start: 0, end: 1 })).toBeNull();
  });

  it("the fragment's options that matter, from kernel/kfault.config", () => {
    const o = fragmentOptions();
    expect(o).toEqual(expect.arrayContaining(['CONFIG_FAULT_INJECTION=y', 'CONFIG_DEBUG_KMEMLEAK=y', '# CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set']));
    expect(o).not.toContain('CONFIG_MODULES=y');
    expect(o.some((l) => /CONFIG_(TTY|NET|9P_FS)=/.test(l))).toBe(false);
  });
});
