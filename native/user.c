/* Users' harnesses: a shared object built from the user's C file, loaded with dlopen. Its
 * functions take the argument string; the sweep calls them through these trampolines. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kfault.h"

static int user_setup(struct kf_ctx *c)
{
	return c->user->setup(c->user->arg);
}

static int user_run(struct kf_ctx *c)
{
	return c->user->run(c->user->arg);
}

static void user_teardown(struct kf_ctx *c)
{
	c->user->teardown(c->user->arg);
}

int kf_user_open(const char *path, const char *arg, struct kf_user *u, struct kf_harness *h,
		 struct kf_error *e)
{
	memset(u, 0, sizeof(*u));
	memset(h, 0, sizeof(*h));
	if (strlen(arg) >= sizeof(u->arg)) {
		kf_set_error(e, E2BIG, "dlopen", path);
		snprintf(e->message, sizeof(e->message), "harness argument longer than %zu bytes",
			 sizeof(u->arg) - 1);
		return -1;
	}
	u->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!u->dl) {
		kf_set_error(e, ENOEXEC, "dlopen", path);
		e->code = "KFAULT_HARNESS_LOAD";
		snprintf(e->message, sizeof(e->message), "%s", dlerror());
		return -1;
	}
	*(void **)&u->run = dlsym(u->dl, "kfault_run");
	*(void **)&u->setup = dlsym(u->dl, "kfault_setup");
	*(void **)&u->teardown = dlsym(u->dl, "kfault_teardown");
	if (!u->run) {
		kf_set_error(e, ENOENT, "dlsym", path);
		e->code = "KFAULT_HARNESS_LOAD";
		snprintf(e->message, sizeof(e->message),
			 "no kfault_run() in the harness: expected int kfault_run(const char *arg)");
		dlclose(u->dl);
		u->dl = NULL;
		return -1;
	}
	snprintf(u->arg, sizeof(u->arg), "%s", arg);
	h->name = path;
	h->syscall = "kfault_run";
	h->summary = "a user's harness";
	h->run = user_run;
	h->setup = u->setup ? user_setup : NULL;
	h->teardown = u->teardown ? user_teardown : NULL;
	h->user = u;
	return 0;
}

void kf_user_close(struct kf_user *u)
{
	if (u->dl)
		dlclose(u->dl);
	u->dl = NULL;
}
