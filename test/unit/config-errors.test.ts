// Bad configs as a user writes them, through the CLI: the exact text printed, exit code 2, and
// nothing built or booted (every case here fails before kfault looks for a kernel). The library
// (runBatch, ConfigSchema) refuses each with the same text.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ConfigSchema } from '../../src/config.js';
import { checkedConfig, resolveTargets, runBatch } from '../../src/sweep-batch.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kfault-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function withConfig(config: unknown, ...args: string[]) {
  const file = join(dir, `bad-${n++}.json`);
  writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2', '--config', file, ...args], { encoding: 'utf8', cwd: dir });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const printed = (...lines: string[]) => ['invalid kfault configuration:', ...lines.map((l) => `  ${l}`), ''].join('\n');

describe('bad configs: the exact text, exit 2, nothing boots', () => {
  const cases: Array<[string, unknown, string[]]> = [
    ['an out-of-range probability', { sweep: { mode: 'random' }, faults: { failslab: { probability: 150 } } }, ['faults.failslab.probability: Too big: expected number to be <=100; got 150']],
    ['an unknown injector', { faults: { failslabs: { taskFilter: true } } }, ['faults: unknown key "failslabs"; did you mean "failslab"?']],
    ['a misspelled knob', { sweep: { mode: 'random' }, faults: { failslab: { probabilty: 10 } } }, ['faults.failslab: unknown key "probabilty"; did you mean "probability"?']],
    ['a misspelled section', { kernle: { kasan: true } }, ['(root): unknown key "kernle"; did you mean "kernel"?']],
    ['a stack filter that is not a function name', { faults: { failslab: { require: 'alloc_pipe_info+0x10' } } }, ['faults.failslab.require: expected a kernel function name, as in /proc/kallsyms; got "alloc_pipe_info+0x10"']],
    ['a stack filter range of three', { faults: { failslab: { reject: ['a', 'b', 'c'] } } }, ['faults.failslab.reject: expected a function name, or [first, last] function names']],
    ['interval 0', { sweep: { mode: 'random' }, faults: { fail_page_alloc: { interval: 0 } } }, ['faults.fail_page_alloc.interval: Too small: expected number to be >=1; got 0']],
    ['times -2', { sweep: { mode: 'global' }, faults: { failslab: { times: -2 } } }, ['faults.failslab.times: Too small: expected number to be >=-1; got -2']],
    ['verbose 3', { faults: { failslab: { verbose: 3 } } }, ['faults.failslab.verbose: Too big: expected number to be <=2; got 3']],
    ['a stack trace deeper than the kernel keeps', { faults: { failslab: { stacktraceDepth: 33 } } }, ['faults.failslab.stacktraceDepth: Too big: expected number to be <=32; got 33']],
    ['a page order above MAX_PAGE_ORDER', { faults: { fail_page_alloc: { minOrder: 11 } } }, ['faults.fail_page_alloc.minOrder: Too big: expected number to be <=10; got 11']],
    ['a string for a boolean', { faults: { failslab: { taskFilter: 'Y' } } }, ['faults.failslab.taskFilter: Invalid input: expected boolean; got "Y"']],
    ['an unknown mode', { sweep: { mode: 'fuzz' } }, ['sweep.mode: Invalid option: expected one of "systematic"|"random"|"global"; got "fuzz"']],
    ['probability with fail-nth', { faults: { failslab: { probability: 10 } } }, ['faults.failslab.probability: fail-nth ignores probability; it applies with sweep.mode random or global']],
    ['fail_usercopy in global mode', { sweep: { mode: 'global' }, faults: { fail_usercopy: {} } }, ['faults.fail_usercopy: global mode cannot drive fail_usercopy: the write that turns injection off again is itself a copy from user space, which it would fail in every task, so faults could stay armed; use sweep.mode random (the harness thread only) or systematic']],
    ['retval without inject', { faults: { fail_function: { retval: -12 } } }, ['faults.fail_function.retval: give the functions to fail in faults.fail_function.inject']],
    ['a kernel tree that is not one', { kernel: { tree: '/usr' } }, ['kernel.tree: /usr is not a Linux source tree (no Makefile)']],
    ['a kernel tree that does not exist', { kernel: { tree: '/nonexistent/linux' } }, ['kernel.tree: /nonexistent/linux does not exist; expected a Linux source tree']],
    ['a fragment that does not exist', { kernel: { fragments: ['/nonexistent/debug.config'] } }, ['kernel.fragments.0: /nonexistent/debug.config does not exist; expected a Kconfig fragment (CONFIG_X=y lines)']],
    ['an image that is not a kernel', { kernel: { image: bin } }, [`kernel.image: ${bin} is neither a bzImage nor an ELF vmlinux`]],
    ['a module that does not exist', { modules: ['/nonexistent/mod'] }, ['modules.0.path: /nonexistent/mod does not exist; expected a kbuild directory or a .ko']],
    ['a tree and an image', { kernel: { tree: '/usr', image: bin } }, ['kernel.image: give either kernel.tree or kernel.image, not both']],
    ['a disk size that is no size', { machine: { disks: ['64Q:ext4'] } }, ['machine.disks.0.size: expected a size like 64M, 1G or 512K (binary units); got "64Q"']],
    ['a disk too small for its filesystem', { machine: { disks: ['2M:ext4'] } }, ['machine.disks.0.size: ext4 needs a disk of 4M at least; got 2097152 bytes']],
    ['a disk bigger than kfault makes', { machine: { disks: [{ size: '65G' }] } }, ['machine.disks.0.size: expected a size from 1M to 64G, a multiple of 512 bytes (69793218560 bytes); got "65G"']],
    ['a filesystem kfault cannot make', { machine: { disks: ['64M:xfs'] } }, ['machine.disks.0.fs: expected a filesystem kfault can make and check: ext4, ext3, ext2 (or none, for a raw disk); got "xfs"']],
    ['a disk spec with two colons', { machine: { disks: ['64M:ext4:x'] } }, ['machine.disks.0.spec: expected SIZE or SIZE:FS, e.g. 64M:ext4; got "64M:ext4:x"']],
    ['an unknown kernel profile', { kernel: { profiles: ['blk'] } }, ['kernel.profiles.0: Invalid input: expected "block"; got "blk"']],
    ['fail_make_request with no disk', { sweep: { mode: 'random' }, faults: { fail_make_request: { probability: 100 } } }, ['faults.fail_make_request: fails I/O to the scratch disks only, and there is none: give one with --disk SIZE[:FS] (machine.disks), e.g. --disk 64M:ext4']],
    [
      'every problem at once, one per line',
      { machine: { cpus: 0, accel: 'xen' }, sweep: { mode: 'random', iterations: 0 }, faults: { failslab: { probability: -1, verbose: 3 } } },
      [
        'machine.accel: Invalid option: expected one of "auto"|"kvm"|"tcg"; got "xen"',
        'machine.cpus: Too small: expected number to be >=1; got 0',
        'sweep.iterations: Too small: expected number to be >=1; got 0',
        'faults.failslab.probability: Too small: expected number to be >=0; got -1',
        'faults.failslab.verbose: Too big: expected number to be <=2; got 3',
      ],
    ],
  ];
  for (const [what, config, lines] of cases) {
    it(what, () => {
      const r = withConfig(config);
      expect(r.stderr).toBe(printed(...lines));
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    });

    it(`${what}: the library refuses it with the same text`, async () => {
      expect(() => checkedConfig(config as object)).toThrow(ConfigError); // so runBatch cannot get as far as a build
      const e = await runBatch(config as object, ['pipe2']).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect(`${(e as Error).message}\n`).toBe(printed(...lines));
    });
  }

  it("the schema's own errors are the cross-field checks too, at the paths the CLI names", () => {
    const r = ConfigSchema.safeParse({ faults: { failslab: { probability: 10 } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['faults.failslab.probability', 'fail-nth ignores probability; it applies with sweep.mode random or global']]);
  });

  it('an unknown harness: the CLI and runBatch name it and the catalogue alike', async () => {
    const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe3'], { encoding: 'utf8', cwd: dir });
    expect(r.status).toBe(2);
    expect(() => resolveTargets(['pipe3'])).toThrow(ConfigError); // so runBatch cannot get as far as a boot
    const e = await runBatch({}, ['pipe3']).catch((x: unknown) => x);
    expect(`${(e as Error).message}\n`).toBe(r.stderr);
    expect(r.stderr).toMatch(/^invalid kfault configuration:\n {2}harness: unknown harness 'pipe3'; expected a C file/);
  });

  it('flags on top of the file are checked the same way', () => {
    const r = withConfig({ sweep: { mode: 'random' } }, '--probability', '101');
    expect(r.stderr).toBe(
      printed('faults.failslab.probability: Too big: expected number to be <=100; got 101', 'faults.fail_page_alloc.probability: Too big: expected number to be <=100; got 101'),
    );
    expect(r.status).toBe(2);
  });

  it('a config file that is not JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "sweep": { "mode": "random", } }');
    const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2', '--config', file], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/^invalid kfault configuration:\n {2}broken\.json: not valid JSON: .+\n$/);
    expect(r.status).toBe(2);
  });

  it('a --config that does not exist', () => {
    const r = spawnSync(process.execPath, [bin, 'sweep', 'pipe2', '--config', 'nope.json'], { encoding: 'utf8', cwd: dir });
    expect(r.stderr).toBe(printed('--config: nope.json does not exist'));
    expect(r.status).toBe(2);
  });
});
