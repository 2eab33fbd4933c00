// `kfault new-harness NAME`: a commented starting file for a user's harness.
import { existsSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { HARNESS_CFLAGS } from './compile.js';

export function harnessTemplate(name: string): string {
  return `/*
 * ${name}: a kfault harness. kfault compiles this file on the host
 *   cc ${HARNESS_CFLAGS.join(' ')}
 * loads it in the guest with dlopen, in a process of its own (a crash here costs one step), and
 * sweeps it: kfault_run() once unarmed (it must succeed), then with fail-nth = 1, 2, 3, ...
 * until a run reaches no fault-injection point. Run it with:
 *   npx kfault sweep ${name}.c            (or ${name}.c:ARG to pass ARG to every function)
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Optional: once before the sweep, never armed. Open devices, create files, load state.
 * Return 0, or -errno to stop before the sweep. */
int kfault_setup(const char *arg)
{
	(void)arg;
	return 0;
}

/*
 * Armed: reach the kernel path under test, here with a new injection point every step.
 * - Return 0, or -errno of the call that failed (kfault reports the errno per step).
 * - Free everything it made before returning, on success and on failure: the next step
 *   must start from the same state.
 * - Stay on this thread: fail-nth is per thread, a thread or process started here is not armed.
 * - Make no allocations of your own in user space beyond what the syscalls need.
 */
int kfault_run(const char *arg)
{
	int fd[2];

	(void)arg;
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -errno;
	close(fd[0]);
	close(fd[1]);
	return 0;
}

/* Optional: once after the sweep, never armed. Undo kfault_setup(). */
void kfault_teardown(const char *arg)
{
	(void)arg;
}
`;
}

/** Writes NAME.c (NAME may be a path); refuses to overwrite. Returns the file written. */
export function writeHarnessTemplate(name: string): string {
  const file = name.endsWith('.c') ? name : `${name}.c`;
  if (existsSync(file)) throw new Error(`${file} exists; not overwriting it`);
  if (!/^[A-Za-z_][\w-]*$/.test(basename(file, '.c'))) throw new Error(`'${basename(file, '.c')}': expected a name of letters, digits, _ and -`);
  writeFileSync(file, harnessTemplate(basename(file, '.c')));
  return file;
}
