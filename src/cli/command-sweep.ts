// kfault command --sweep [--call NAME[:K]] [--timeout MS] [--max-calls N] -- CMD ARGS...
import { ConfigError, type Config } from '../config.js';
import { bootGuest } from '../sweep-batch.js';
import { checkedCommandSweep } from '../command/checked.js';
import { Progress } from '../progress.js';
import { colorize, problems, sweepTable, totalsLine } from '../report.js';
import { groupLines, groupProblems } from '../reports/groups.js';
import { resultsProblems } from '../repro/problems.js';
import { kfaultVersion } from '../repro/version.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../results-file.js';
import { leakText } from '../compare.js';
import type { Flags } from './args.js';
import { parseCallSpec, resolveProgram } from '../command/program.js';
import { loadBinding } from '../native.js';

const err = (s: string) => process.stderr.write(s + '\n');

function wholeNumber(flags: Flags, flag: 'timeout' | 'max-calls', min: number, max: number): number | undefined {
  const v = flags[flag];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new ConfigError([{ path: `--${flag}`, message: `expected a whole number from ${min} to ${max}, got '${v}'` }]);
  return Number(v);
}

/** Flags of one of kfault command's modes given to the other: an error, never ignored. */
export function checkCommandFlags(flags: Flags): void {
  const random = (['runs', 'probability', 'interval', 'times'] as const).filter((f) => flags[f] !== undefined);
  const sweep = (['call', 'max-calls'] as const).filter((f) => flags[f] !== undefined);
  if (flags.sweep && random.length) throw new ConfigError(random.map((f) => ({ path: `--${f}`, message: `is for random mode; --sweep runs the program once per failure point` })));
  if (!flags.sweep && sweep.length) throw new ConfigError(sweep.map((f) => ({ path: `--${f}`, message: 'needs --sweep' })));
}

export async function commandSweepMain(config: Config, flags: Flags, argv: string[]): Promise<number> {
  if (!argv.length) throw new ConfigError([{ path: 'argv', message: 'expected: kfault command --sweep [--call NAME[:K]] [--timeout MS] [--max-calls N] -- CMD ARGS...' }]);
  const timeoutMs = wholeNumber(flags, 'timeout', 100, 3_600_000);
  const maxCalls = wholeNumber(flags, 'max-calls', 1, 512);
  // before anything boots: a typo costs no guest
  resolveProgram(argv[0]!);
  if (flags.call !== undefined) parseCallSpec(flags.call, loadBinding().syscallNames());
  const start = Date.now();
  const { guest, modules } = await bootGuest(config, { log: err, onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined, onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined });
  try {
    const progress = new Progress('command --sweep');
    const r = await checkedCommandSweep(guest, argv, {
      call: flags.call,
      timeoutMs,
      maxCalls,
      leaks: config.kmemleak.check,
      suppress: config.kmemleak.suppress,
      onStep: (label, s) => progress.update(`${label}: step ${s.nth}`),
    });
    progress.clear();
    const results = r.results;
    const kmemleak = r.kmemleak.checked ? { enabled: r.kmemleak.enabled, why: r.kmemleak.why, unattributed: r.kmemleak.unattributed, suppressed: r.kmemleak.suppressed, raw: r.kmemleak.raw } : null;
    const file: ResultsFile = { schema: RESULTS_SCHEMA, kernel: guest.kernel, accel: guest.accel, results, kmemleak, restarts: guest.restarts, groups: groupProblems(results), kfault: kfaultVersion(), modules, problems: resultsProblems(results) };
    const calls = r.trace.syscalls.map((c) => `${c.name} x${c.count}`).join(', ');
    const traced = `${r.path}: unarmed, exit ${r.trace.run.exitCode} in ${Math.round(r.trace.run.ms)} ms; its syscalls after execve: ${calls}`;
    if (flags.json) {
      err(traced);
      console.log(JSON.stringify(file, null, 2));
    } else {
      const color = process.stdout.isTTY && !process.env.NO_COLOR ? colorize : (t: string) => t;
      console.log(`command: ${argv.join(' ')}\n${traced}\n`);
      // with no --call most syscalls reach no failure point: one line each, not a table
      const quiet = results.filter((x) => x.complete && !x.steps.some((s) => s.injected) && !problems(x).length && !x.crashes.length);
      for (const x of results) if (!quiet.includes(x)) console.log(color(sweepTable(x)) + '\n');
      if (quiet.length) console.log(`no failure point in the swept call of: ${quiet.map((x) => x.harness.slice(x.harness.lastIndexOf(': ') + 2)).join(', ')}\n`);
      const k = kmemleak;
      console.log(
        [
          ...r.notSwept.map((n) => `not swept: ${n}`),
          ...groupLines(file.groups),
          !k ? 'kmemleak: not checked (kmemleak.check is off)' : !k.enabled ? `kmemleak: FAILED: kmemleak is not working, so leaks were not checked: ${k.why}` : `kmemleak: checked after the sweep (stacks not scanned)${k.unattributed.length ? `; ${k.unattributed.length} leaks outside the program's runs: ${leakText(k.unattributed)}` : ''}`,
          ...(guest.restarts ? [`the guest was booted again ${guest.restarts} time(s) after a crash or hang`] : []),
          totalsLine(results, Date.now() - start).replace(/ harnesses swept:/, ` call${results.length === 1 ? '' : 's'} swept (${argv[0]}):`),
        ].join('\n'),
      );
    }
    return results.some((x) => problems(x).length > 0) || (kmemleak !== null && !kmemleak.enabled) ? 1 : 0;
  } finally {
    await guest.close();
  }
}
