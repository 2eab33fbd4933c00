import { describe, expect, it } from 'vitest';
import { planAccel } from '../../src/guest/accel.js';
import { kernelCmdline, qemuArgs, shellQuote } from '../../src/guest/qemu.js';

const base = { qemu: 'qemu-system-x86_64', cpus: 2, memoryMiB: 1024, kernelImage: '/k/bzImage', init: '/pkg/src/guest/init.sh', agentSocket: '/tmp/s/agent.sock', cmdline: [] };

describe('qemu command', () => {
  it('marks the guest so the addon may arm faults there, and only there', () => {
    expect(kernelCmdline(base).split(' ')).toContain('kfault.guest=1');
  });

  it('shares the host root read-only over 9p and boots kfault init', () => {
    const args = qemuArgs({ ...base, accel: 'tcg' });
    expect(args).toContain('local,id=root,path=/,security_model=none,readonly=on,multidevs=remap');
    expect(args[args.indexOf('-append') + 1]).toContain('init=/pkg/src/guest/init.sh');
    expect(args).toContain('-no-reboot');
  });

  it('uses the host CPU under KVM and a full emulated CPU under TCG', () => {
    expect(qemuArgs({ ...base, accel: 'kvm' }).join(' ')).toContain('-accel kvm -cpu host');
    expect(qemuArgs({ ...base, accel: 'tcg' }).join(' ')).toContain('-accel tcg -cpu max');
  });

  it('quotes the printed command so it can be pasted into a shell', () => {
    expect(shellQuote(['qemu', '-append', "console=ttyS0 a='b'"])).toBe(`qemu -append 'console=ttyS0 a='\\''b'\\'''`);
  });
});

describe('accelerator plan', () => {
  it('tries KVM then TCG on auto when /dev/kvm is usable', () => {
    expect(planAccel('auto', null).order).toEqual(['kvm', 'tcg']);
  });
  it('goes straight to TCG when KVM is known not to work', () => {
    const p = planAccel('auto', '/dev/kvm: ENOENT');
    expect(p.order).toEqual(['tcg']);
    expect(p.note).toBe('TCG: KVM not usable (/dev/kvm: ENOENT)');
  });
  it('never falls back when an accelerator was asked for', () => {
    expect(planAccel('kvm', null).order).toEqual(['kvm']);
    expect(planAccel('tcg', null).order).toEqual(['tcg']);
  });
});
