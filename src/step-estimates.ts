// How many steps a harness took last time on this kernel: the "about N" of sweep progress.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheDir } from './paths.js';

const file = () => join(cacheDir(), 'step-estimates.json');

function read(): Record<string, number> {
  try {
    return existsSync(file()) ? (JSON.parse(readFileSync(file(), 'utf8')) as Record<string, number>) : {};
  } catch {
    return {};
  }
}

export function estimatedSteps(kernel: string, harness: string): number | null {
  return read()[`${kernel} ${harness}`] ?? null;
}

export function rememberSteps(kernel: string, harness: string, steps: number): void {
  const all = { ...read(), [`${kernel} ${harness}`]: steps };
  mkdirSync(dirname(file()), { recursive: true });
  writeFileSync(file(), JSON.stringify(all) + '\n');
}
