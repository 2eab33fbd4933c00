/* The usual shell way, one step: a new process per failure point (as failcmd.sh-style scripts
 * do), run by bench/shell-sweep.sh in a loop. It runs the harness once unarmed (as kfault's loop
 * does, so the armed run counts the same points), arms fail-nth with NTH, runs it again, reads
 * fail-nth back, and disarms. The same harness code as kfault's (native/harnesses.c).
 *
 *   step HARNESS NTH      exit 0: the NTH point was injected; 1: nothing was (the sweep is over);
 *                         2: error */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../native/kfault.h"

static void reset_ctx(struct kf_ctx *c, const char *dir)
{
	c->dir = dir;
	c->user = NULL;
	c->fd[0] = c->fd[1] = c->fd[2] = -1;
	c->id = -1;
}

static void release(const struct kf_harness *h, struct kf_ctx *c)
{
	if (h->undo)
		h->undo(c);
	for (int i = 0; i < 3; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
}

int main(int argc, char **argv)
{
	const struct kf_harness *h;
	struct kf_error e = { 0 };
	struct kf_ctx ctx;
	char dir[4096], buf[16];
	int fd, nth, len;
	ssize_t n;
	long left;

	if (argc != 3 || !(h = kf_find_harness(argv[1])) || (nth = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: step HARNESS NTH\n");
		return 2;
	}
	if (!kf_in_guest(&e) || !getcwd(dir, sizeof(dir)))
		return 2;
	fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 2;
	reset_ctx(&ctx, dir);
	if (h->setup && h->setup(&ctx) < 0)
		return 2;
	reset_ctx(&ctx, dir);
	if (h->run(&ctx) < 0)
		return 2;
	release(h, &ctx);
	reset_ctx(&ctx, dir);
	len = snprintf(buf, sizeof(buf), "%d", nth);
	if (pwrite(fd, buf, len, 0) != len)
		return 2;
	h->run(&ctx);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	left = n > 0 ? strtol(buf, NULL, 10) : -1;
	if (left != 0)
		pwrite(fd, "0", 1, 0);
	release(h, &ctx);
	if (h->teardown) {
		reset_ctx(&ctx, dir);
		h->teardown(&ctx);
	}
	return left == 0 ? 0 : left > 0 ? 1 : 2;
}
