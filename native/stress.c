#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kfault.h"

#define MAX_PATHS 8

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Turns injection off: writes 0 to every file until each took it (a write an injector failed
 * is tried again, as sweep.c's disarm_make_it_fail does). The index of a file that never took
 * it, with errno of its last try, or -1. */
static int disarm_all(const int *fds, int n, int *err)
{
	int bad = -1;

	for (int i = 0; i < n; i++) {
		int tries = 0;

		while (write(fds[i], "0", 1) != 1) { /* debugfs attributes do not seek */
			if ((errno != EFAULT && errno != ENOMEM && errno != EINTR) || ++tries == 1000) {
				bad = i;
				*err = errno;
				break;
			}
		}
	}
	return bad;
}

/* Each file its own probability (0-100); the index of a file that refused it, or -1. */
static int write_each(const int *fds, int n, const int *probability)
{
	char value[8];
	int bad = -1;

	for (int i = 0; i < n; i++) {
		int p = probability[i] < 0 ? 0 : probability[i] > 100 ? 100 : probability[i];

		snprintf(value, sizeof(value), "%d", p);
		if (write(fds[i], value, strlen(value)) != (ssize_t)strlen(value))
			bad = i;
	}
	return bad;
}

int kf_stress(const struct kf_harness *h, const char *dir, long ms,
	      const char *const *probability_paths, const int *probability, int npaths,
	      struct kf_stress_result *out, struct kf_error *e)
{
	int fds[MAX_PATHS];
	struct kf_ctx ctx = { .dir = dir, .user = h->user };
	long long start, end;
	int ret = 0, bad, err = 0;

	memset(out, 0, sizeof(*out));
	if (!kf_in_guest(e))
		return -1;
	if (npaths > MAX_PATHS)
		npaths = MAX_PATHS;
	for (int i = 0; i < npaths; i++) {
		fds[i] = open(probability_paths[i], O_RDWR | O_CLOEXEC);
		if (fds[i] < 0) {
			kf_set_error(e, errno, "open", probability_paths[i]);
			while (i--)
				close(fds[i]);
			return -1;
		}
	}
	if (h->setup && (ret = h->setup(&ctx)) < 0) {
		kf_set_error(e, -ret, "setup", h->name);
		goto out;
	}
	start = now_ns();
	end = start + ms * 1000000LL;
	bad = write_each(fds, npaths, probability);
	if (bad >= 0) {
		kf_set_error(e, errno, "write", probability_paths[bad]);
		ret = -1;
		goto out;
	}
	while (now_ns() < end) {
		ctx.fd[0] = ctx.fd[1] = ctx.fd[2] = -1;
		ctx.id = -1;
		if (h->run(&ctx) < 0)
			out->failed++;
		if (h->undo)
			h->undo(&ctx);
		for (int i = 0; i < 3; i++)
			if (ctx.fd[i] >= 0)
				close(ctx.fd[i]);
		out->runs++;
	}
	bad = disarm_all(fds, npaths, &err);
	if (bad >= 0) {
		kf_set_error(e, err, "write", probability_paths[bad]);
		snprintf(e->message, sizeof(e->message),
			 "could not turn global injection off: writing 0 to %s failed",
			 probability_paths[bad]);
		ret = -1;
	}
	out->ns = now_ns() - start;
	if (h->teardown)
		h->teardown(&ctx);
out:
	disarm_all(fds, npaths, &err);
	for (int i = 0; i < npaths; i++)
		close(fds[i]);
	return ret < 0 ? -1 : 0;
}
