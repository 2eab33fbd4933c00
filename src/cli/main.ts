// The kfault command line.
import { ConfigError, type Config } from '../config.js';
import { boot } from '../guest/boot.js';
import { doctor, installMissing } from '../host.js';
import { ensureKernel } from '../kernel/build.js';
import { harnesses } from '../addon.js';
import type { SweepResult } from '../protocol.js';
import { sweepTable, totalsLine } from '../report.js';
import { configFrom, parse, type Flags } from './args.js';

const USAGE = `usage: kfault <command> [options]

commands:
  setup                 install missing Debian packages (as root) and build the default kernel
  kernel build          build (or find in the cache) the kernel the config asks for
  sweep [harness...]    boot the kernel and sweep harnesses (default: the whole catalogue)
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
  --json                print results as JSON
  --print-qemu          print the exact QEMU command line
  --console             echo the guest's console
  --log-dir DIR         where console logs go (default .kfault)`;

const err = (s: string) => process.stderr.write(s + '\n');

async function kernelBuild(config: Config): Promise<number> {
  const k = await ensureKernel(config);
  console.log(`${k.image}${k.origin === 'cache' ? ' (cached)' : ''}`);
  return 0;
}

async function sweep(config: Config, flags: Flags, names: string[]): Promise<number> {
  const kernel = await ensureKernel(config);
  const start = Date.now();
  const guest = await boot(config, {
    kernel,
    onQemuCommand: flags['print-qemu'] ? (c) => err(c) : undefined,
    onConsoleLine: flags.console ? (l) => err(`guest| ${l}`) : undefined,
  });
  const results: SweepResult[] = [];
  try {
    err(`kfault: guest up (${guest.kernel}, ${guest.accel}) in ${((Date.now() - start) / 1000).toFixed(1)} s; ${guest.notes.join('; ')}`);
    const todo = names.length ? names : guest.catalogue.map((h) => h.name);
    for (const name of todo) {
      const r = await guest.sweep(name);
      results.push(r);
      if (!flags.json) console.log(sweepTable(r) + '\n');
    }
  } finally {
    await guest.close();
  }
  if (flags.json) console.log(JSON.stringify({ kernel: guest.kernel, accel: guest.accel, results }, null, 2));
  else console.log(totalsLine(results, Date.now() - start));
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
      default:
        throw new ConfigError([{ path: 'argv', message: `unknown command '${command}'; expected one of: setup, kernel build, sweep, harnesses, doctor` }]);
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
