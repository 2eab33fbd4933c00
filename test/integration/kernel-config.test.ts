// kfault kernel config on the real Debian source: the merged .config, and what olddefconfig
// dropped, without building a kernel (no guest; needs linux-source and the default kernel cached,
// as `npm test`'s pretest makes sure of).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDir } from '../../src/paths.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const kfault = (...args: string[]) => spawnSync(process.execPath, [bin, 'kernel', 'config', ...args], { encoding: 'utf8', timeout: 240_000 });
const dir = mkdtempSync(join(new URL('../..', import.meta.url).pathname, '.kfault/kernel-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scratch = () => (existsSync(join(cacheDir(), 'tmp')) ? readdirSync(join(cacheDir(), 'tmp')).filter((f) => f.startsWith('config-')) : []);

describe('kfault kernel config', () => {
  it('the default kernel: its .config from the cache entry, every option kept, exit 0', () => {
    const r = kfault('--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { from: string; cacheEntry: string; config: string; asked: Array<{ option: string; fragment: string }>; dropped: unknown[] };
    expect(j.from).toBe('cache');
    expect(j.config).toBe(readFileSync(join(j.cacheEntry, 'config'), 'utf8'));
    expect(j.config).toMatch(/^CONFIG_FAULT_INJECTION=y$/m);
    expect(j.asked.map((a) => a.option)).toContain('CONFIG_FAILSLAB');
    expect(j.dropped).toEqual([]);
    // printed: the .config on stdout, what it is on stderr
    const text = kfault();
    expect(text.stdout).toBe(j.config);
    expect(text.stderr).toMatch(/^kfault: \d+ options asked for by kernel\/kfault\.config: none dropped$/m);
  });

  it('a fragment of the user\'s: configured with olddefconfig, not built; the options it loses named, exit 1', () => {
    const fragment = join(dir, 'extra.config');
    // USB_STORAGE depends on USB and SCSI, which tinyconfig leaves out; the other does not exist
    writeFileSync(fragment, 'CONFIG_USB_STORAGE=y\nCONFIG_KFAULT_NO_SUCH_OPTION=y\nCONFIG_CRC_CCITT=y\n');
    const out = join(dir, 'merged.config');
    const kernels = readdirSync(join(cacheDir(), 'kernels'));
    const r = kfault('--fragment', fragment, '--out', out);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('from tinyconfig + the fragments + make olddefconfig just now (not built; would be cached as ');
    expect(r.stdout).toMatch(/: 2 dropped by olddefconfig \(a build would stop on them\):\n  CONFIG_USB_STORAGE: asked for y \(.*extra\.config\), \.config has not set\n  CONFIG_KFAULT_NO_SUCH_OPTION: asked for y \(.*extra\.config\), \.config has not set\n$/);
    const merged = readFileSync(out, 'utf8');
    expect(merged).toMatch(/^CONFIG_CRC_CCITT=y$/m);
    expect(merged).toMatch(/^CONFIG_FAILSLAB=y$/m);
    expect(merged).not.toMatch(/^CONFIG_USB_STORAGE=/m);
    // nothing built, nothing left: no new cache entry, no scratch build dir
    expect(readdirSync(join(cacheDir(), 'kernels'))).toEqual(kernels);
    expect(scratch()).toEqual([]);
  }, 240_000);

  it('a prebuilt image has no merged .config: exit 2, saying so', () => {
    const r = kfault('--image', join(cacheDir(), 'kernels', readdirSync(join(cacheDir(), 'kernels'))[0]!, 'bzImage'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is a prebuilt image: kfault does not configure it, so it has no merged .config to show');
  });
});
