// What a sweep records about its setup for `kfault repro` (SweepResult.setup), on the host.
import { existsSync, readFileSync } from 'node:fs';
import type { FaultsConfig } from '../fault-knobs.js';
import type { SweepSetup, TextRange } from '../protocol.js';

/**
 * kmemleak's .text, given in the build as [anchor + start, anchor + end), as the names of its
 * first and last functions in System.map: names mean something on another build of the kernel,
 * where /proc/kallsyms resolves them (and a KASLR offset changes nothing). Only names that are
 * unique in System.map (kallsyms gives the first of a name). null when System.map lacks them.
 */
export function kmemleakSymbols(systemMap: string, range: TextRange): [string, string] | null {
  const counts = new Map<string, number>();
  const funcs: Array<{ addr: bigint; name: string }> = [];
  let anchor: bigint | null = null;
  for (const line of systemMap.split('\n')) {
    const [addr, type, name] = line.split(' ');
    if (!addr || !type || !name) continue;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const a = BigInt(`0x${addr}`);
    if (name === range.anchor && anchor === null) anchor = a;
    if (/^[tT]$/.test(type)) funcs.push({ addr: a, name });
  }
  if (anchor === null) return null;
  const start = anchor + BigInt(range.start);
  const end = anchor + BigInt(range.end);
  const inside = funcs.filter((f) => f.addr >= start && f.addr < end && counts.get(f.name) === 1).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  if (!inside.length) return null;
  return [inside[0]!.name, inside[inside.length - 1]!.name];
}

export interface SetupInput {
  faults: FaultsConfig;
  kmemleakFilter: boolean;
  kmemleakText: { range: TextRange | null; why: string };
  systemMap: string | undefined;
  /** a user's harness's C file */
  source: string | undefined;
  cmdline: string[];
}

const named = new Map<string, [string, string] | null>();

export function sweepSetup(i: SetupInput): SweepSetup {
  let names: [string, string] | null = null;
  let why = i.kmemleakFilter ? i.kmemleakText.why : 'turned off (kmemleakFilter: false)';
  if (i.kmemleakFilter && i.kmemleakText.range) {
    if (!i.systemMap || !existsSync(i.systemMap)) why = 'no System.map to name kmemleak\'s functions with';
    else {
      const key = `${i.systemMap}|${JSON.stringify(i.kmemleakText.range)}`;
      if (!named.has(key)) named.set(key, kmemleakSymbols(readFileSync(i.systemMap, 'utf8'), i.kmemleakText.range));
      names = named.get(key)!;
      if (!names) why = `System.map has no function of kmemleak's text (anchor ${i.kmemleakText.range.anchor})`;
    }
  }
  const source = i.source && existsSync(i.source) ? { path: i.source, text: readFileSync(i.source, 'utf8') } : null;
  return { faults: i.faults, kmemleakFilter: i.kmemleakFilter, kmemleakText: names, kmemleakTextWhy: names ? '' : why, source, cmdline: i.cmdline };
}
