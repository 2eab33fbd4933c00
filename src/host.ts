// What the host needs, how to check it, and the exact command that installs it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { kvmDeviceUsable, kvmStatus, rememberedKvm } from './guest/accel.js';

export interface Requirement {
  what: string;
  /** the Debian package that provides it */
  pkg: string;
  present: () => boolean;
  optional?: boolean;
}

const onPath = (cmd: string) => () => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const debInstalled = (pkg: string) => () =>
  spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed') ?? false;

export function requirements(kernelSource = 'linux-source-6.12'): Requirement[] {
  return [
    { what: 'QEMU (qemu-system-x86_64)', pkg: 'qemu-system-x86', present: onPath('qemu-system-x86_64') },
    { what: 'C compiler (gcc)', pkg: 'gcc', present: onPath('gcc') },
    { what: 'make', pkg: 'make', present: onPath('make') },
    { what: 'bc', pkg: 'bc', present: onPath('bc') },
    { what: 'flex', pkg: 'flex', present: onPath('flex') },
    { what: 'bison', pkg: 'bison', present: onPath('bison') },
    { what: 'libelf headers', pkg: 'libelf-dev', present: () => existsSync('/usr/include/gelf.h') },
    { what: 'OpenSSL headers', pkg: 'libssl-dev', present: () => existsSync('/usr/include/openssl/ssl.h') },
    { what: 'xz', pkg: 'xz-utils', present: onPath('xz') },
    { what: 'patch', pkg: 'patch', present: onPath('patch') },
    { what: 'mke2fs and e2fsck (scratch disks: --disk SIZE:ext4, and fsck as a verdict)', pkg: 'e2fsprogs', present: () => existsSync('/usr/sbin/mke2fs') && existsSync('/usr/sbin/e2fsck') },
    { what: 'setpriv (kills QEMU with its parent)', pkg: 'util-linux', present: onPath('setpriv') },
    { what: `kernel source (${kernelSource})`, pkg: kernelSource, present: debInstalled(kernelSource) },
    { what: 'ccache (faster rebuilds)', pkg: 'ccache', present: onPath('ccache'), optional: true },
  ];
}

export function missingPackages(reqs: Requirement[], includeOptional = true): string[] {
  return [...new Set(reqs.filter((r) => (includeOptional || !r.optional) && !r.present()).map((r) => r.pkg))];
}

export function installCommand(pkgs: string[]): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

export interface DoctorLine {
  ok: boolean;
  text: string;
}

export function doctor(kernelSource?: string): DoctorLine[] {
  const lines: DoctorLine[] = requirements(kernelSource).map((r) => {
    const ok = r.present();
    return { ok: ok || !!r.optional, text: `${ok ? 'ok     ' : r.optional ? 'missing (optional)' : 'MISSING'} ${r.what}${ok ? '' : `: apt-get install ${r.pkg}`}` };
  });
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  const remembered = qemu.status === 0 ? rememberedKvm(qemu.stdout.split('\n')[0]!.trim()) : null;
  lines.push({ ok: true, text: kvmStatus(kvmDeviceUsable(), remembered) });
  const missing = missingPackages(requirements(kernelSource));
  if (missing.length) lines.push({ ok: false, text: `install all with: ${installCommand(missing)}` });
  return lines;
}

/** Installs what is missing when root; otherwise says the exact command. Returns false if not done. */
export function installMissing(kernelSource: string | undefined, log: (s: string) => void): boolean {
  const missing = missingPackages(requirements(kernelSource));
  if (!missing.length) return true;
  const cmd = installCommand(missing);
  if (process.getuid?.() !== 0) {
    log(`kfault needs Debian packages: ${missing.join(' ')}\nrun as root:\n  ${cmd}`);
    return false;
  }
  log(`kfault: installing ${missing.join(' ')}`);
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    log(`kfault: '${cmd}' failed (exit ${r.status})`);
    return false;
  }
  return true;
}
