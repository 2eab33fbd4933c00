// What a catalogue harness needs of the machine beyond the default: the ext4-* harnesses work on
// scratch disk 0, an ext4, which only the block profile's kernel can use. Named harnesses get
// it made for them; the whole catalogue (nothing named) leaves them out unless it is there.
import { ConfigError, type Config } from '../config.js';
import type { GuestDisk } from '../protocol.js';

export const needsExt4Disk = (name: string) => /^ext4-/.test(name);

/** The disk an ext4-* harness gets when the config has none. */
export const DEFAULT_EXT4_DISK = { size: 64 << 20, fs: 'ext4' as const };

/** The config with what the named harnesses need added: disk 0 an ext4 (64M) when there is no
 * disk, and the block profile when kfault builds the kernel. A disk 0 that is no ext4 is an error. */
export function withHarnessNeeds(config: Config, names: string[]): Config {
  const needy = names.filter(needsExt4Disk);
  if (!needy.length) return config;
  const disks = config.machine.disks;
  if (disks.length && disks[0]!.fs !== 'ext4') {
    throw new ConfigError([{ path: 'machine.disks.0', message: `${needy.join(', ')} work on disk 0, which must be an ext4 (e.g. --disk 64M:ext4); got ${disks[0]!.fs ?? 'a raw disk'}` }]);
  }
  const ownKernel = config.kernel.tree === undefined && config.kernel.image === undefined;
  return {
    ...config,
    kernel: ownKernel && !config.kernel.profiles.includes('block') ? { ...config.kernel, profiles: [...config.kernel.profiles, 'block'] } : config.kernel,
    machine: disks.length ? config.machine : { ...config.machine, disks: [DEFAULT_EXT4_DISK] },
  };
}

/** The whole catalogue as this guest can sweep it: the ext4-* harnesses only with an ext4 mounted on disk 0. */
export function catalogueFor(names: string[], disks: GuestDisk[]): { names: string[]; left: string[] } {
  const ext4 = disks[0]?.fs === 'ext4' && disks[0].mount !== null;
  const left = ext4 ? [] : names.filter(needsExt4Disk);
  return { names: names.filter((n) => !left.includes(n)), left };
}
