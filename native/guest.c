#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kfault.h"

#define GUEST_MARKER "kfault.guest=1"

int kf_in_guest(struct kf_error *e)
{
	/* The command line does not change while the kernel runs: once seen, it is not read again
	 * (kf_sweep asks before every sweep). */
	static volatile int seen;
	char buf[4096];
	const char *call = "open";
	ssize_t n;
	int fd, err;

	if (seen)
		return 1;
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno; /* before close() may change it */
	close(fd);
	if (n < 0) {
		call = "read";
		goto fail;
	}
	buf[n] = '\0';
	for (char *save, *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, GUEST_MARKER) == 0)
			return seen = 1;
	e->err = EPERM;
	e->code = "KFAULT_NOT_GUEST";
	e->syscall = "arm";
	snprintf(e->path, sizeof(e->path), "/proc/cmdline");
	snprintf(e->message, sizeof(e->message),
		 "refusing to arm fault injection outside a kfault guest (no %s on the kernel command line)",
		 GUEST_MARKER);
	return 0;
fail:
	e->err = err;
	e->code = NULL;
	e->syscall = call;
	snprintf(e->path, sizeof(e->path), "/proc/cmdline");
	e->message[0] = '\0';
	return 0;
}
