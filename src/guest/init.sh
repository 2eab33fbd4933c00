#!/bin/sh
# PID 1 of a kfault guest: the host's root is mounted read-only over 9p. Mount what the agent
# needs (fstab, next to this script), run it (the agent makes its work dir under /run/kfault),
# then reboot (QEMU runs with -no-reboot, so it exits).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/kfault TMPDIR=/run/kfault
# The package root, three levels up from this script: with the shell's own expansion, as every
# process started under TCG costs the boot.
root=${0%/*}
root=${root%/*}
root=${root%/*}
mount -a -T "$root/src/guest/fstab"
agent="${kfault_agent:-$root/dist/guest/agent.bundle.cjs}"
echo "kfault: init up, starting $agent"
# --expose-gc and no memory reducer: during global injection (stress) the agent must not start
# a garbage collection, whose munmap() would fail and abort V8. --single-threaded: no V8
# background threads (concurrent GC, compilers) that could still be working, and allocating,
# when every allocation in the kernel starts to fail.
node --expose-gc --no-memory-reducer --single-threaded "$agent"
status=$?
# Through the kernel log, not init's stdout: a line written to the console tty can still sit in
# the serial driver's buffer when sysrq 'b' restarts the machine, and is then lost (seen in the CI
# image under TCG); printk writes it out to the serial console before the sysrq's own message.
echo "kfault: agent exited with status $status" > /dev/kmsg
echo b > /proc/sysrq-trigger
