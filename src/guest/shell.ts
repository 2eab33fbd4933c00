// kfault shell, in the guest: a program run as a user would run it, in a session of its own,
// either on the virtio console (hvc0, its controlling terminal, bridged by the host to its own
// terminal) or with its output collected and sent back.
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import type { Request, ShellResult } from '../protocol.js';
import { SHELL_OUTPUT_MAX } from '../protocol-limits.js';
import { childProcess } from './child-process.js';

export type ShellRequest = Extract<Request, { type: 'shell' }>;

/** The one virtconsole port the host adds for an interactive shell (see qemu.ts). */
export const SHELL_CONSOLE = '/dev/hvc0';

function whereToRun(cwd: string, fallback: string): string {
  try {
    if (statSync(cwd).isDirectory()) return cwd;
  } catch {
    // the host's dir is under a path the guest mounts over (/tmp, /run) or cannot see
  }
  return fallback;
}

/** Collects a stream up to SHELL_OUTPUT_MAX bytes. */
function collector() {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let cut = false;
  return {
    add(b: Buffer) {
      const room = SHELL_OUTPUT_MAX - bytes;
      if (b.length > room) cut = true;
      if (room <= 0) return;
      chunks.push(b.subarray(0, room));
      bytes += Math.min(room, b.length);
    },
    base64: () => Buffer.concat(chunks).toString('base64'),
    cut: () => cut,
  };
}

export function runShell(req: ShellRequest, workDir: string): Promise<ShellResult> {
  const cwd = whereToRun(req.cwd, workDir);
  const env = { ...process.env, ...req.env };
  let argv = req.argv;
  let console: number | null = null;
  if (req.tty) {
    if (!existsSync(SHELL_CONSOLE)) throw new Error(`${SHELL_CONSOLE} does not exist: the guest has no virtio console for the shell (CONFIG_VIRTIO_CONSOLE, CONFIG_HVC_DRIVER)`);
    console = openSync(SHELL_CONSOLE, 'r+');
    // setsid -c: the console becomes the program's controlling terminal (job control, ^C);
    // stty first gives it the host terminal's size
    const size = req.tty.rows && req.tty.cols ? `stty rows ${req.tty.rows} cols ${req.tty.cols}; ` : '';
    argv = ['setsid', '-c', '/bin/sh', '-c', `${size}exec "$@"`, 'sh', ...argv];
  }
  return new Promise((resolve, reject) => {
    // detached: a session of its own (setsid -c makes one with a tty), so a timeout kills the lot
    const child = childProcess().spawn(argv[0]!, argv.slice(1), { cwd, env, detached: console === null, stdio: console === null ? ['ignore', 'pipe', 'pipe'] : [console, console, console] });
    if (console !== null) closeSync(console);
    const out = collector();
    const err = collector();
    child.stdout?.on('data', (b: Buffer) => out.add(b));
    child.stderr?.on('data', (b: Buffer) => err.add(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // the whole session: a shell's children too (setsid made it a process group leader)
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, req.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`cannot run ${argv[0]} in the guest: ${e.message}`), { code: 'KFAULT_SHELL' }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal, timedOut, stdout: out.base64(), stderr: err.base64(), cut: out.cut() || err.cut(), cwd });
    });
  });
}
