/* A user's harness runs in a child process: its own crash (SIGSEGV, abort) must not take the
 * guest agent down. The child loads the shared object, runs the sweep loop and sends each step
 * over a pipe; the parent passes them on and, when the child dies of a signal in a step,
 * reports that step and starts a new child at the next one. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kfault.h"

/* A step's kernel log from the harness process, at most (the loop's own log is far smaller). */
#define KMSG_MAX (16 << 20)

enum { REC_START = 'S', REC_STEP = 'T', REC_DONE = 'D', REC_ERROR = 'E' };

struct child_out {
	int fd;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void child_start(void *opaque, int nth)
{
	struct child_out *c = opaque;
	char tag = REC_START;

	write_all(c->fd, &tag, 1);
	write_all(c->fd, &nth, sizeof(nth));
}

static void child_step(void *opaque, const struct kf_step *s)
{
	struct child_out *c = opaque;
	char tag = REC_STEP;

	write_all(c->fd, &tag, 1);
	write_all(c->fd, s, sizeof(*s));
	write_all(c->fd, s->kmsg, s->kmsg_len);
}

static void __attribute__((noreturn)) run_child(int fd, const char *library, const char *arg,
						const char *dir, const struct kf_sweep_opts *o)
{
	struct child_out out = { fd };
	struct kf_sweep_opts opts = *o;
	struct kf_user user;
	struct kf_harness h;
	struct kf_error e = { 0 };
	int complete = 0, ret;
	char tag;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	opts.on_start = child_start;
	ret = kf_user_open(library, arg, &user, &h, &e);
	if (ret == 0)
		ret = kf_sweep_here(&h, dir, &opts, child_step, &out, &complete, &e);
	tag = ret < 0 ? REC_ERROR : REC_DONE;
	write_all(fd, &tag, 1);
	if (ret < 0)
		write_all(fd, &e, sizeof(e));
	else
		write_all(fd, &complete, sizeof(complete));
	_exit(0);
}

/* One child: 1 when it died of a signal in step *crashed_nth, 0 when it finished, -1 on error. */
static int one_child(const char *library, const char *arg, const char *dir,
		     const struct kf_sweep_opts *o, kf_step_fn on_step, void *opaque,
		     int *complete, int *crashed_nth, int *signo, struct kf_error *e)
{
	int pipefd[2], status, started = 0, finished = 0, result = -2;
	char *kmsg = NULL;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		kf_set_error(e, errno, "pipe2", library);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		kf_set_error(e, errno, "fork", library);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		run_child(pipefd[1], library, arg, dir, o);
	}
	close(pipefd[1]);
	for (;;) {
		char tag;
		struct kf_step s;

		if (read_all(pipefd[0], &tag, 1) < 0)
			break;
		if (tag == REC_START) {
			if (read_all(pipefd[0], &started, sizeof(started)) < 0)
				break;
		} else if (tag == REC_STEP) {
			if (read_all(pipefd[0], &s, sizeof(s)) < 0)
				break;
			char *grown;

			/* the child is the user's code: what it says of its log's size is not trusted */
			if (s.kmsg_len > KMSG_MAX) {
				kf_set_error(e, EPROTO, "read", library);
				snprintf(e->message, sizeof(e->message),
					 "the harness process sent a step %d whose kernel log is %zu bytes; at most %d expected",
					 s.nth, s.kmsg_len, KMSG_MAX);
				result = -1;
				break;
			}
			grown = realloc(kmsg, s.kmsg_len + 1);
			if (!grown)
				break;
			kmsg = grown;
			if (read_all(pipefd[0], kmsg, s.kmsg_len) < 0)
				break;
			kmsg[s.kmsg_len] = '\0';
			s.kmsg = kmsg;
			on_step(opaque, &s);
			finished = s.nth;
		} else if (tag == REC_DONE) {
			if (read_all(pipefd[0], complete, sizeof(*complete)) == 0)
				result = 0;
			break;
		} else if (tag == REC_ERROR) {
			if (read_all(pipefd[0], e, sizeof(*e)) == 0)
				result = -1;
			break;
		}
	}
	close(pipefd[0]);
	free(kmsg);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (result != -2)
		return result;
	if (WIFSIGNALED(status) && started && started != finished) {
		*crashed_nth = started;
		*signo = WTERMSIG(status);
		return 1;
	}
	kf_set_error(e, ECHILD, "kfault_run", library);
	e->code = "KFAULT_HARNESS_CRASHED";
	if (WIFSIGNALED(status))
		snprintf(e->message, sizeof(e->message), "the harness was killed by %s outside a step (in its setup, unarmed run or teardown)",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "a signal");
	else
		snprintf(e->message, sizeof(e->message), "the harness process exited (status %d) before the sweep ended",
			 WEXITSTATUS(status));
	return -1;
}

int kf_sweep_isolated(const char *library, const char *arg, const char *dir,
		      const struct kf_sweep_opts *o, kf_step_fn on_step, void *opaque,
		      int *complete, struct kf_error *e)
{
	struct kf_sweep_opts opts = *o;
	int *skip = NULL;
	size_t nskip = o->nskip;
	int ret = -1;

	*complete = 0;
	if (!kf_in_guest(e))
		return -1;
	skip = malloc((o->nskip + 64) * sizeof(int));
	if (!skip) {
		kf_set_error(e, ENOMEM, "malloc", library);
		return -1;
	}
	memcpy(skip, o->skip, o->nskip * sizeof(int));
	for (int crashes = 0;; crashes++) {
		int nth = 0, signo = 0, r;

		opts.skip = skip;
		opts.nskip = nskip;
		r = one_child(library, arg, dir, &opts, on_step, opaque, complete, &nth, &signo, e);
		if (r <= 0) {
			ret = r;
			break;
		}
		struct kf_step s = { .nth = nth, .signal = signo };
		s.kmsg = "";
		on_step(opaque, &s);
		if (crashes == 63) {
			kf_set_error(e, ECHILD, "kfault_run", library);
			e->code = "KFAULT_HARNESS_CRASHED";
			snprintf(e->message, sizeof(e->message), "the harness crashed in 64 steps; giving up");
			break;
		}
		skip[nskip++] = nth;
		opts.first = nth + 1;
		if (opts.first > opts.last) {
			ret = 0;
			break;
		}
	}
	free(skip);
	return ret;
}
