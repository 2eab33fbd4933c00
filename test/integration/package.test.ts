// kfault as a user gets it: `npm pack`, the tarball installed into a fresh project (the addon
// compiled by node-gyp there), then the CLI, the vitest fixture and the types, all from that
// project's node_modules, on the real kernel in QEMU. The kernel is the one already in the cache:
// the package ships kernel/ unchanged, so its cache key is the repository's; this test fails
// rather than start a kernel build.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKey, debianSourceVersion } from '../../src/kernel/build.js';
import { readSeries } from '../../src/kernel/patches.js';
import { cacheDir } from '../../src/paths.js';
import { defaults } from '../../src/config.js';

const repo = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
// Not under /tmp (the guest mounts a tmpfs there and would not see the project), and not under
// the repository, whose node_modules and vitest.config.ts would be found from the project: in
// kfault's cache dir, which has neither.
const work = join(cacheDir(), 'tmp', `package-test-${process.pid}-${Date.now()}`);
const project = join(work, 'project');
const installed = join(project, 'node_modules/kfault');

// What the user's shell has: none of the variables the `npm test` and vitest running this file
// set for themselves (the user's own npm_config_*, e.g. nodedir or cafile, stay), and no
// repository node_modules/.bin on PATH.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_lifecycle_|npm_package_|npm_command$|npm_config_local_prefix$|INIT_CWD$|VITEST|NODE_ENV$|TEST$)/i.test(k)));
env.PATH = (process.env.PATH ?? '').split(':').filter((p) => !p.startsWith(repo)).join(':');

function run(cmd: string, args: string[], cwd: string, timeout = 600_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r;
}
const output = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

// A user installs from the npm registry. Where there is none (docker/test.sh runs the suite in a
// container with --network=none), this file is skipped and says so.
const ping = spawnSync('npm', ['ping'], { env, encoding: 'utf8', timeout: 60_000 });
const offline = ping.status !== 0;
if (offline) console.warn(`package.test.ts: skipped: the npm registry is not reachable (npm ping: ${(ping.stderr || ping.error?.message || '').trim().split('\n').pop()})`);

let packed: { filename: string; files: Array<{ path: string }> };
const kernelsDir = join(cacheDir(), 'kernels');

beforeAll(() => {
  if (offline) return;
  mkdirSync(work, { recursive: true });
  // a fresh project: nothing above it that Node or vitest would find instead of what it installs
  for (let d = dirname(work); ; d = dirname(d)) {
    for (const f of ['node_modules', 'package.json', 'vitest.config.ts', 'vite.config.ts']) expect(existsSync(join(d, f)), `${join(d, f)} is above the test project`).toBe(false);
    if (d === '/') break;
  }
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], repo);
  expect(pack.status, output(pack)).toBe(0);
  packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'kfault-user', private: true, type: 'module' }, null, 2));
  const install = run('npm', ['install', '--no-audit', '--no-fund', join(work, packed.filename), 'vitest', 'typescript@5', '@types/node@20'], project, 900_000);
  expect(install.status, output(install)).toBe(0);
}, 1_200_000);

// the project holds an installed node_modules (thousands of files): removing it took over vitest's
// default 10 s hook timeout while a kernel build shared the 2 cores
afterAll(() => rmSync(work, { recursive: true, force: true }), 180_000);

