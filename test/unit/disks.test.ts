// Scratch disks on the host side: the files (real mke2fs), the QEMU drives, the kernel parameter
// the guest reads, and what the ext4-* harnesses get made for them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { disksParam, makeDisks, removeStaleDiskDirs } from '../../src/guest/disks.js';
import { diskFailSettings, disksOfCmdline } from '../../src/guest/guest-disks.js';
import { qemuArgs } from '../../src/guest/qemu.js';
import { catalogueFor, withHarnessNeeds } from '../../src/harness/needs.js';

const base = mkdtempSync(join(tmpdir(), 'kfault-disks-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('disk config', () => {
  it('a parsed config (sizes in bytes) parses again to itself, as every entry point re-checks it', () => {
    const c = parseConfig({ machine: { disks: ['64M:ext4', { size: '2048K' }] } });
    expect(c.machine.disks).toEqual([{ size: 64 << 20, fs: 'ext4' }, { size: 2 << 20, fs: null }]);
    expect(parseConfig(c)).toEqual(c);
  });
});

describe('disk files', () => {
  it('are sparse files of the size asked for, formatted by mke2fs with a fixed UUID, and removed', () => {
    const disks = parseConfig({ machine: { disks: ['64M:ext4', '1M'] } }).machine.disks;
    const made = makeDisks(disks, base)!;
    try {
      expect(made.paths).toHaveLength(2);
      const st = statSync(made.paths[0]!);
      expect(st.size).toBe(64 << 20);
      expect(st.blocks * 512).toBeLessThan(st.size / 2); // sparse: mke2fs wrote its metadata only
      const sb = spawnSync('/usr/sbin/dumpe2fs', ['-h', made.paths[0]!], { encoding: 'utf8' });
      expect(sb.stdout).toMatch(/Filesystem UUID:\s+6b666175-6c74-4000-8000-000000000000/);
      expect(sb.stdout).toMatch(/Filesystem volume name:\s+kfault0/);
      expect(sb.stdout).toMatch(/Filesystem features:.*has_journal/);
      expect(statSync(made.paths[1]!).size).toBe(1 << 20);
      expect(statSync(made.paths[1]!).blocks).toBe(0); // raw: nothing written
    } finally {
      made.remove();
    }
    expect(existsSync(made.dir)).toBe(false);
  });

  it('leave nothing behind when mke2fs fails', () => {
    // ext2 with a 1 KiB block count below what mke2fs takes: it refuses
    const before = spawnSync('ls', [base], { encoding: 'utf8' }).stdout;
    expect(() => makeDisks([{ size: 4096, fs: 'ext4' }], base)).toThrow(/machine\.disks\.0: mke2fs -t ext4 failed \(exit \d+\)/);
    expect(spawnSync('ls', [base], { encoding: 'utf8' }).stdout).toBe(before);
  });

  it("a killed kfault's disk dir is removed by the next, a live one's is not", () => {
    const dead = join(base, 'kfault-disks-999999999-abcdef');
    const alive = join(base, `kfault-disks-${process.ppid}-ghijkl`);
    mkdirSync(dead);
    mkdirSync(alive);
    expect(removeStaleDiskDirs(base)).toEqual([dead]);
    expect(existsSync(alive)).toBe(true);
  });

  it('become virtio-blk drives with serials kfault<i>, and the guest is told their filesystems', () => {
    const args = qemuArgs({ qemu: 'q', accel: 'tcg', cpus: 1, memoryMiB: 512, kernelImage: '/k', init: '/i', agentSocket: '/s', cmdline: [], disks: ['/d/a,b.img', '/d/c.img'] });
    expect(args.join(' ')).toContain('-drive file=/d/a,,b.img,format=raw,if=none,id=kfault0,cache=unsafe,discard=ignore -device virtio-blk-pci,drive=kfault0,serial=kfault0');
    expect(args.join(' ')).toContain('-device virtio-blk-pci,drive=kfault1,serial=kfault1');
    expect(disksParam([{ size: 1 << 26, fs: 'ext4' }, { size: 1 << 20, fs: null }])).toEqual(['kfault.disks=ext4,raw']);
    expect(disksParam([])).toEqual([]);
    expect(disksOfCmdline('console=ttyS0 kfault.disks=ext4,raw kfault.guest=1')).toEqual(['ext4', null]);
    expect(disksOfCmdline('console=ttyS0')).toEqual([]);
  });

  it("fail_make_request's make-it-fail goes on every scratch disk the guest found", () => {
    expect(diskFailSettings({ KFAULT_DISK0: '/dev/vda', KFAULT_MNT0: '/mnt/kfault0', KFAULT_DISK1: '/dev/vdb', HOME: '/' })).toEqual({ '/sys/block/vda/make-it-fail': '1', '/sys/block/vdb/make-it-fail': '1' });
  });
});

describe('what the ext4-* harnesses need', () => {
  it('named, they get a 64M ext4 on disk 0 and the block profile', () => {
    const c = withHarnessNeeds(parseConfig({}), ['pipe2', 'ext4-write']);
    expect(c.machine.disks).toEqual([{ size: 64 << 20, fs: 'ext4' }]);
    expect(c.kernel.profiles).toEqual(['block']);
    expect(withHarnessNeeds(parseConfig({}), ['pipe2'])).toEqual(parseConfig({}));
  });

  it("the user's own disk and kernel are kept; a disk 0 that is no ext4 is a config error", () => {
    const own = withHarnessNeeds(parseConfig({ machine: { disks: ['256M:ext4'] }, kernel: { tree: '/usr/src/linux' } }), ['ext4-mount']);
    expect(own.machine.disks).toEqual([{ size: 256 << 20, fs: 'ext4' }]);
    expect(own.kernel.profiles).toEqual([]);
    expect(() => withHarnessNeeds(parseConfig({ machine: { disks: ['64M'] } }), ['ext4-mount'])).toThrow(ConfigError);
    expect(() => withHarnessNeeds(parseConfig({ machine: { disks: ['64M'] } }), ['ext4-mount'])).toThrow('machine.disks.0: ext4-mount work on disk 0, which must be an ext4 (e.g. --disk 64M:ext4); got a raw disk');
  });

  it('the whole catalogue leaves them out unless an ext4 is mounted on disk 0', () => {
    const names = ['pipe2', 'ext4-mount', 'ext4-write'];
    expect(catalogueFor(names, [])).toEqual({ names: ['pipe2'], left: ['ext4-mount', 'ext4-write'] });
    expect(catalogueFor(names, [{ index: 0, device: '/dev/vda', fs: 'ext4', mount: '/mnt/kfault0', error: null }]).left).toEqual([]);
  });
});
