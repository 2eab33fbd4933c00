// Scratch disks and block I/O errors on the real guest: the block profile's kernel (kernel/
// block.config) with an ext4 and a raw disk, fail_make_request in random mode on the ext4's
// disk, and the default kernel (no block layer) refusing disks with a clear error.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { boot } from '../../src/guest/boot.js';
import type { Guest } from '../../src/guest/guest.js';
import { compileHarness } from '../../src/harness/compile.js';
import { ensureKernel } from '../../src/kernel/build.js';

const harness = new URL('../fixtures/harnesses/write-fsync.c', import.meta.url).pathname;
const config = parseConfig({ kernel: { profiles: ['block'] }, machine: { disks: ['64M:ext4', '8M'] } });
const diskDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`kfault-disks-${process.pid}-`));
let guest: Guest;

beforeAll(async () => {
  guest = await boot(config, { kernel: await ensureKernel(config) });
}, 600_000);

afterAll(async () => {
  await guest?.close();
});

const sh = async (script: string) => {
  const r = await guest.shell(['sh', '-c', script], { cwd: '/', timeoutMs: 60_000 });
  return { status: r.exitCode, out: Buffer.from(r.stdout, 'base64').toString() + Buffer.from(r.stderr, 'base64').toString() };
};

describe('scratch disks', () => {
  it('the guest has both, by serial; the ext4 is mounted at /mnt/kfault0 and named in the environment', async () => {
    expect(guest.disks).toEqual([
      { index: 0, device: '/dev/vda', fs: 'ext4', mount: '/mnt/kfault0', error: null },
      { index: 1, device: '/dev/vdb', fs: null, mount: null, error: null },
    ]);
    const r = await sh('grep " /mnt/kfault0 " /proc/mounts; echo "$KFAULT_DISK0 $KFAULT_FS0 $KFAULT_MNT0 $KFAULT_DISK1 ${KFAULT_MNT1:-none}"; cat /sys/block/vdb/size');
    expect(r.out).toMatch(/^\/dev\/vda \/mnt\/kfault0 ext4 rw/m);
    expect(r.out).toContain('/dev/vda ext4 /mnt/kfault0 /dev/vdb none');
    expect(r.out).toMatch(/^16384$/m); // 8 MiB in 512-byte sectors
  });

  it('nothing of them is left on the host once the guest is up: QEMU holds the files open', () => {
    expect(diskDirs()).toEqual([]);
  });
});

describe('fail_make_request: random mode on the scratch disk, e2fsck after every run', () => {
  it("every run's fsync gets EIO from a bio the injector failed, and make-it-fail is put back", async () => {
    const before = await guest.faultState();
    const r = await guest.sweep(
      { name: 'write-fsync.c', library: compileHarness(harness), arg: '' },
      { mode: 'random', iterations: 4, faults: { fail_make_request: { probability: 100, times: -1 }, failslab: { probability: 0 }, fail_page_alloc: { probability: 0 } } },
    );
    expect(r.steps).toHaveLength(4);
    for (const s of r.steps) {
      expect(s.errno).toBe('EIO');
      expect(s.injected).toBe(true);
      expect(s.kmsg).toMatch(/name fail_make_request/);
      expect(s.kmsg).toMatch(/should_fail_bio|submit_bio/);
      // the bio's submitter, past the block layer: ext4's data write-out, or a buffer head (a
      // metadata read or write: after each run's fsck the disk is mounted afresh, so what the
      // first bio of the thread is depends on what ext4 has to read back in)
      expect(s.fault?.callSite).toMatch(/^(ext4_io_submit|submit_bh_wbc)[.+]/);
      expect(s.fault?.frames.some((f) => /^(ext4|__ext4|jbd2)_/.test(f))).toBe(true);
      // and after each run, e2fsck -fn of the disk: an I/O error on data leaves ext4 consistent
      expect(s.fsck?.[0]).toMatchObject({ device: '/dev/vda', ran: true, status: 0 });
    }
    expect(await guest.faultState()).toEqual(before);
    const disk = await sh('cat /sys/block/vda/make-it-fail /sys/block/vdb/make-it-fail');
    expect(disk.out).toBe('0\n0\n');
  });

  it('the ext4 is consistent afterwards: e2fsck -fn finds nothing', async () => {
    const r = await sh('umount /mnt/kfault0 && e2fsck -fn /dev/vda; s=$?; mount -t ext4 /dev/vda /mnt/kfault0; exit $s');
    expect(r.out).toMatch(/kfault0: \d+\/\d+ files/);
    expect(r.status).toBe(0);
  });
});

describe('kfault sweep ext4-rename, nothing else given', () => {
  it('makes its ext4 disk and boots the block profile, and e2fsck checks every step that injected', () => {
    const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'sweep', 'ext4-rename', '--json', '--leaks', 'off'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout);
    const [sweep] = file.results;
    expect(sweep.harness).toBe('ext4-rename');
    expect(sweep.complete).toBe(true);
    const injected = sweep.steps.filter((s: { injected: boolean }) => s.injected);
    expect(injected.length).toBeGreaterThan(3);
    for (const s of injected) expect(s.fsck?.[0]).toMatchObject({ device: '/dev/vda', fs: 'ext4', ran: true, status: 0 });
    expect(file.problems).toEqual([]);
  }, 600_000);
});

describe('the default kernel', () => {
  it('has no block layer: a disk is refused at boot with what to use instead, and nothing is left behind', async () => {
    const plain = parseConfig({ machine: { disks: ['16M:ext4'] } });
    await expect(boot(plain, { kernel: await ensureKernel(plain) })).rejects.toThrow(
      'machine.disks.0: this kernel has no block layer (CONFIG_BLOCK, CONFIG_VIRTIO_BLK): boot the block profile (--profile block, kernel.profiles: ["block"]) or a kernel with them',
    );
    expect(diskDirs()).toEqual([]);
  }, 300_000);
});