describe.skipIf(offline)('the npm package, installed in a fresh project', () => {
  it('ships dist/ with types, the schema, the addon sources and kernel/, and no tests or bench', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['bin/kfault.js', 'dist/index.js', 'dist/index.d.ts', 'dist/vitest.js', 'dist/vitest.d.ts', 'dist/cli/main.js', 'dist/guest/agent.js', 'dist/guest/agent.bundle.cjs', 'schema.json', 'binding.gyp', 'native/sweep.c', 'native/kfault.h', 'native/harness-runner.c', 'native/runner.h', 'kernel/kfault.config', 'kernel/kasan.config', 'kernel/patches/series', 'src/guest/init.sh', 'src/guest/fstab', 'README.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|build|docker|\.ci)\//.test(f) || f.endsWith('.map') || (f.startsWith('src/') && f !== 'src/guest/init.sh' && f !== 'src/guest/fstab'))).toEqual([]);
    // the addon and the harness runner (an executable of its own) were compiled at install, in the project
    expect(existsSync(join(installed, 'build/Release/kfault.node'))).toBe(true);
    expect(statSync(join(installed, 'build/Release/kfault-harness-runner')).mode & 0o111).not.toBe(0);
  });

  it('npx kfault --help works (it failed with "Cannot find module .../dist/cli/main.js")', () => {
    const r = run('npx', ['kfault', '--help'], project);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toMatch(/^usage: kfault <command>/);
  });

  it("kfault/schema.json resolves, sits where a config's \"$schema\" finds it, and accepts kfault init --json's config", () => {
    const node = run(process.execPath, ['-e', "console.log(require.resolve('kfault/schema.json'))"], project);
    expect(node.stdout.trim(), output(node)).toBe(join(installed, 'schema.json'));
    const dir = join(project, 'json-config');
    mkdirSync(dir);
    const init = run('npx', ['kfault', 'init', '--json'], dir);
    expect(init.status, output(init)).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'kfault.config.json'), 'utf8')) as { $schema: string };
    expect(config.$schema).toBe('./node_modules/kfault/schema.json');
    const schema = JSON.parse(readFileSync(join(project, config.$schema), 'utf8')) as object;
    expect(new Ajv().validate(schema, config)).toBe(true);
    rmSync(dir, { recursive: true });
  });

  it('tsc --noEmit type-checks a kfault.config.ts (from kfault init) and a vitest file against the shipped .d.ts, and catches a wrong one', () => {
    const init = run('npx', ['kfault', 'init'], project);
    expect(init.status, output(init)).toBe(0);
    expect(readFileSync(join(project, 'kfault.config.ts'), 'utf8')).toContain("import { defineConfig } from 'kfault';");
    writeFileSync(join(project, 'kernel.test.ts'), KERNEL_TEST);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, include: ['kfault.config.ts', 'kernel.test.ts'] }, null, 2));
    const tsc = run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], project);
    expect(tsc.status, output(tsc)).toBe(0);
    // the types are real, not any: a wrong config does not type-check
    writeFileSync(join(project, 'wrong.config.ts'), "import { defineConfig } from 'kfault';\nexport default defineConfig({ machine: { accel: 'xen' } });\n");
    writeFileSync(join(project, 'tsconfig.wrong.json'), JSON.stringify({ extends: './tsconfig.json', include: ['wrong.config.ts'] }));
    const wrong = run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.wrong.json'], project);
    expect(wrong.status, output(wrong)).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong\.config\.ts\(2,\d+\): error TS2322: Type '"xen"' is not assignable/);
    rmSync(join(project, 'wrong.config.ts'));
  }, 300_000);

  it('npx kfault sweep pipe2 sweeps on the cached kernel (no kernel build) with the installed package', () => {
    // The kernel this package asks for, by the same cache key kfault computes, from the
    // installed package's own kernel/ files: it must already be in the cache.
    const fragment = join(installed, 'kernel/kfault.config');
    expect(readFileSync(fragment, 'utf8')).toBe(readFileSync(join(repo, 'kernel/kfault.config'), 'utf8'));
    const key = cacheKey({ source: defaults.kernel.source, version: debianSourceVersion(defaults.kernel.source), fragments: [{ path: fragment, text: readFileSync(fragment, 'utf8') }], patches: readSeries(join(installed, 'kernel/patches')) });
    const image = join(kernelsDir, key, 'bzImage');
    expect(existsSync(image), `${image} is not in the cache: run npx kfault setup in the repository first (this test does not build kernels)`).toBe(true);
    const builtAt = statSync(join(kernelsDir, key, 'meta.json')).mtimeMs;

    // with the project's kfault.config.ts (kfault init's: harnesses ['pipe2']), loaded through the project's typescript
    const r = run('npx', ['kfault', 'sweep', 'pipe2', '--print-qemu'], project);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain('pipe2 — pipe2(O_CLOEXEC) (pipe2)\n  nth  verdict');
    expect(r.stdout).toMatch(/^ +\d+ +failed +ENFILE +alloc_inode\+0x[0-9a-f]+ <- new_inode_pseudo\b/m);
    expect(r.stdout).toMatch(/^pipe2: \d+ failure points: \d+ failed, /m);
    // the cached image, and the installed package's guest init (and so its agent and addon)
    expect(r.stderr).toContain(`-kernel ${image}`);
    expect(r.stderr).toContain(join(installed, 'src/guest/init.sh'));
    expect(r.stderr).not.toMatch(/kernel build|unpacking/);
    // the cache entry was not built again
    expect(statSync(join(kernelsDir, key, 'meta.json')).mtimeMs).toBe(builtAt);
  }, 600_000);

  it("a vitest file importing createKernelTest from 'kfault/vitest' runs on a real guest and passes", () => {
    const r = run('npx', ['vitest', 'run', 'kernel.test.ts', '--reporter=default', '--reporter=json', '--outputFile.json=vitest.json'], project, 900_000);
    expect(r.status, output(r)).toBe(0);
    const report = JSON.parse(readFileSync(join(project, 'vitest.json'), 'utf8')) as { numPassedTests: number; numTotalTests: number; testResults: Array<{ name: string; assertionResults: Array<{ title: string; status: string }> }> };
    expect(report.testResults.map((f) => f.name)).toEqual([join(project, 'kernel.test.ts')]);
    expect(report.testResults[0]!.assertionResults.map((t) => [t.title, t.status])).toEqual([
      ['pipe2 error paths are clean, swept on a real guest', 'passed'],
      ['the same guest serves the next test: a real kernel, with fail-nth', 'passed'],
    ]);
    expect([report.numPassedTests, report.numTotalTests]).toEqual([2, 2]);
  }, 900_000);
});

/** The user's test file: the README's fixture, as a project writes it. */
const KERNEL_TEST = `import { expect } from 'vitest';
import { createKernelTest } from 'kfault/vitest';

const kernelTest = createKernelTest();

kernelTest('pipe2 error paths are clean, swept on a real guest', async ({ guest }) => {
  const r = await guest.sweep('pipe2');
  expect(r.harness).toBe('pipe2');
  expect(r.steps.filter((s) => s.injected).length).toBeGreaterThan(0);
  expect(r.steps.some((s) => s.injected && s.ret < 0 && s.errno === 'ENFILE')).toBe(true);
  expect(r).toHaveNoLeaks();
  expect(r).toHandleEveryFailure();
}, 300_000);

kernelTest('the same guest serves the next test: a real kernel, with fail-nth', async ({ guest }) => {
  expect(guest.raw.restarts).toBe(0);
  expect(guest.raw.kernel).toMatch(/^6\\.12\\./);
  expect((await guest.raw.harnesses()).map((h) => h.name)).toContain('pipe2');
}, 300_000);
`;
