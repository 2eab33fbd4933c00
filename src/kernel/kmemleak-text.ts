// Where kmemleak's code lies in the built kernel, so the fault-injection stack filter can
// keep injected faults out of kmemleak's own metadata allocations (reject-start/reject-end).
// The range is given relative to an anchor symbol, resolved in the guest through /proc/kallsyms,
// so it holds with KASLR too.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextRange } from '../protocol.js';

export interface ObjSymbol {
  name: string;
  section: string;
  offset: number;
}

/** Function symbols from `objdump -t` of one object file. */
export function parseObjdumpSymbols(text: string): ObjSymbol[] {
  const out: ObjSymbol[] = [];
  for (const line of text.split('\n')) {
    // 0000000000000dfd l     F .text	000000000000007a __create_object
    const m = /^([0-9a-f]+) .{6}F (\S+)\t[0-9a-f]+ +(\S+)$/.exec(line);
    if (m) out.push({ offset: parseInt(m[1]!, 16), section: m[2]!, name: m[3]! });
  }
  return out;
}

/** Size of one section from `objdump -h`. */
export function parseSectionSize(text: string, section: string): number | null {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === section && /^[0-9a-f]+$/.test(f[2] ?? '')) return parseInt(f[2]!, 16);
  }
  return null;
}

/** name -> addresses, from System.map (a static name can appear more than once). */
export function parseSystemMap(text: string): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>();
  for (const line of text.split('\n')) {
    const [addr, , name] = line.split(' ');
    if (!addr || !name) continue;
    const list = out.get(name) ?? [];
    list.push(BigInt(`0x${addr}`));
    out.set(name, list);
  }
  return out;
}

/**
 * The .text of kmemleak.o, as [anchor + start, anchor + end): the anchor is a .text function
 * whose name is unique in System.map, so its place in vmlinux fixes where the whole section went.
 */
export function kmemleakRange(symbols: ObjSymbol[], textSize: number, systemMap: Map<string, bigint[]>): TextRange | null {
  const candidates = symbols.filter((s) => s.section === '.text' && systemMap.get(s.name)?.length === 1);
  const anchor = candidates.find((s) => s.name === '__create_object') ?? candidates[0];
  if (!anchor) return null;
  return { anchor: anchor.name, start: -anchor.offset, end: textSize - anchor.offset };
}

/** Reads the range from a kernel build dir; null (with why) when it cannot be known. */
export function kmemleakRangeOfBuild(buildDir: string | undefined, systemMapPath: string | undefined): { range: TextRange | null; why: string } {
  if (!buildDir || !systemMapPath) return { range: null, why: 'a prebuilt image has no build dir to read kmemleak.o from' };
  const obj = join(buildDir, 'mm/kmemleak.o');
  if (!existsSync(obj)) return { range: null, why: `${obj} does not exist (kernel built without CONFIG_DEBUG_KMEMLEAK?)` };
  const syms = spawnSync('objdump', ['-t', obj], { encoding: 'utf8' });
  const heads = spawnSync('objdump', ['-h', obj], { encoding: 'utf8' });
  if (syms.status !== 0 || heads.status !== 0) return { range: null, why: `objdump failed on ${obj} (apt-get install binutils)` };
  const size = parseSectionSize(heads.stdout, '.text');
  const range = size === null ? null : kmemleakRange(parseObjdumpSymbols(syms.stdout), size, parseSystemMap(readFileSync(systemMapPath, 'utf8')));
  return range ? { range, why: '' } : { range: null, why: `no anchor symbol for kmemleak's .text found in ${systemMapPath}` };
}
