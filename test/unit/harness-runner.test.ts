// The harness runner (native/harness-runner.c) is an executable anyone can start, on the host
// too: it must arm nothing there. Started as the agent starts it (fd 3 a pipe), it answers
// with an error record (native/runner.h) and exits; without fd 3 it says how it is meant to run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native.js';

const runner = new URL('../../build/Release/kfault-harness-runner', import.meta.url).pathname;
const fixture = new URL('../fixtures/harnesses/report-process.c', import.meta.url).pathname;

/** struct runner_error: int err, char code[48], syscall[48], path[256], message[256] */
function errorRecord(out: Buffer) {
  const str = (at: number, len: number) => out.subarray(at, at + len).toString('utf8').replace(/\0.*$/s, '');
  return { tag: String.fromCharCode(out[0]!), err: out.readInt32LE(1), code: str(5, 48), syscall: str(53, 48), path: str(101, 256), message: str(357, 256) };
}

function run(args: string[]) {
  // stdio[3] is the runner's fd 3: the pipe the agent reads records from
  const r = spawnSync(runner, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], encoding: 'buffer', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr.toString(), out: (r.output[3] as Buffer | null) ?? Buffer.alloc(0) };
}

describe.runIf(!loadBinding().inGuest())('the harness runner, on the host', () => {
  it('is built next to the addon', () => {
    expect(existsSync(runner)).toBe(true);
  });

  it('refuses to arm outside a kfault guest, before it loads the harness', () => {
    const r = run([fixture.replace(/\.c$/, '.so-that-does-not-exist'), '', '/', '1', '10', '0', '', String(process.pid)]);
    expect(r.out.length).toBe(1 + 612);
    expect(errorRecord(r.out)).toMatchObject({ tag: 'E', code: 'KFAULT_NOT_GUEST', message: expect.stringMatching(/^refusing to arm fault injection outside a kfault guest/) });
    expect(r.status).toBe(1);
  });

  it('names a bad argument instead of sweeping with it', () => {
    const r = run(['x.so', '', '/', '0', '10', '0', '', String(process.pid)]);
    expect(errorRecord(r.out)).toMatchObject({ tag: 'E', code: 'KFAULT_RUNNER_ARGS', message: "kfault-harness-runner: bad first step '0'" });
    expect(run(['x.so']).out.length).toBe(1 + 612);
    expect(errorRecord(run(['x.so']).out).message).toMatch(/bad argument count \(expected LIBRARY ARG DIR FIRST LAST RANDOM SKIP PARENT_PID\) '1'/);
  });

  it('started by another parent than it was told (its agent died before it ran): exits at once, says nothing', () => {
    const r = run(['x.so', '', '/', '1', '10', '0', '', '1']);
    expect(r.status).toBe(1);
    expect(r.out.length).toBe(0);
  });

  it('without fd 3: says how it is started, exit 2', () => {
    const r = spawnSync(runner, [], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/fd 3 is not open; this program is started by the kfault agent/);
  });
});
