// kfault shell [-- CMD ARGS]: the guest a sweep runs in (same kernel and command line, modules
// loaded, debugfs mounted, the addon there), with a shell on this terminal, or one command.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { ConfigError, type Config } from '../config.js';
import { boot } from '../guest/boot.js';
import type { Guest } from '../guest/guest.js';
import { ensureKernel } from '../kernel/build.js';
import { modulesFor } from '../kernel/modules.js';
import { packageRoot } from '../paths.js';
import type { ShellResult } from '../protocol.js';
import type { Flags } from './args.js';

const err = (s: string) => process.stderr.write(s + '\n');

/** Ctrl-]: kills the guest from the terminal, as telnet's escape does (a guest that hangs). */
const ESCAPE = 0x1d;
/** one command: bounded by --timeout (default 10 min); a terminal session: by the user, or 24 h */
const COMMAND_TIMEOUT_S = 600;
const SESSION_TIMEOUT_S = 24 * 3600;

function timeoutMs(flags: Flags, dflt: number): number {
  const v = flags.timeout;
  if (v === undefined) return dflt * 1000;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > SESSION_TIMEOUT_S) throw new ConfigError([{ path: '--timeout', message: `expected whole seconds from 1 to ${SESSION_TIMEOUT_S}, got '${v}'` }]);
  return Number(v) * 1000;
}

/** What the guest's programs find beyond the agent's environment: where kfault and its addon are. */
function guestEnv(tty: boolean): Record<string, string> {
  return {
    KFAULT_ROOT: packageRoot,
    KFAULT_ADDON: join(packageRoot, 'build/Release/kfault.node'),
    ...(tty ? { TERM: process.env.TERM || 'vt100', PS1: 'kfault-guest:\\w# ' } : {}),
  };
}

/** The shell's exit as a process exit status: 128 + signal number when it was killed. */
function exitStatus(r: ShellResult): number {
  if (r.exitCode !== null) return r.exitCode;
  return 128 + (r.signal ? (constants.signals[r.signal as keyof typeof constants.signals] ?? 0) : 0);
}

/** Resolves once the socket has been quiet for idleMs (the console's last bytes), at most maxMs. */
function drained(socket: Socket, idleMs: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    let idle = setTimeout(done, idleMs);
    const cap = setTimeout(done, maxMs);
    const onData = () => {
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    };
    socket.on('data', onData);
    function done() {
      clearTimeout(idle);
      clearTimeout(cap);
      socket.off('data', onData);
      resolve();
    }
  });
}

async function interactive(guest: Guest, limitMs: number): Promise<number> {
  const socket = await guest.terminal!.connected(10_000);
  const stdin = process.stdin;
  const toTerminal = (b: Buffer) => process.stdout.write(b);
  let escaped = false;
  const fromTerminal = (b: Buffer) => {
    if (b.includes(ESCAPE)) {
      escaped = true;
      process.kill(guest.pid, 'SIGKILL');
      return;
    }
    socket.write(b);
  };
  const shell = existsSync('/bin/bash') ? ['/bin/bash', '--norc', '-i'] : ['/bin/sh', '-i'];
  err(`kfault: a shell in the guest (${guest.kernel}, ${guest.accel}); exit or Ctrl-D ends it, Ctrl-] kills the guest`);
  socket.on('data', toTerminal);
  stdin.setRawMode(true);
  stdin.on('data', fromTerminal);
  stdin.resume();
  try {
    const r = await guest.shell(shell, { cwd: process.cwd(), env: guestEnv(true), tty: { rows: process.stdout.rows ?? 0, cols: process.stdout.columns ?? 0 }, timeoutMs: limitMs });
    await drained(socket, 100, 1000);
    if (r.timedOut) err(`\r\nkfault: the shell was killed after ${limitMs / 1000} s (--timeout)`);
    return exitStatus(r);
  } catch (e) {
    if (escaped) {
      err('\r\nkfault: the guest was killed (Ctrl-])');
      return 130;
    }
    throw e;
  } finally {
    stdin.off('data', fromTerminal);
    stdin.setRawMode(false);
    stdin.pause();
    socket.off('data', toTerminal);
  }
}

async function oneCommand(guest: Guest, argv: string[], limitMs: number): Promise<number> {
  const r = await guest.shell(argv, { cwd: process.cwd(), env: guestEnv(false), timeoutMs: limitMs });
  process.stdout.write(Buffer.from(r.stdout, 'base64'));
  process.stderr.write(Buffer.from(r.stderr, 'base64'));
  if (r.cut) err('kfault: the command printed more than 8 MiB on stdout or stderr; the rest was dropped');
  if (r.timedOut) {
    err(`kfault: ${argv.join(' ')} did not finish within ${limitMs / 1000} s and was killed (--timeout SECONDS)`);
    return 124;
  }
  return exitStatus(r);
}

export async function shellCommand(config: Config, flags: Flags, argv: string[]): Promise<number> {
  const tty = argv.length === 0;
  if (tty && !process.stdin.isTTY) {
    throw new ConfigError([{ path: 'argv', message: 'stdin is not a terminal, so there is no interactive shell to give; run one command with: kfault shell -- CMD ARGS' }]);
  }
  const limitMs = timeoutMs(flags, tty ? SESSION_TIMEOUT_S : COMMAND_TIMEOUT_S);
  const kernel = await ensureKernel(config);
  const modules = await modulesFor(kernel, config.modules);
  const guest = await boot(config, {
    kernel,
    shellConsole: tty,
    onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined,
    onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined,
  });
  try {
    if (modules.length) await guest.loadModules(modules);
    return tty ? await interactive(guest, limitMs) : await oneCommand(guest, argv, limitMs);
  } finally {
    await guest.close();
  }
}
