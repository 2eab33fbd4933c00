// The same sweeps on two kernels, side by side.
import { resolve } from 'node:path';
import { allocatedAt } from './attribution.js';
import { ConfigError, type Config } from './config.js';
import type { SweepResult } from './protocol.js';
import { counts, problemLines, problems } from './report.js';
import type { Leak } from './kmsg/kmemleak-report.js';
import { kernelProblems } from './kmsg/problems.js';

export interface KernelSide {
  label: string;
  kernel: Config['kernel'];
}

/** "stock" | "patches:DIR" | "tree:PATH" | "image:PATH" -> the kernel part of a config. */
export function parseKernelSpec(spec: string, base: Config['kernel'], flag: string): KernelSide {
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  const plain = { ...base, tree: undefined, image: undefined, patches: undefined };
  if (kind === 'stock' && !arg) return { label: 'stock', kernel: plain };
  if (arg && kind === 'patches') return { label: `patched (${arg})`, kernel: { ...plain, patches: resolve(arg) } };
  if (arg && kind === 'tree') return { label: `tree ${arg}`, kernel: { ...plain, tree: arg } };
  if (arg && kind === 'image') return { label: `image ${arg}`, kernel: { ...plain, fragments: [], image: arg } };
  throw new ConfigError([{ path: flag, message: `expected stock, patches:DIR, tree:PATH or image:PATH, got '${spec}'` }]);
}

export interface SideResult {
  label: string;
  kernel: string;
  results: SweepResult[];
  /** kmemleak's leaks after all the sweeps (null: kmemleak was off or disabled itself) */
  leaks: Leak[] | null;
}

/** Steps whose kernel log has an oops, BUG, WARNING, KASAN report or panic. */
export function oopses(r: SweepResult): number {
  return r.steps.filter((s) => kernelProblems(s.kmsg).length > 0).length;
}

/** Exit status of a compare, as sweep's: 1 when a step of either kernel leaked, crashed, hung,
 * warned or was killed, or when kmemleak could not check a kernel (leaks null). */
export function compareFailed(a: SideResult, b: SideResult): boolean {
  return [a, b].some((side) => side.leaks === null || side.results.some((r) => problems(r).length > 0));
}

export function compareTable(a: SideResult, b: SideResult): string {
  // crashes: an oops or panic took the guest down (guests boot with oops=panic); hangs: a step
  // never finished; oopses: steps whose log has a problem the guest lived through (a WARNING...)
  const head = ['harness', 'points', 'failed', 'tolerated', 'absorbed', 'crashes', 'hangs', 'oopses', 'leaks', 'ms'];
  const rows: string[][] = [];
  const names = [...new Set([...a.results, ...b.results].map((r) => r.harness))];
  const cells = (r: SweepResult | undefined) => {
    if (!r) return head.slice(1).map(() => '-');
    const c = counts(r);
    const hangs = r.crashes.filter((x) => x.kind === 'hang').length;
    return [c.points, c.failed, c.tolerated, c.absorbed, r.crashes.length - hangs, hangs, oopses(r), r.leaks.length, Math.round(r.ms)].map(String);
  };
  for (const n of names) {
    rows.push([n, ...cells(a.results.find((r) => r.harness === n)), ...cells(b.results.find((r) => r.harness === n))]);
  }
  const header = [head[0]!, ...head.slice(1).map((h) => `A ${h}`), ...head.slice(1).map((h) => `B ${h}`)];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `A: ${a.label} (${a.kernel})`,
    `B: ${b.label} (${b.kernel})`,
    `kmemleak filter: A ${a.results[0]?.kmemleakFilter.note ?? '-'}; B ${b.results[0]?.kmemleakFilter.note ?? '-'}`,
    fmt(header),
    ...rows.map(fmt),
    `leaks (kmemleak, after all sweeps): A ${leakText(a.leaks)}; B ${leakText(b.leaks)}`,
    ...problemsOf(a, b),
  ].join('\n');
}

/** Every problem of either kernel on a line of its own, as sweep prints them. */
function problemsOf(a: SideResult, b: SideResult): string[] {
  const lines = [...a.results.flatMap((r) => problemLines(r).map((l) => `  A ${l}`)), ...b.results.flatMap((r) => problemLines(r).map((l) => `  B ${l}`))];
  return lines.length ? ['problems:', ...lines] : [];
}

export function leakText(leaks: Leak[] | null): string {
  if (leaks === null) return 'not checked: kmemleak is off or disabled itself';
  if (!leaks.length) return '0';
  const sites = [...new Set(leaks.map(allocatedAt))];
  return `${leaks.length} (${leaks.reduce((n, l) => n + l.size, 0)} bytes; allocated at ${sites.join(', ')})`;
}
