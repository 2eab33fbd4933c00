/* What native/isolate.c (in the agent) and native/harness-runner.c (the exec'd process a user's
 * harness runs in) say to each other over the runner's fd 3: records of a tag byte and a body. */
#ifndef KFAULT_RUNNER_H
#define KFAULT_RUNNER_H

#include "kfault.h"

/* The runner is built next to the addon (binding.gyp); isolate.c finds it there. */
#define RUNNER_NAME "kfault-harness-runner"

/* The runner's end of the pipe to the agent: its only fd beyond 0, 1 and 2. */
#define RUNNER_FD 3

enum {
	REC_START = 'S',       /* int nth: step nth is about to be armed */
	REC_STEP = 'T',        /* struct kf_step, then its kmsg_len bytes of kernel log, then nfsck
				* times a struct kf_fsck, its out_len bytes and its kmsg_len bytes */
	REC_DONE = 'D',        /* int complete */
	REC_ERROR = 'E',       /* struct runner_error */
	REC_EXEC_FAILED = 'X', /* int errno: the fork could not exec the runner */
};

/* A kf_error with its strings in it: the runner's pointers mean nothing in the agent. */
struct runner_error {
	int err;
	char code[48];    /* "" for none */
	char syscall[48];
	char path[256];
	char message[256];
};

/* argv of the runner, in this order after argv[0] */
enum { ARG_LIBRARY = 1, ARG_ARG, ARG_DIR, ARG_FIRST, ARG_LAST, ARG_RANDOM, ARG_SKIP, ARG_PARENT, ARG_COUNT };

#endif
