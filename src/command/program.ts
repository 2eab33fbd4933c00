// The program of kfault command, as the guest will run it: the guest's root is the host's, so
// a path resolved here names the same file there (execve in the guest does not search PATH).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../config.js';

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'; // src/guest/init.sh

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** argv[0] -> an absolute path: "./x" and "dir/x" from cwd, a bare name from PATH (then the guest's). */
export function resolveProgram(name: string, cwd = process.cwd(), path = process.env.PATH ?? ''): string {
  if (!name) throw new ConfigError([{ path: 'argv', message: 'expected a program after --, e.g. kfault command -- /bin/true' }]);
  if (name.includes('/')) {
    const file = isAbsolute(name) ? name : resolve(cwd, name);
    if (!executable(file)) throw new ConfigError([{ path: 'argv', message: `${name}: no executable file at ${file}` }]);
    return file;
  }
  const dirs = [...path.split(delimiter), ...GUEST_PATH.split(':')].filter((d) => isAbsolute(d));
  for (const d of dirs) if (executable(join(d, name))) return join(d, name);
  throw new ConfigError([{ path: 'argv', message: `${name}: not found in PATH (${[...new Set(dirs)].join(':')})` }]);
}

/** "pipe2" -> { syscall: "pipe2", call: 1 }, "ioctl:2" -> the second ioctl. */
export function parseCallSpec(spec: string, known: (string | null)[]): { syscall: string; call: number } {
  const m = /^([a-z0-9_]+)(?::(\d+))?$/.exec(spec);
  const call = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m || call < 1) throw new ConfigError([{ path: '--call', message: `expected NAME or NAME:K (K >= 1, the K-th call of that syscall), e.g. pipe2 or ioctl:2; got '${spec}'` }]);
  if (!known.includes(m[1]!)) throw new ConfigError([{ path: '--call', message: `unknown syscall '${m[1]}'; expected an x86_64 syscall name as in <asm/unistd_64.h> (openat, pipe2, ioctl, ...)` }]);
  return { syscall: m[1]!, call };
}
