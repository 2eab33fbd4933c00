// Paths with blanks, commas and colons: each works, or is refused with an error that says why.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { socketDir } from '../../src/guest/boot.js';
import { cmdlineValue, kernelCmdline, qemuArgs, qemuOptValue } from '../../src/guest/qemu.js';
import { parseHarnessSpec } from '../../src/harness/compile.js';
import { kbuildPathProblem } from '../../src/kernel/build.js';

describe('odd paths', () => {
  it('an init path with a blank is quoted on the kernel command line; a double quote is refused', () => {
    expect(kernelCmdline({ init: '/work/k fault, x/src/guest/init.sh', cmdline: [] })).toContain('init="/work/k fault, x/src/guest/init.sh" kfault.guest=1');
    expect(kernelCmdline({ init: '/work/main/src/guest/init.sh', cmdline: [] })).toContain('init=/work/main/src/guest/init.sh kfault.guest=1');
    expect(() => cmdlineValue('the init path', '/a"b/init.sh')).toThrow('the init path "/a\\"b/init.sh" holds a double quote or a newline');
  });

  it("a comma in the agent's socket path is doubled, as QEMU's option syntax wants", () => {
    expect(qemuOptValue('/tmp/a,b/agent.sock')).toBe('/tmp/a,,b/agent.sock');
    const args = qemuArgs({ qemu: 'q', accel: 'tcg', cpus: 1, memoryMiB: 256, kernelImage: '/k', init: '/i', agentSocket: '/t/x, y/agent.sock', cmdline: [] });
    expect(args[args.indexOf('-chardev') + 1]).toBe('socket,id=agent,path=/t/x,, y/agent.sock');
  });

  it('a $TMPDIR too long for a unix socket falls back to /tmp', () => {
    const long = `/tmp/${'d'.repeat(120)}`;
    const dir = socketDir(long);
    try {
      expect(dir.startsWith('/tmp/kfault-')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a kernel build in a path with a blank is refused, naming the fix', () => {
    expect(kbuildPathProblem('/home/a b/.cache/kfault', 'the kfault cache')).toBe('the kfault cache "/home/a b/.cache/kfault" holds a blank, and the kernel\'s build system cannot work in such a path; set XDG_CACHE_HOME to a path without blanks');
    expect(kbuildPathProblem('/home/ab/.cache/kfault', 'the kfault cache')).toBeNull();
  });

  it('FILE.c:ARG with colons in the path or the argument', () => {
    expect(parseHarnessSpec('/work/a:b/harness.c:leak')).toEqual({ file: '/work/a:b/harness.c', arg: 'leak' });
    expect(parseHarnessSpec('/work/a:b/harness.c')).toEqual({ file: '/work/a:b/harness.c', arg: '' });
    expect(parseHarnessSpec('h.c:x:y')).toEqual({ file: 'h.c', arg: 'x:y' });
  });
});
