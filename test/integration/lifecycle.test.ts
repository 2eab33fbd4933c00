// No orphan QEMU: a guest is gone after close(), and also when the host process is killed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { boot } from '../../src/guest/boot.js';
import { ensureKernel } from '../../src/kernel/build.js';

const config = parseConfig({});
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeStatus(pid));
function safeStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('guest lifecycle', () => {
  it('close() stops QEMU and is safe to call twice', async () => {
    const guest = await boot(config); // the kernel the config asks for, from the cache
    expect(alive(guest.pid)).toBe(true);
    await guest.close();
    await guest.close();
    expect(await until(() => !alive(guest.pid), 5000)).toBe(true);
    // it shut down by itself: the agent exited and init rebooted (QEMU was not killed)
    const log = readFileSync(guest.consoleLog, 'utf8');
    expect(log).toContain('kfault: agent exited with status 0');
    expect(log).toContain('sysrq: Resetting');
  }, 300_000);

  it('QEMU dies with a host process that is killed with SIGKILL', async () => {
    const kernel = await ensureKernel(config);
    const script = `
      import { boot } from './dist/guest/boot.js';
      import { parseConfig } from './dist/config.js';
      const g = await boot(parseConfig({}), { kernel: ${JSON.stringify(kernel)} });
      console.log('qemu ' + g.pid);
      setInterval(() => {}, 1000);`;
    const host = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: host.stdout! }).on('line', (l) => l.startsWith('qemu ') && resolve(l));
      host.once('exit', (code) => reject(new Error(`host process exited early (${code})`)));
    });
    const qemuPid = Number(line.split(' ')[1]);
    expect(alive(qemuPid)).toBe(true);
    host.kill('SIGKILL');
    expect(await until(() => !alive(qemuPid), 5000)).toBe(true);
  }, 300_000);
});
