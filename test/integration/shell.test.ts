// kfault shell on the real guest: one command with no terminal (as in CI), and an interactive
// shell on a pseudo-terminal (script(1) gives kfault one, as a user's terminal would).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { qemuNaming } from '../helpers/qemu-processes.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const module = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
// a TMPDIR of this file's own: QEMU's command line names the agent's socket in it
const tmp = mkdtempSync(join(tmpdir(), 'kfault-shell-test-'));
const env = { ...process.env, TMPDIR: tmp };
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const shell = (...args: string[]) => spawnSync(process.execPath, [bin, 'shell', ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

describe('kfault shell -- CMD, no terminal', () => {
  it("runs in the sweep's guest: its kernel command line, the module loaded, debugfs, the addon; the exit status comes back", () => {
    const script = [
      'cat /proc/cmdline',
      'test -c /dev/kfault_test && echo module: loaded',
      'test -f /sys/kernel/debug/failslab/probability && echo debugfs: mounted',
      'node -e "console.log(\'addon:\', require(process.env.KFAULT_ADDON).harnesses().length, \'harnesses\')"',
      'echo to-stderr >&2',
      'exit 3',
    ].join('; ');
    const r = shell('--module', module, '--print-qemu', '--', 'sh', '-c', script);
    expect(r.status, r.stderr).toBe(3);
    const [cmdline, ...rest] = r.stdout.trim().split('\n');
    // only the guest's command line has these: the 9p root and kfault's init
    expect(cmdline).toContain('root=/dev/root rootfstype=9p');
    expect(cmdline).toContain(`init=${root}/src/guest/init.sh kfault.guest=1`);
    expect(cmdline).not.toBe(readFileSync('/proc/cmdline', 'utf8').trim());
    expect(rest.slice(0, 2)).toEqual(['module: loaded', 'debugfs: mounted']);
    expect(rest[2]).toMatch(/^addon: \d+ harnesses$/);
    expect(r.stderr).toMatch(/^to-stderr$/m);
    expect(r.stderr).toMatch(/^qemu-system-x86_64 .*virtio-9p-pci/m);
    expect(r.stderr).not.toMatch(/virtconsole/); // no terminal asked for: the sweep's own machine
    expect(qemuNaming(tmp)).toEqual([]);
  }, 300_000);

  it('a command killed by a signal exits 128 + its number; --timeout kills a command that runs on, exit 124', () => {
    const killed = shell('--', 'sh', '-c', 'kill -KILL $$');
    expect(killed.status, killed.stderr).toBe(137);
    const slow = shell('--timeout', '3', '--', 'sleep', '600');
    expect(slow.status, slow.stderr).toBe(124);
    expect(slow.stderr).toContain('kfault: sleep 600 did not finish within 3 s and was killed (--timeout SECONDS)');
    expect(qemuNaming(tmp)).toEqual([]);
  }, 600_000);

  it('with no command and no terminal: exit 2, saying how to run one command', () => {
    const r = shell();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('stdin is not a terminal, so there is no interactive shell to give; run one command with: kfault shell -- CMD ARGS');
  });
});

describe('kfault shell on a terminal', () => {
  it('gives a shell whose terminal is the guest console (hvc0), typed into, and its exit status', async () => {
    const p = spawn('script', ['-qfec', `${process.execPath} ${bin} shell`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = 0;
    const done = new Promise<number | null>((resolve) => p.once('exit', resolve));
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (typed === 0 && out.includes('kfault-guest:')) {
        typed = 1;
        p.stdin.write('tty; echo sum=$((40+2)); cat /proc/sys/kernel/hostname\r');
      }
      if (typed === 1 && /sum=42\r*\n/.test(out)) {
        typed = 2;
        setTimeout(() => p.stdin.write('exit 5\r'), 300);
      }
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 280_000);
    const status = await done;
    clearTimeout(timer);
    // the guest terminal ends lines in \r\n, and this one (the host's, raw but with ONLCR) adds a \r
    expect(out).toContain('a shell in the guest');
    expect(out).toMatch(/\/dev\/hvc0\r*\n/);
    expect(out).toMatch(/sum=42\r*\n\(none\)\r*\n/); // the guest has no hostname set
    expect(status, out).toBe(5);
    expect(qemuNaming(tmp)).toEqual([]);
  }, 300_000);
});
