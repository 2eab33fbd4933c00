// Users' out-of-tree kernel modules: built against the kernel kfault built, or taken as .ko
// files and checked against it, before the guest loads them.
import { createHash } from 'node:crypto';
import { closeSync, cpSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { cacheDir } from '../paths.js';
import { withBuildLock } from './build-lock.js';
import { makeEnv, type Kernel } from './build.js';
import { run } from './run.js';

export interface ModuleSpec {
  /** a directory with a Kbuild (or Makefile) file, or a built .ko */
  path: string;
  params: string;
}

export class ModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleError';
  }
}

/** The vermagic a .ko was built for, e.g. "6.12.117 SMP mod_unload ", from its .modinfo. */
export function vermagicOf(ko: string): string | null {
  const buf = readFileSync(ko);
  const at = buf.indexOf('vermagic=');
  if (at < 0) return null;
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at + 'vermagic='.length, end < 0 ? undefined : end);
}

export function kernelRelease(buildDir: string): string {
  const f = join(buildDir, 'include/config/kernel.release');
  if (!existsSync(f)) throw new ModuleError(`${buildDir} has no include/config/kernel.release: not a built kernel`);
  return readFileSync(f, 'utf8').trim();
}

/** The release a bzImage was built as: the first word of the version string its setup header
 * points at (kernel_version at 0x20e, an offset from 0x200); null for anything else. */
export function bzImageRelease(image: string): string | null {
  let fd: number;
  try {
    fd = openSync(image, 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(0x210);
    if (readSync(fd, head, 0, head.length, 0) < head.length || head.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
    const at = head.readUInt16LE(0x20e);
    if (!at) return null;
    const text = Buffer.alloc(256);
    const n = readSync(fd, text, 0, text.length, at + 0x200);
    const release = text.toString('latin1', 0, n).split(/[\0 ]/)[0]!;
    return /^\d+\.\d+\S*$/.test(release) ? release : null;
  } finally {
    closeSync(fd);
  }
}

/** Pure: does a module's vermagic fit this kernel release? (the release is its first word) */
export function checkVermagic(ko: string, vermagic: string | null, release: string): string | null {
  if (vermagic === null) return `${ko} has no vermagic: not a kernel module`;
  const built = vermagic.split(' ')[0];
  return built === release ? null : `${ko} was built for kernel ${built}, but the guest runs ${release}; rebuild it against this kernel (or give its source directory and kfault builds it)`;
}

/** What a module build makes in its source dir: not part of what goes into it. */
const BUILD_OUTPUT = /\.(o|ko|mod|mod\.c|mod\.o|cmd|order|symvers|a|d|tmp)$|^(modules\.order|Module\.symvers)$|^\./;

/** Every file of the module's source, in every subdirectory (a header in include/, a Kbuild of
 * a sub-object), by relative path and content: the cache key of its build. */
export function hashDir(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    for (const f of readdirSync(join(dir, rel)).sort()) {
      if (BUILD_OUTPUT.test(f)) continue;
      const r = rel ? `${rel}/${f}` : f;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) h.update(`${r}\0`).update(readFileSync(join(dir, r))).update('\0');
    }
  };
  walk('');
  return h.digest('hex').slice(0, 12);
}

/** `make modules` once in the kernel's build dir: out-of-tree builds need its Module.symvers. */
async function prepareBuildDir(buildDir: string): Promise<void> {
  if (existsSync(join(buildDir, 'Module.symvers'))) return;
  await withBuildLock(buildDir, `make modules in ${buildDir}`, async () => {
    if (existsSync(join(buildDir, 'Module.symvers'))) return;
    const log = createWriteStream(join(buildDir, 'kfault-modules.log'));
    const { env, cc } = makeEnv();
    try {
      await run('make', ['-C', buildDir, 'ARCH=x86_64', ...cc, 'modules'], { log, env });
    } finally {
      await new Promise((r) => log.end(r));
    }
  });
}

/** The .ko files to load for these specs, built or checked for this kernel. */
export async function modulesFor(kernel: Kernel, specs: ModuleSpec[]): Promise<Array<{ path: string; params: string }>> {
  const out: Array<{ path: string; params: string }> = [];
  for (const spec of specs) {
    const path = resolve(spec.path);
    if (!existsSync(path)) throw new ModuleError(`modules: ${path} does not exist`);
    if (statSync(path).isFile()) {
      if (!path.endsWith('.ko')) throw new ModuleError(`modules: ${path} is neither a .ko file nor a directory with a Kbuild file`);
      // a built kernel's release from its build dir; a prebuilt bzImage's from its header
      const release = kernel.buildDir ? kernelRelease(kernel.buildDir) : bzImageRelease(kernel.image);
      if (release !== null) {
        const wrong = checkVermagic(path, vermagicOf(path), release);
        if (wrong) throw new ModuleError(`modules: ${wrong}`);
      }
      out.push({ path, params: spec.params });
      continue;
    }
    if (!existsSync(join(path, 'Kbuild')) && !existsSync(join(path, 'Makefile'))) {
      throw new ModuleError(`modules: ${path} has no Kbuild or Makefile: expected a kbuild module directory`);
    }
    if (!kernel.buildDir || !existsSync(join(kernel.buildDir, 'Makefile'))) {
      const pruned = kernel.origin === 'cache' && kernel.dir && kernel.buildDir;
      throw new ModuleError(
        pruned
          ? `modules: cannot build ${path}: the build tree of the kernel ${kernel.image} is gone (kfault keeps the build trees of the newest kernels of a source only); remove ${kernel.dir} and build the kernel again, or give a .ko built for it`
          : `modules: cannot build ${path}: the kernel (${kernel.image}) has no build dir; give a .ko built for it instead`,
      );
    }
    await prepareBuildDir(kernel.buildDir);
    // Built in a copy, so the user's directory gets no build products.
    const work = join(cacheDir(), 'modules', `${basename(path)}-${basename(kernel.buildDir)}-${hashDir(path)}`);
    const kos = () => (existsSync(work) ? readdirSync(work).filter((f) => f.endsWith('.ko')) : []);
    if (!kos().length) {
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      cpSync(path, work, { recursive: true, filter: (src) => !/\.(o|ko|mod|cmd)$|\.mod\.c$/.test(src) });
      const log = createWriteStream(join(work, 'kfault-build.log'));
      const { env, cc } = makeEnv();
      try {
        await run('make', ['-C', kernel.buildDir, 'ARCH=x86_64', ...cc, `M=${work}`, 'modules'], { log, env });
      } catch (e) {
        throw new ModuleError(`modules: building ${path} against ${kernel.buildDir} failed:\n${(e as Error).message.replaceAll(work, path)}`);
      } finally {
        await new Promise((r) => log.end(r));
      }
    }
    for (const ko of kos()) out.push({ path: join(work, ko), params: spec.params });
  }
  return out;
}
