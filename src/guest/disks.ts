// A guest's scratch disks on the host: sparse files in a directory of their own, made (and
// formatted) before QEMU starts and removed once the guest is up (QEMU holds them open, so
// nothing is left on disk whatever happens to kfault after that), or when kfault exits first.
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Disk } from '../config.js';
import { removeOnExit } from '../remove-on-exit.js';

export const MKE2FS = '/usr/sbin/mke2fs';

/** Where the guest mounts disk i that has a filesystem. */
export const guestMountPoint = (i: number) => `/mnt/kfault${i}`;

/** Every disk's filesystem gets the same UUID and directory-hash seed (mke2fs picks random
 * ones): ext4's htree hashes, and so the allocations of a directory operation, are then the same
 * from run to run and machine to machine. */
const FS_UUID = '6b666175-6c74-4000-8000-000000000000';

/** mke2fs's arguments: the whole inode tables and journal written now, so that no lazy-init
 * thread writes in the guest while a sweep runs; root owned by root. */
export function mke2fsArgs(fs: string, path: string, label: string): string[] {
  return ['-q', '-F', '-t', fs, '-U', FS_UUID, '-L', label, '-E', `hash_seed=${FS_UUID},lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0,nodiscard`, path];
}

export interface DiskFiles {
  dir: string;
  paths: string[];
  remove: () => void;
}

/** Dirs of disks left by a kfault that was killed (SIGKILL) between making them and the guest's
 * start: kfault-disks-<pid>-XXXXXX whose pid is gone. */
export function removeStaleDiskDirs(base: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /^kfault-disks-(\d+)-[A-Za-z0-9]{6}$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its kfault still runs
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const dir = join(base, n);
    try {
      if (statSync(dir).uid !== process.getuid?.()) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

/** Makes the disks (sparse, formatted when they have an fs). Throws, leaving nothing, when mke2fs fails. */
export function makeDisks(disks: Disk[], base = tmpdir()): DiskFiles | null {
  if (!disks.length) return null;
  removeStaleDiskDirs(base);
  const dir = mkdtempSync(join(base, `kfault-disks-${process.pid}-`));
  const forget = removeOnExit(dir);
  const remove = () => {
    forget();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const paths = disks.map((d, i) => {
      const path = join(dir, `kfault${i}.img`);
      const fd = openSync(path, 'wx', 0o600);
      try {
        ftruncateSync(fd, d.size);
      } finally {
        closeSync(fd);
      }
      if (d.fs) {
        const r = spawnSync(MKE2FS, mke2fsArgs(d.fs, path, `kfault${i}`), { encoding: 'utf8' });
        if (r.error) throw new Error(`machine.disks.${i}: ${MKE2FS} could not run (${r.error.message}); install it with: apt-get install e2fsprogs`);
        if (r.status !== 0) throw new Error(`machine.disks.${i}: mke2fs -t ${d.fs} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
      }
      return path;
    });
    return { dir, paths, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** The kernel parameter that tells the guest agent what to mount: kfault.disks=ext4,raw,... */
export function disksParam(disks: Disk[]): string[] {
  return disks.length ? [`kfault.disks=${disks.map((d) => d.fs ?? 'raw').join(',')}`] : [];
}
