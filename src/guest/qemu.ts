// The exact QEMU command line of a kfault guest, as a pure function (printed by --print-qemu).
export type Accel = 'kvm' | 'tcg';

export interface QemuOptions {
  qemu: string;
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  kernelImage: string;
  /** the guest's PID 1: kfault's init script, on the host root the guest mounts over 9p */
  init: string;
  /** unix socket the host listens on; QEMU connects it to the agent's virtio-serial port */
  agentSocket: string;
  cmdline: string[];
  /** kfault shell: a unix socket the host listens on, for a virtio console (the guest's hvc0) */
  shellSocket?: string;
  /** scratch disks (raw image files): virtio-blk, serial kfault<i> */
  disks?: string[];
}

/** A kernel parameter's value: in double quotes when it holds blanks (the kernel's parser strips
 * them); a double quote or a newline cannot be given at all. */
export function cmdlineValue(what: string, value: string): string {
  if (/["\n]/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} holds a double quote or a newline, which a kernel command line cannot carry; move it to a path without them`);
  return /\s/.test(value) ? `"${value}"` : value;
}

/** QEMU's option syntax: a comma in a value is written twice. */
export const qemuOptValue = (value: string) => value.replaceAll(',', ',,');

/** Kernel parameters: the host's / as a read-only 9p root, serial console, and the kfault marker. */
export function kernelCmdline(o: Pick<QemuOptions, 'init' | 'cmdline'>): string {
  return [
    'console=ttyS0',
    'root=/dev/root',
    'rootfstype=9p',
    'rootflags=trans=virtio,version=9p2000.L,cache=loose',
    'ro',
    `init=${cmdlineValue('the init path', o.init)}`,
    'kfault.guest=1',
    'panic=-1',
    // An oops in a sweep step would leave a half-dead guest; as a panic it reboots (and QEMU,
    // run with -no-reboot, exits), so the host records the step and boots a fresh guest.
    'oops=panic',
    // ...and the panic prints the whole kernel log again (PANIC_PRINT_ALL_PRINTK_MSG), at the
    // raised loglevel of an oops: the crashed step's fault-injection stack dump, kept off the
    // console while it ran, then reaches the host, and the crash gets its fault site
    'panic_print=32',
    'loglevel=5',
    // Every allocation zeroed: kmalloc'd memory otherwise keeps what it held while free (SLUB's
    // free pointer, the last owner's data), and kmemleak counts such a stale word in any object
    // it scans as a reference, so a real leak goes unreported (bench: leak-detection).
    'init_on_alloc=1',
    ...o.cmdline,
  ].join(' ');
}

export function qemuArgs(o: QemuOptions): string[] {
  return [
    '-accel', o.accel,
    '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(o.cpus),
    '-m', String(o.memoryMiB),
    '-nodefaults',
    '-no-reboot',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
    '-kernel', o.kernelImage,
    '-append', kernelCmdline(o),
    '-fsdev', 'local,id=root,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=root,mount_tag=/dev/root',
    '-device', 'virtio-serial-pci',
    '-chardev', `socket,id=agent,path=${qemuOptValue(o.agentSocket)}`,
    '-device', 'virtserialport,chardev=agent,name=kfault.agent',
    // cache=unsafe: a scratch disk's data need not survive the host; discard ignored, so the
    // guest's discards do not punch holes the next boot's sparse file would not have
    ...(o.disks ?? []).flatMap((path, i) => ['-drive', `file=${qemuOptValue(path)},format=raw,if=none,id=kfault${i},cache=unsafe,discard=ignore`, '-device', `virtio-blk-pci,drive=kfault${i},serial=kfault${i}`]),
    ...(o.shellSocket ? ['-chardev', `socket,id=shell,path=${qemuOptValue(o.shellSocket)}`, '-device', 'virtconsole,chardev=shell,name=kfault.shell'] : []),
  ];
}

/** Quotes a command for a POSIX shell, so the printed line can be pasted as it is. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
