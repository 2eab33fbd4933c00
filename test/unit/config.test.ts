import { describe, expect, it } from 'vitest';
import { ConfigError, defaults, globalModeProblems, parseConfig } from '../../src/config.js';

function printed(input: unknown): string {
  try {
    parseConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills every default from one object', () => {
    const c = parseConfig({});
    expect(c.kernel.source).toBe(defaults.kernel.source);
    expect(c.machine).toEqual(defaults.machine);
    expect(c.sweep.maxSteps).toBe(1000);
  });

  it('takes the harnesses to sweep; none means the whole catalogue', () => {
    expect(parseConfig({}).harnesses).toEqual([]);
    expect(parseConfig({ harnesses: ['pipe2', 'my.c:arg'] }).harnesses).toEqual(['pipe2', 'my.c:arg']);
    expect(printed({ harnesses: [''] })).toBe('invalid kfault configuration:\n  harnesses.0: Too small: expected string to have >=1 characters; got ""');
  });

  it('keeps what the user set', () => {
    const c = parseConfig({ machine: { accel: 'tcg', cpus: 1 }, sweep: { maxSteps: 5 } });
    expect(c.machine.accel).toBe('tcg');
    expect(c.machine.cpus).toBe(1);
    expect(c.machine.memoryMiB).toBe(1024);
    expect(c.sweep.maxSteps).toBe(5);
  });

  it('prints an unknown accelerator with its path and the choices', () => {
    expect(printed({ machine: { accel: 'xen' } })).toBe(
      'invalid kfault configuration:\n  machine.accel: Invalid option: expected one of "auto"|"kvm"|"tcg"; got "xen"',
    );
  });

  it('prints a misspelled key', () => {
    expect(printed({ machine: { memmory: 512 } })).toBe('invalid kfault configuration:\n  machine: unknown key "memmory"; expected one of accel, cpus, memoryMiB, bootTimeoutMs, requestTimeoutMs, stepTimeoutMs, kvmProbeMs, cmdline, disks');
  });

  it('prints every problem, one per line', () => {
    expect(printed({ machine: { cpus: 0, memoryMiB: 'lots' }, sweep: { maxSteps: 1.5 } })).toBe(
      [
        'invalid kfault configuration:',
        '  machine.cpus: Too small: expected number to be >=1; got 0',
        '  machine.memoryMiB: Invalid input: expected number; got "lots"',
        '  sweep.maxSteps: Invalid input: expected int; got 1.5',
      ].join('\n'),
    );
  });

  it('takes modules as paths or {path, params}, and prints a bad one', () => {
    expect(parseConfig({ modules: ['mod', { path: 'x.ko', params: 'debug=1' }] }).modules).toEqual([
      { path: 'mod', params: '' },
      { path: 'x.ko', params: 'debug=1' },
    ]);
    expect(printed({ modules: [{ params: 'x=1' }] })).toBe(
      ['invalid kfault configuration:', '  modules.0.path: Invalid input: expected string, received undefined'].join('\n'),
    );
  });

  it('prints a kmemleak suppression that is not a function name', () => {
    expect(printed({ kmemleak: { suppress: ['leaky+0x11/0x6f'] } })).toBe(
      'invalid kfault configuration:\n  kmemleak.suppress.0: expected a function name, as kmemleak prints it in a backtrace; got "leaky+0x11/0x6f"',
    );
  });

  it('refuses KASAN on a prebuilt image (cross-field check)', () => {
    expect(printed({ kernel: { image: '/boot/vmlinuz', kasan: true } })).toBe(
      "invalid kfault configuration:\n  kernel.kasan: cannot add KASAN to a prebuilt kernel.image; build it with CONFIG_KASAN instead",
    );
  });

  it('prints a bad kernel source package name', () => {
    expect(printed({ kernel: { source: 'linux-6.12' } })).toBe(
      'invalid kfault configuration:\n  kernel.source: expected a Debian package name like linux-source-6.12; got "linux-6.12"',
    );
  });

  it('rejects a tree and an image together (cross-field check)', () => {
    expect(printed({ kernel: { tree: '/src/linux', image: '/boot/vmlinuz' } })).toBe(
      'invalid kfault configuration:\n  kernel.image: give either kernel.tree or kernel.image, not both',
    );
  });

  it('rejects fragments and patches for a prebuilt image', () => {
    expect(printed({ kernel: { image: '/boot/vmlinuz', fragments: ['x.config'], patches: 'p' } })).toBe(
      [
        'invalid kfault configuration:',
        '  kernel.fragments: cannot apply config fragments to a prebuilt kernel.image',
        '  kernel.patches: cannot apply patches to a prebuilt kernel.image',
      ].join('\n'),
    );
  });

  it('rejects a kernel parameter with a space', () => {
    expect(printed({ machine: { cmdline: ['a b'] } })).toBe(
      'invalid kfault configuration:\n  machine.cmdline.0: expected one kernel parameter without spaces; got "a b"',
    );
  });
});

describe('global mode and fail_usercopy', () => {
  const why = 'global mode cannot drive fail_usercopy: the write that turns injection off again is itself a copy from user space, which it would fail in every task, so faults could stay armed; use sweep.mode random (the harness thread only) or systematic';

  it('refuses fail_usercopy in global mode, with the reason', () => {
    expect(printed({ sweep: { mode: 'global' }, faults: { fail_usercopy: {} } })).toBe(`invalid kfault configuration:\n  faults.fail_usercopy: ${why}`);
    expect(printed({ sweep: { mode: 'global' }, faults: { fail_usercopy: { probability: 5 } } })).toBe(`invalid kfault configuration:\n  faults.fail_usercopy: ${why}`);
  });

  it('the agent refuses it too, for stress requests that bypass the config (Guest.stress)', () => {
    expect(globalModeProblems({ fail_usercopy: {} })).toEqual([{ path: 'faults.fail_usercopy', message: why }]);
    expect(globalModeProblems({ failslab: { probability: 100 }, fail_futex: {} })).toEqual([]);
  });

  it('takes fail_usercopy in random and systematic mode, and the other injectors in global mode', () => {
    expect(parseConfig({ sweep: { mode: 'random' }, faults: { fail_usercopy: { probability: 5 } } }).faults.fail_usercopy).toEqual({ probability: 5 });
    expect(parseConfig({ faults: { fail_usercopy: {} } }).faults.fail_usercopy).toEqual({});
    expect(parseConfig({ sweep: { mode: 'global' }, faults: { failslab: { probability: 100 }, fail_futex: {} } }).sweep.mode).toBe('global');
  });
});
