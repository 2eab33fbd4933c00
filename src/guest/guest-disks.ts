// In the guest: the scratch disks the host attached (kernel parameter kfault.disks=ext4,raw,...),
// found by their virtio serial (kfault<i>), mounted at /mnt/kfault<i> when they have a
// filesystem, and named in the agent's environment, which every harness inherits:
// KFAULT_DISK<i> (the device), KFAULT_FS<i> and KFAULT_MNT<i> (when mounted).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { GuestDisk } from '../protocol.js';

export const mountPoint = (i: number) => `/mnt/kfault${i}`;

/** kfault.disks=... of the kernel command line: each disk's fs, or null for a raw one. */
export function disksOfCmdline(cmdline: string): Array<string | null> {
  const m = /(?:^|\s)kfault\.disks=(\S+)/.exec(cmdline);
  return m ? m[1]!.split(',').map((fs) => (fs === 'raw' ? null : fs)) : [];
}

/** serial -> /dev/vdX, for the virtio-blk disks the kernel found */
function disksBySerial(): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync('/sys/block');
  } catch {
    return out; // no block layer at all
  }
  for (const n of names) {
    try {
      out.set(readFileSync(`/sys/block/${n}/serial`, 'utf8').trim(), `/dev/${n}`);
    } catch {
      // not a virtio-blk disk
    }
  }
  return out;
}

export function setUpDisks(cmdline = readFileSync('/proc/cmdline', 'utf8')): GuestDisk[] {
  const wanted = disksOfCmdline(cmdline);
  if (!wanted.length) return [];
  const found = disksBySerial();
  const noBlock = !existsSync('/sys/block');
  return wanted.map((fs, index) => {
    const device = found.get(`kfault${index}`) ?? null;
    const disk: GuestDisk = { index, device, fs, mount: null, error: null };
    if (!device) {
      disk.error = noBlock
        ? 'this kernel has no block layer (CONFIG_BLOCK, CONFIG_VIRTIO_BLK): boot the block profile (--profile block, kernel.profiles: ["block"]) or a kernel with them'
        : `no virtio-blk disk with serial kfault${index} in /sys/block (CONFIG_VIRTIO_BLK?)`;
      return disk;
    }
    process.env[`KFAULT_DISK${index}`] = device;
    if (!fs) return disk;
    const at = mountPoint(index);
    mkdirSync(at, { recursive: true });
    const r = spawnSync('mount', ['-t', fs, device, at], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) {
      const said = (r.stderr || r.stdout || r.error?.message || '').trim();
      const fsKnown = readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim().split(/\s+/).pop() === fs);
      disk.error = fsKnown ? `mount -t ${fs} ${device} ${at} failed: ${said}` : `this kernel has no ${fs} (CONFIG_${fs.toUpperCase()}_FS): boot the block profile (--profile block) or a kernel with it`;
      return disk;
    }
    disk.mount = at;
    process.env[`KFAULT_FS${index}`] = fs;
    process.env[`KFAULT_MNT${index}`] = at;
    return disk;
  });
}

/** fail_make_request fails I/O only to disks with make-it-fail set: every scratch disk's, while
 * the config names the injector (withFaultSettings puts each back). */
export function diskFailSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, dev] of Object.entries(env)) if (/^KFAULT_DISK\d+$/.test(k) && dev) out[`/sys/block/${dev.replace(/^\/dev\//, '')}/make-it-fail`] = '1';
  return out;
}
