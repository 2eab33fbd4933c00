// kfault kernel config [--out FILE] [--json]: the merged .config, and what olddefconfig dropped.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Config } from '../config.js';
import { mergedConfig, type MergedConfig } from '../kernel/merged-config.js';

function summary(m: MergedConfig, out: string | undefined): string[] {
  const files = [...new Set(m.asked.map((a) => a.fragment))].map((f) => relative(process.cwd(), f) || f);
  return [
    `kfault: ${out ? `wrote ${out}: ` : ''}the merged .config of ${m.source}, ${m.from === 'cache' ? `as kfault built it (${m.cacheEntry}/config)` : `from tinyconfig + the fragments + make olddefconfig just now (not built${m.cacheEntry ? `; would be cached as ${m.cacheEntry}` : ''})`}`,
    `kfault: ${m.asked.length} options asked for by ${files.join(', ')}: ${m.dropped.length ? `${m.dropped.length} dropped by olddefconfig (a build would stop on them):` : 'none dropped'}`,
    ...m.dropped.map((d) => `  ${d.option}: asked for ${d.wanted} (${relative(process.cwd(), d.fragment) || d.fragment}), .config has ${d.got}`),
  ];
}

/** Exit 1 when an option asked for was dropped: kfault would refuse to build that kernel. */
export async function kernelConfig(config: Config, o: { out?: string; json: boolean }): Promise<number> {
  const m = await mergedConfig(config);
  if (o.out) writeFileSync(o.out, m.text);
  if (o.json) console.log(JSON.stringify({ from: m.from, source: m.source, cacheEntry: m.cacheEntry, asked: m.asked, dropped: m.dropped, ...(o.out ? { out: o.out } : { config: m.text }) }, null, 2));
  else if (o.out) console.log(summary(m, o.out).join('\n'));
  else {
    process.stdout.write(m.text);
    process.stderr.write(summary(m, undefined).join('\n') + '\n');
  }
  return m.dropped.length ? 1 : 0;
}
