/* What kfault's C loop (native/sweep.c) does once per sweep beyond the floor, each timed on its
 * own in the guest: microseconds per call, median of N. Run by bench/run.mjs (--only profile).
 *   percall N */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../native/kfault.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void *nothing(void *arg)
{
	return arg;
}

static void *alloc_log(void *arg)
{
	free(malloc(65536));
	return arg;
}

static void thread(void *(*fn)(void *))
{
	pthread_t t;

	pthread_create(&t, NULL, fn, NULL);
	pthread_join(t, NULL);
}

static void op(int which)
{
	struct kf_error e;
	int fd;

	switch (which) {
	case 0: thread(nothing); break;
	case 1: thread(alloc_log); break;
	case 2: close(open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC)); break;
	case 3:
		fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		lseek(fd, 0, SEEK_END);
		close(fd);
		break;
	case 4: kf_in_guest(&e); break;
	case 5: prctl(PR_SET_NAME, "kf-setup"); break;
	case 6: { char b[16]; int f = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC); pwrite(f, "0", 1, 0); pread(f, b, sizeof(b), 0); close(f); } break;
	}
}

static const char *names[] = { "pthread_create + join, empty thread", "pthread_create + join, thread mallocs 64 KiB (the step log)",
			       "open + close fail-nth", "open + lseek + close /dev/kmsg", "kf_in_guest (/proc/cmdline)", "prctl(PR_SET_NAME)",
			       "open fail-nth, pwrite, pread, close" };

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	long long *t = calloc(n, sizeof(*t));

	printf("{");
	for (int w = 0; w < 7; w++) {
		for (int i = 0; i < 10; i++)
			op(w);
		for (int i = 0; i < n; i++) {
			long long t0 = now_ns();

			op(w);
			t[i] = now_ns() - t0;
		}
		qsort(t, n, sizeof(*t), cmp);
		printf("%s\"%s\":%.1f", w ? "," : "", names[w], t[n / 2] / 1000.0);
	}
	printf("}\n");
	return 0;
}
