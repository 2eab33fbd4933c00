// kfault killed with SIGTERM or SIGINT while its C compiler builds a user's harness leaves no
// half-written NAME.so.tmp-PID in the harness cache: the compiler runs synchronously, so the
// signal is handled once it is done, and the scratch file is removed on the way out (the chaos
// bench found three such files, one per kill in a build, before remove-on-exit.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/kfault.js');
const harnesses = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kfault', 'harnesses');

/** The pids of pid's direct children (/proc/PID/task/PID/children). */
const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const alive = (pid: number) => existsSync(`/proc/${pid}`);
/** the compiler writing the shared object (not the preprocessor run that keys the build) */
const isCompiler = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes('.so.tmp-'));
  } catch {
    return false;
  }
};

describe('kfault killed while it compiles a harness', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s: exits, and no NAME.so.tmp-PID is left once the compiler is done', async (signal) => {
    const dir = join(root, '.kfault', `kill-build-${process.pid}-${signal}`);
    mkdirSync(dir, { recursive: true });
    // a source no earlier run built (the build is cached by content), long enough to compile for a while
    const file = join(dir, 'slow.c');
    const body = Array.from({ length: 3000 }, (_, i) => `int f${i}(int x) { return x * ${i} + (x >> 3) - ${i % 7}; }`).join('\n');
    writeFileSync(file, `// ${Date.now()} ${Math.random()}\n#include <errno.h>\n${body}\nint kfault_run(const char *a) { (void)a; return 0; }\n`);
    try {
      const child = spawn(process.execPath, [bin, 'sweep', file, '--leaks', 'off'], { stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; sig: string | null }>((res) => child.on('exit', (code, sig) => res({ code, sig })));
      // the moment the compiler runs: a child of kfault's, writing NAME.so.tmp-PID
      let compiler: number | undefined;
      for (const t0 = Date.now(); compiler === undefined && Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 5))) compiler = childrenOf(child.pid!).find(isCompiler);
      expect(compiler, 'kfault started no compiler within 30 s').toBeDefined();
      child.kill(signal);
      const end = await exited;
      // the compiler finishes on its own: wait for it, then look
      for (const t0 = Date.now(); alive(compiler!) && Date.now() - t0 < 60_000; ) await new Promise((r) => setTimeout(r, 50));
      expect(alive(compiler!), 'the compiler is still running after 60 s').toBe(false);
      expect(readdirSync(harnesses).filter((n) => n.endsWith(`.so.tmp-${child.pid}`))).toEqual([]);
      expect(end).toEqual({ code: signal === 'SIGTERM' ? 143 : 130, sig: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
