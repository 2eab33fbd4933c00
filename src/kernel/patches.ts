// A quilt-style patch series: a `series` file naming one patch per line, applied in order.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface Patch {
  name: string;
  path: string;
  text: string;
}

/** Reads dir/series; '#' starts a comment. No dir means no patches; a dir without a series
 * file is an error (a typo must not build the stock kernel). */
export function readSeries(dir: string | undefined): Patch[] {
  if (!dir) return [];
  const series = join(dir, 'series');
  if (!existsSync(series)) throw new Error(`${resolve(dir)} has no series file; expected a quilt-style patch directory (series naming one patch per line)`);
  return readFileSync(series, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((name) => {
      const path = resolve(dir, name);
      if (!existsSync(path)) throw new Error(`${series}: names ${name}, but ${path} does not exist`);
      return { name, path, text: readFileSync(path, 'utf8') };
    });
}

/** Applies each patch with patch -p1 (reverse: takes them off, last first); a failure names the
 * patch and gives patch's own words on the hunk. The text is what is applied, not the file. */
export function applySeries(srcDir: string, patches: Array<Pick<Patch, 'name' | 'text'> & { path?: string }>, reverse = false): void {
  for (const p of reverse ? [...patches].reverse() : patches) {
    const r = spawnSync('patch', ['-p1', ...(reverse ? ['-R'] : ['--forward']), '--batch', '--no-backup-if-mismatch', '-d', srcDir], { encoding: 'utf8', input: p.text });
    if (r.error) throw new Error(`cannot run patch (apt-get install patch): ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`patch ${p.path ?? p.name} does not ${reverse ? 'come off' : 'apply to'} ${srcDir}:\n${(r.stdout + r.stderr).trim()}`);
    }
  }
}
