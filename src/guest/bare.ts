// A bare guest: the kernel boots with a program of the caller's as its init (no agent, no Node),
// over the host's root as kfault's guests do (9p, read-only), and the serial console is collected
// until QEMU exits or a timeout kills it. For running reproducers the way a maintainer would.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../paths.js';
import { kernelCmdline, shellQuote, type Accel } from './qemu.js';
import { kvmDeviceUsable, knownKvmFailure } from './accel.js';

export interface BareBoot {
  /** bzImage (or vmlinux) */
  image: string;
  /** the guest's PID 1: an executable (a script with #!) on the host's root, outside /tmp */
  init: string;
  /** kernel parameters after kfault's (console, 9p root, panic=-1, loglevel=5) */
  cmdline?: string[];
  /** kfault's guests boot with oops=panic; a bare guest does only when asked */
  oopsPanic?: boolean;
  /** the kfault.guest=1 marker of kfault's guests; off by default */
  kfaultMarker?: boolean;
  timeoutMs: number;
  accel?: Accel | 'auto';
  cpus?: number;
  memoryMiB?: number;
  /** each console line as it comes */
  onLine?: (line: string) => void;
}

export interface BareRun {
  /** console lines, CR stripped */
  console: string[];
  /** QEMU was killed at the timeout */
  timedOut: boolean;
  exitCode: number | null;
  signal: string | null;
  ms: number;
  command: string;
}

function accelFor(requested: BareBoot['accel']): Accel {
  if (requested === 'kvm' || requested === 'tcg') return requested;
  const version = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? '';
  return kvmDeviceUsable() === null && knownKvmFailure(version) === null ? 'kvm' : 'tcg';
}

/** The QEMU command line of a bare guest. */
export function bareQemuArgs(o: BareBoot, accel: Accel): string[] {
  const params = kernelCmdline({ init: o.init, cmdline: o.cmdline ?? [] })
    .split(' ')
    .filter((p) => (o.kfaultMarker || p !== 'kfault.guest=1') && (o.oopsPanic || p !== 'oops=panic'));
  return [
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-smp', String(o.cpus ?? 2),
    '-m', String(o.memoryMiB ?? 1024),
    '-nodefaults', '-no-reboot', '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    '-kernel', o.image,
    '-append', params.join(' '),
    '-fsdev', 'local,id=root,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=root,mount_tag=/dev/root',
  ];
}

/** Boots, collects the console until QEMU exits (the init reboots it: -no-reboot) or timeoutMs
 * passes; QEMU is always gone when this returns. */
export async function bootWithInit(o: BareBoot): Promise<BareRun> {
  if (!existsSync(o.image)) throw new Error(`kernel image not found: ${o.image}`);
  if (!existsSync(o.init)) throw new Error(`init not found: ${o.init}`);
  if (o.init.startsWith('/tmp/')) throw new Error(`${o.init}: the guest mounts a tmpfs on /tmp and would not see it`);
  const accel = accelFor(o.accel ?? 'auto');
  const args = bareQemuArgs(o, accel);
  const start = Date.now();
  // setpriv: QEMU dies with this process, whatever happens to it
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const lines: string[] = [];
  let pending = '';
  const take = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const p of parts) {
      const l = p.replace(/\r$/, '');
      lines.push(l);
      o.onLine?.(l);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, o.timeoutMs);
  try {
    const [exitCode, signal] = await new Promise<[number | null, string | null]>((res, rej) => {
      child.once('error', rej);
      child.once('close', (code, sig) => res([code, sig]));
    });
    if (pending) lines.push(pending.replace(/\r$/, ''));
    return { console: lines, timedOut, exitCode, signal, ms: Date.now() - start, command: shellQuote(['qemu-system-x86_64', ...args]) };
  } finally {
    clearTimeout(timer);
    kill();
    process.removeListener('exit', kill);
  }
}

/** Where files for a bare guest go: under the cache (the guest sees the host's root, not its /tmp). */
export function bareDir(name: string): string {
  const dir = join(cacheDir(), 'tmp', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const LOADER = `/* Loads kernel modules with finit_module(2): insmod for a guest whose host has no kmod.
 * An already loaded module is fine. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)) {
			fprintf(stderr, "finit_module %s: %s\\n", argv[i], strerror(errno));
			return 1;
		}
		printf("loaded %s%s\\n", argv[i], errno == EEXIST ? " (already loaded)" : "");
		close(fd);
	}
	return 0;
}
`;

/** A finit_module loader (built once with cc into the cache), for guests without insmod. */
export function moduleLoader(cc = process.env.CC || 'cc'): string {
  const dir = bareDir('bin');
  const exe = join(dir, 'kfault-finit-module');
  if (existsSync(exe)) return exe;
  writeFileSync(`${exe}.c`, LOADER);
  const r = spawnSync(cc, ['-O2', '-o', `${exe}.tmp`, `${exe}.c`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the module loader failed: ${r.error?.message ?? r.stderr}`);
  renameSync(`${exe}.tmp`, exe);
  return exe;
}

/**
 * An init script for a bare guest: mounts proc, sysfs, devtmpfs and a tmpfs on /run and /tmp,
 * loads the modules (insmod when the host has it, else kfault's finit_module loader), runs each
 * command in turn, waits until the console has printed its output, writes "kfault-bare: exit
 * <status> of <n>" for each to the kernel log, and reboots (QEMU exits). Written to path, executable.
 */
export function writeBareInit(path: string, o: { modules?: string[]; commands: string[][] }): string {
  const loader = o.modules?.length ? moduleLoader() : '';
  const q = (a: string[]) => shellQuote(a);
  const script = [
    '#!/bin/sh',
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mount -t tmpfs tmpfs /tmp',
    'cd /run',
    // tcsetattr(TCSADRAIN) waits until the console tty has written out what the commands printed:
    // a line still in the serial driver's buffer when sysrq restarts the machine is lost
    'drain() { s=$(stty -g < /dev/console 2>/dev/null) && stty "$s" < /dev/console 2>/dev/null; }',
    ...(o.modules ?? []).map((m) => `if command -v insmod >/dev/null; then insmod ${q([m])}; else ${q([loader, m])}; fi || echo "<3>kfault-bare: loading ${m} failed" > /dev/kmsg`),
    ...o.commands.flatMap((c, i) => [`echo "kfault-bare: running ${i + 1}: ${c.join(' ').replace(/["$`\\]/g, '')}"`, `${q(c)}`, 'status=$?', 'drain', `echo "<3>kfault-bare: exit $status of ${i + 1}" > /dev/kmsg`]),
    'drain',
    'echo b > /proc/sysrq-trigger',
    '',
  ].join('\n');
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return path;
}
