// Kconfig fragments and .config files: parse, and check that every option asked for is set.

/** option name -> value ('y', 'm', a number or string; 'n' for "# CONFIG_X is not set") */
export type Kconfig = Map<string, string>;

export function parseKconfig(text: string): Kconfig {
  const out: Kconfig = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) {
      out.set(unset[1]!, 'n');
      continue;
    }
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) out.set(set[1]!, set[2]!);
  }
  return out;
}

export interface Mismatch {
  option: string;
  wanted: string;
  got: string;
}

/** Options of the fragment that the final .config does not have as asked (a dropped dependency). */
export function checkKconfig(fragment: Kconfig, dotconfig: Kconfig): Mismatch[] {
  const out: Mismatch[] = [];
  for (const [option, wanted] of fragment) {
    const got = dotconfig.get(option) ?? 'n';
    if (got !== wanted) out.push({ option, wanted, got: dotconfig.has(option) ? got : 'not set' });
  }
  return out;
}

export function formatMismatches(ms: Mismatch[]): string {
  return ms.map((m) => `  ${m.option}: asked for ${m.wanted}, .config has ${m.got}`).join('\n');
}
