// The kfault command line.
import { ConfigError, type Config } from '../config.js';
import { boot } from '../guest/boot.js';
import { doctor, installMissing } from '../host.js';
import { DEFAULT_KMEMLEAK_PATCH, ensureKernel } from '../kernel/build.js';
import { compareTable, leakText, parseKernelSpec } from '../compare.js';
import { harnesses } from '../addon.js';
import type { SweepResult } from '../protocol.js';
import type { Leak } from '../kmsg/kmemleak-report.js';
import { readResultsFile } from '../results-file.js';
import { sweepTable, totalsLine } from '../report.js';
import { configFrom, parse, type Flags } from './args.js';

const USAGE = `usage: kfault <command> [options]

commands:
  setup                 install missing Debian packages (as root) and build the default kernel
  kernel build          build (or find in the cache) the kernel the config asks for
  sweep [harness...]    boot the kernel and sweep harnesses (default: the whole catalogue)
  compare [harness...]  the same sweeps on two kernels (--a, --b), side by side
  report FILE           print the tables of a saved "kfault sweep --json" again (no guest)
  harnesses             list the built-in harnesses
  doctor                say what the host lacks and how to install it

options:
  --config FILE         a JSON config (default: ./kfault.config.json when it exists)
  --image PATH          boot a prebuilt bzImage or vmlinux
  --tree PATH           build this kernel tree instead of Debian's linux-source
  --fragment FILE       an extra Kconfig fragment (repeatable)
  --patches DIR         a patch series (DIR/series) applied to the Debian source
  --accel auto|kvm|tcg  default auto: KVM when it works, TCG otherwise
  --cpus N --memory MiB the guest's size
  --max-steps N         stop a sweep after N steps (default 1000)
  --kmemleak-filter on|off
                        keep injected faults out of kmemleak's own code (default on)
  --a SPEC, --b SPEC    compare's kernels: stock | patches:DIR | tree:PATH | image:PATH
                        (default: stock against kernel/patches/kmemleak-no-fault-inject)
  --leaks               sweep: one kmemleak check after all the sweeps (clear, wait, scan twice)
  --json                print results as JSON
  --print-qemu          print the exact QEMU command line
  --console             echo the guest's console
  --log-dir DIR         where console logs go (default .kfault)`;

const err = (s: string) => process.stderr.write(s + '\n');

async function sweepOn(config: Config, flags: Flags, names: string[], onResult: (r: SweepResult) => void, checkLeaks = false): Promise<{ kernel: string; accel: string; results: SweepResult[]; leaks: Leak[] | null }> {
  const known = harnesses().map((h) => h.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) {
    throw new ConfigError(unknown.map((n) => ({ path: 'harness', message: `unknown harness '${n}'; expected one of: ${known.join(', ')}` })));
  }
  const kernel = await ensureKernel(config);
  const start = Date.now();
  const guest = await boot(config, {
    kernel,
    onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined,
    onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined,
  });
  const results: SweepResult[] = [];
  let leaks: Leak[] | null = null;
  try {
    if (checkLeaks) await guest.kmemleakClear();
    err(`kfault: guest up (${guest.kernel}, ${guest.accel}) in ${((Date.now() - start) / 1000).toFixed(1)} s; ${guest.notes.join('; ')}`);
    for (const name of names.length ? names : guest.catalogue.map((h) => h.name)) {
      const r = await guest.sweep(name);
      results.push(r);
      onResult(r);
    }
    if (checkLeaks) {
      const k = await guest.kmemleakCheck();
      leaks = k.enabled ? k.leaks : null;
    }
  } finally {
    await guest.close();
  }
  return { kernel: guest.kernel, accel: guest.accel, results, leaks };
}

async function compare(config: Config, flags: Flags, names: string[]): Promise<number> {
  const a = parseKernelSpec(flags.a ?? 'stock', config.kernel, '--a');
  const b = parseKernelSpec(flags.b ?? `patches:${DEFAULT_KMEMLEAK_PATCH}`, config.kernel, '--b');
  // Kernels are compared as they are: without kfault's kmemleak filter unless asked for.
  const sweep = { ...config.sweep, kmemleakFilter: flags['kmemleak-filter'] === 'on' };
  const sides = [];
  for (const side of [a, b]) {
    err(`kfault: sweeping on ${side.label}`);
    const r = await sweepOn({ ...config, kernel: side.kernel, sweep }, flags, names, () => {}, true);
    sides.push({ label: side.label, kernel: r.kernel, results: r.results, leaks: r.leaks });
  }
  if (flags.json) console.log(JSON.stringify(sides, null, 2));
  else console.log(compareTable(sides[0]!, sides[1]!));
  return 0;
}

async function kernelBuild(config: Config): Promise<number> {
  const k = await ensureKernel(config);
  console.log(`${k.image}${k.origin === 'cache' ? ' (cached)' : ''}`);
  return 0;
}

async function sweep(config: Config, flags: Flags, names: string[]): Promise<number> {
  const start = Date.now();
  const r = await sweepOn(
    config,
    flags,
    names,
    (one) => {
      if (!flags.json) console.log(sweepTable(one) + '\n');
    },
    flags.leaks,
  );
  if (flags.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(totalsLine(r.results, Date.now() - start));
    if (flags.leaks) console.log(`kmemleak after all sweeps: ${leakText(r.leaks)}`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values: flags, positionals } = parse(argv);
    const [command, ...rest] = positionals;
    if (flags.help || !command) {
      console.log(USAGE);
      return command || flags.help ? 0 : 2;
    }
    switch (command) {
      case 'doctor': {
        const lines = doctor(configFrom(flags).kernel.source);
        for (const l of lines) console.log(l.text);
        return lines.every((l) => l.ok) ? 0 : 1;
      }
      case 'harnesses':
        for (const h of harnesses()) console.log(`${h.name.padEnd(16)} ${h.syscall.padEnd(18)} ${h.summary}`);
        return 0;
      case 'setup': {
        const config = configFrom(flags);
        if (!installMissing(config.kernel.image ? undefined : config.kernel.source, err)) return 1;
        return await kernelBuild(config);
      }
      case 'kernel':
        if (rest[0] !== 'build') throw new ConfigError([{ path: 'argv', message: `unknown kernel command '${rest[0] ?? ''}'; expected: kernel build` }]);
        return await kernelBuild(configFrom(flags));
      case 'sweep':
        return await sweep(configFrom(flags), flags, rest);
      case 'report': {
        if (!rest[0]) throw new ConfigError([{ path: 'argv', message: 'expected: kfault report RESULTS.json (from kfault sweep --json)' }]);
        const saved = readResultsFile(rest[0]);
        for (const r of saved.results) console.log(sweepTable(r) + '\n');
        console.log(`kernel ${saved.kernel} (${saved.accel})`);
        return 0;
      }
      case 'compare':
        return await compare(configFrom(flags), flags, rest);
      default:
        throw new ConfigError([{ path: 'argv', message: `unknown command '${command}'; expected one of: setup, kernel build, sweep, compare, report, harnesses, doctor` }]);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return e.exitCode;
    }
    err(`kfault: ${(e as Error).message}`);
    return 1;
  }
}
