/* The one /dev/kmsg reader: a sweep's step logs (sweep.c) and the agent's reads of the kernel
 * log (src/guest/kmsg.ts, src/guest/bench.ts, through the addon). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kfault.h"

int kf_kmsg_open(int from_start)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && !from_start)
		lseek(fd, 0, SEEK_END); /* from now on: what was logged before is not the reader's */
	return fd;
}

/* A record is "prio,seq,usec,flags;text\n" then " KEY=value\n" lines: rec gets the text and its
 * newline (the dictionary lines are left out); the kernel escapes newlines inside a message. */
void kf_kmsg_drain(int fd, kf_kmsg_fn rec, void *opaque)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf) - 2);
		char *text, *end;
		unsigned long long usec = 0;

		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten before we read them; go on */
		if (n <= 0)
			return;
		buf[n] = '\0';
		text = strchr(buf, ';');
		if (!text)
			continue;
		*text++ = '\0';
		if (sscanf(buf, "%*u,%*u,%llu", &usec) != 1)
			usec = 0;
		end = strchr(text, '\n');
		if (!end) {
			end = text + strlen(text);
			end[1] = '\0';
		}
		*end = '\n';
		rec(opaque, usec, text, (size_t)(end - text) + 1);
	}
}
