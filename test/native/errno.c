/* Focused test of where native code reads errno: the failing call's errno, never one a later
 * call left. Links native/sweep.c and native/guest.c with --wrap, so the failures are made
 * here, on the host, with nothing armed: fail-nth is /dev/null, /dev/kmsg an empty pipe, and
 * only the calls named below fail. Prints one line per case: "<case> <errno name> <syscall>". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../native/kfault.h"

int __real_open(const char *path, int flags, ...);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);

static int nth_fd = -1, cmdline_fd = -1;
static int fail_pread, fail_pwrite, fail_cmdline_read;

int __wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	if (strcmp(path, "/proc/thread-self/fail-nth") == 0)
		return nth_fd = __real_open("/dev/null", O_RDWR | O_CLOEXEC);
	if (strcmp(path, "/dev/kmsg") == 0) {
		int p[2];

		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
			return -1;
		return p[0]; /* empty: every read says EAGAIN, as /dev/kmsg at its end */
	}
	if (strcmp(path, "/proc/cmdline") == 0)
		return cmdline_fd = __real_open(path, flags, mode);
	return __real_open(path, flags, mode);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	if (fail_cmdline_read && fd == cmdline_fd) {
		errno = EIO;
		return -1;
	}
	return __real_read(fd, buf, n);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	if (fail_pread && fd == nth_fd) {
		errno = EIO;
		return -1;
	}
	return __real_pread(fd, buf, n, off);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fail_pwrite && fd == nth_fd && n && ((const char *)buf)[0] != '0')
		return 0; /* a short write: no errno of its own */
	return __real_pwrite(fd, buf, n, off);
}

/* lseek on a pipe fails with ESPIPE: the sweep ignores it (take_kmsg) */
static int run(struct kf_ctx *c)
{
	(void)c;
	errno = 0;
	return 0;
}

static void on_step(void *opaque, const struct kf_step *s)
{
	(void)opaque;
	(void)s;
}

static void sweep_case(const char *name)
{
	const struct kf_harness h = { .name = "errno-test", .syscall = "test", .summary = "", .run = run };
	const struct kf_sweep_opts o = { .first = 1, .last = 3 };
	struct kf_error e = { 0 };
	int complete;
	int r = kf_sweep_here(&h, "/tmp", &o, on_step, NULL, &complete, &e);

	printf("%s %d %s %s\n", name, r, strerrorname_np(e.err) ? strerrorname_np(e.err) : "0", e.syscall ? e.syscall : "-");
}

int main(void)
{
	struct kf_error e = { 0 };

	fail_pread = 1;
	sweep_case("read-fail-nth");
	fail_pread = 0;
	fail_pwrite = 1;
	sweep_case("write-fail-nth");
	fail_pwrite = 0;
	fail_cmdline_read = 1;
	kf_in_guest(&e);
	printf("read-cmdline 0 %s %s\n", strerrorname_np(e.err) ? strerrorname_np(e.err) : "0", e.syscall ? e.syscall : "-");
	return 0;
}
