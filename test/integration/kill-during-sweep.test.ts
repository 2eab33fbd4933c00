// kfault killed in the middle of a sweep (SIGKILL: no handler of its own runs; SIGTERM: its
// handler runs) leaves no QEMU and nothing in its $TMPDIR. The sweep is held at step 3 by the
// chaos harness (it sleeps there), so the kill lands in the sweep for sure. QEMU is found from
// /proc (the CI image has no procps): its command line names the agent socket under $TMPDIR.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { qemuNaming } from '../helpers/qemu-processes.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const harness = new URL('../../bench/chaos-harness.c', import.meta.url).pathname;

describe('kfault killed during a sweep', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('%s: no QEMU left, $TMPDIR empty', async (signal) => {
    const tmp = mkdtempSync('/tmp/kfk-');
    try {
      const child = spawn(process.execPath, [bin, 'sweep', `${harness}:hang`, '--leaks', 'off'], { env: { ...process.env, TMPDIR: tmp } });
      let stderr = '';
      child.stdout.resume();
      const exited = new Promise<{ code: number | null; sig: string | null }>((res) => child.on('exit', (code, sig) => res({ code, sig })));
      const up = new Promise<boolean>((res) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/kfault: guest up/.test(stderr)) res(true);
        });
        void exited.then(() => res(false));
      });
      const safety = setTimeout(() => child.kill('SIGKILL'), 240_000);
      expect(await up, stderr).toBe(true);
      await new Promise((r) => setTimeout(r, 1500)); // steps 1 and 2 are done; step 3 sleeps
      expect(qemuNaming(tmp).length, 'its QEMU, before the kill').toBe(1);
      child.kill(signal);
      const end = await exited;
      clearTimeout(safety);
      expect(signal === 'SIGKILL' ? end.sig : end.code, stderr).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 143);
      let left = qemuNaming(tmp);
      for (let waited = 0; left.length && waited < 5000; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        left = qemuNaming(tmp);
      }
      expect(left).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      for (const q of qemuNaming(tmp)) process.kill(Number(q.split(' ')[0]), 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
