import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root (holds build/, dist/, kernel/). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** $XDG_CACHE_HOME/kfault, or ~/.cache/kfault. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'kfault');
}
