// A checkout whose path holds a blank and a comma, and a $TMPDIR that does too: kfault boots
// and sweeps from there (the init path is quoted on the kernel command line, the socket path's
// comma doubled for QEMU). The kernel comes from the cache, whose path has no blank.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
// under the repo, not /tmp: the guest mounts a tmpfs on /tmp and sees the host's files over 9p
const base = join(root, '.kfault', 'odd paths, test');
const checkout = join(base, 'k fault, copy');
const tmp = join(base, 'tmp dir, too');
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('paths with a blank and a comma', () => {
  it('kfault sweep pipe2 from a checkout and with a $TMPDIR whose paths hold both', () => {
    mkdirSync(join(checkout, 'build', 'Release'), { recursive: true });
    mkdirSync(join(checkout, 'src', 'guest'), { recursive: true });
    mkdirSync(tmp, { recursive: true });
    for (const d of ['bin', 'dist', 'kernel']) cpSync(join(root, d), join(checkout, d), { recursive: true });
    cpSync(join(root, 'package.json'), join(checkout, 'package.json'));
    cpSync(join(root, 'build/Release/kfault.node'), join(checkout, 'build/Release/kfault.node'));
    cpSync(join(root, 'src/guest/init.sh'), join(checkout, 'src/guest/init.sh'));
    cpSync(join(root, 'src/guest/fstab'), join(checkout, 'src/guest/fstab'));
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'));
    const r = spawnSync(process.execPath, [join(checkout, 'bin/kfault.js'), 'sweep', 'pipe2', '--print-qemu'], { cwd: checkout, encoding: 'utf8', timeout: 300_000, env: { ...process.env, TMPDIR: tmp } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pipe2: 6 failure points: 6 failed, 0 tolerated, 0 absorbed; ended at nth=7;/m);
    expect(r.stderr).toContain(`init="${checkout}/src/guest/init.sh"`);
    expect(r.stderr).toContain(`path=${tmp.replaceAll(',', ',,')}/kfault-`);
    expect(readdirSync(tmp)).toEqual([]); // the socket dir is gone afterwards
  }, 300_000);
});
