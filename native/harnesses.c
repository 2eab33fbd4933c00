/* The built-in catalogue: each harness reaches one kernel path that allocates, and frees all
 * it made (fds in ctx->fd are closed by the sweep loop; undo() frees the rest). run() returns
 * 0 or -errno of the call that failed and must not fault in new memory of its own. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/xattr.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include "kfault.h"

#define KEY_SPEC_THREAD_KEYRING (-1)
#define KEYCTL_INVALIDATE 21

static int check(long r)
{
	return r < 0 ? -errno : 0;
}

static int keep_fd(struct kf_ctx *c, int slot, int fd)
{
	if (fd < 0)
		return -errno;
	c->fd[slot] = fd;
	return 0;
}

static int path_in_dir(struct kf_ctx *c, const char *name)
{
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, name);
	return 0;
}

/* open(O_CREAT) on tmpfs. Every run gets a new, empty directory: tmpfs keeps directory
 * offsets in a maple tree whose node allocations depend on what the directory saw before. */
#define OPEN_DIR "open-creat.d"
static int open_fresh_dir(struct kf_ctx *c)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/" OPEN_DIR, c->dir);
	unlink(c->path);
	rmdir(dir);
	return mkdir(dir, 0700) < 0 ? -errno : 0;
}
static int open_setup(struct kf_ctx *c)
{
	snprintf(c->path, sizeof(c->path), "%s/" OPEN_DIR "/file", c->dir);
	return open_fresh_dir(c);
}
static int open_run(struct kf_ctx *c)
{
	return keep_fd(c, 0, open(c->path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
}
static void open_undo(struct kf_ctx *c) { open_fresh_dir(c); }
static void open_teardown(struct kf_ctx *c)
{
	open_fresh_dir(c);
	c->path[strlen(c->path) - strlen("/file")] = '\0';
	rmdir(c->path);
}

static int pipe2_run(struct kf_ctx *c)
{
	int r = pipe2(c->fd, O_CLOEXEC);

	if (r < 0) {
		c->fd[0] = c->fd[1] = -1;
		return -errno;
	}
	return 0;
}

static int socket_inet_run(struct kf_ctx *c)
{
	return keep_fd(c, 0, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

static int socket_udp_run(struct kf_ctx *c)
{
	return keep_fd(c, 0, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}

static int socketpair_unix_run(struct kf_ctx *c)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->fd) < 0) {
		c->fd[0] = c->fd[1] = -1;
		return -errno;
	}
	return 0;
}

static int eventfd_run(struct kf_ctx *c) { return keep_fd(c, 0, eventfd(0, EFD_CLOEXEC)); }
static int epoll_run(struct kf_ctx *c)
{
	int r = keep_fd(c, 0, epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = { .events = EPOLLIN };

	if (r < 0)
		return r;
	/* adding a watched fd allocates an epitem */
	r = keep_fd(c, 1, eventfd(0, EFD_CLOEXEC));
	if (r < 0)
		return r;
	return check(epoll_ctl(c->fd[0], EPOLL_CTL_ADD, c->fd[1], &ev));
}

static int memfd_run(struct kf_ctx *c) { return keep_fd(c, 0, memfd_create("kfault", MFD_CLOEXEC)); }

static int timerfd_run(struct kf_ctx *c)
{
	return keep_fd(c, 0, timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
}

static int signalfd_run(struct kf_ctx *c)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	return keep_fd(c, 0, signalfd(-1, &mask, SFD_CLOEXEC));
}

static int inotify_run(struct kf_ctx *c)
{
	int r = keep_fd(c, 0, inotify_init1(IN_CLOEXEC));

	if (r < 0)
		return r;
	return check(inotify_add_watch(c->fd[0], c->dir, IN_CREATE | IN_DELETE));
}

/* setxattr on tmpfs: the target file is made once, outside the sweep */
static int xattr_setup(struct kf_ctx *c)
{
	int fd;

	path_in_dir(c, "xattr-target");
	fd = open(c->path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
static int xattr_run(struct kf_ctx *c)
{
	return check(setxattr(c->path, "user.kfault", "error-path", 10, XATTR_CREATE));
}
static void xattr_undo(struct kf_ctx *c) { removexattr(c->path, "user.kfault"); }
static void xattr_teardown(struct kf_ctx *c) { unlink(c->path); }

/* mount a fresh tmpfs on a directory made once, outside the sweep */
static int mount_setup(struct kf_ctx *c)
{
	path_in_dir(c, "mnt");
	return mkdir(c->path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}
static int mount_run(struct kf_ctx *c)
{
	int r = check(mount("kfault", c->path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k"));

	if (r == 0)
		c->id = 1;
	return r;
}
static void mount_undo(struct kf_ctx *c)
{
	if (c->id == 1)
		umount2(c->path, MNT_DETACH);
}
static void mount_teardown(struct kf_ctx *c) { rmdir(c->path); }

static int msgget_run(struct kf_ctx *c)
{
	c->id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	return check(c->id);
}
static void msgget_undo(struct kf_ctx *c)
{
	if (c->id >= 0)
		msgctl((int)c->id, IPC_RMID, NULL);
}

static int semget_run(struct kf_ctx *c)
{
	c->id = semget(IPC_PRIVATE, 4, IPC_CREAT | 0600);
	return check(c->id);
}
static void semget_undo(struct kf_ctx *c)
{
	if (c->id >= 0)
		semctl((int)c->id, 0, IPC_RMID);
}

static int shmget_run(struct kf_ctx *c)
{
	c->id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	return check(c->id);
}
static void shmget_undo(struct kf_ctx *c)
{
	if (c->id >= 0)
		shmctl((int)c->id, IPC_RMID, NULL);
}

static int add_key_run(struct kf_ctx *c)
{
	c->id = syscall(SYS_add_key, "user", "kfault:error-path", "payload", 7,
			KEY_SPEC_THREAD_KEYRING);
	return check(c->id);
}
static void add_key_undo(struct kf_ctx *c)
{
	if (c->id >= 0)
		syscall(SYS_keyctl, KEYCTL_INVALIDATE, c->id);
}

const struct kf_harness kf_harnesses[] = {
	{ "open", "open", "open(O_CREAT) of a new file on tmpfs", open_setup, open_run, open_undo, open_teardown, NULL },
	{ "pipe2", "pipe2", "pipe2(O_CLOEXEC)", NULL, pipe2_run, NULL, NULL, NULL },
	{ "socket-inet", "socket", "socket(AF_INET, SOCK_STREAM)", NULL, socket_inet_run, NULL, NULL, NULL },
	{ "socket-udp", "socket", "socket(AF_INET, SOCK_DGRAM)", NULL, socket_udp_run, NULL, NULL, NULL },
	{ "socketpair-unix", "socketpair", "socketpair(AF_UNIX, SOCK_STREAM)", NULL, socketpair_unix_run, NULL, NULL, NULL },
	{ "eventfd", "eventfd2", "eventfd(0, EFD_CLOEXEC)", NULL, eventfd_run, NULL, NULL, NULL },
	{ "epoll", "epoll_ctl", "epoll_create1 + EPOLL_CTL_ADD of an eventfd", NULL, epoll_run, NULL, NULL, NULL },
	{ "memfd", "memfd_create", "memfd_create(MFD_CLOEXEC)", NULL, memfd_run, NULL, NULL, NULL },
	{ "timerfd", "timerfd_create", "timerfd_create(CLOCK_MONOTONIC)", NULL, timerfd_run, NULL, NULL, NULL },
	{ "signalfd", "signalfd4", "signalfd(-1, {SIGUSR2})", NULL, signalfd_run, NULL, NULL, NULL },
	{ "inotify", "inotify_add_watch", "inotify_init1 + inotify_add_watch on a tmpfs dir", NULL, inotify_run, NULL, NULL, NULL },
	{ "setxattr", "setxattr", "setxattr(user.*) on a tmpfs file", xattr_setup, xattr_run, xattr_undo, xattr_teardown, NULL },
	{ "mount-tmpfs", "mount", "mount a new tmpfs", mount_setup, mount_run, mount_undo, mount_teardown, NULL },
	{ "msgget", "msgget", "msgget(IPC_PRIVATE)", NULL, msgget_run, msgget_undo, NULL, NULL },
	{ "semget", "semget", "semget(IPC_PRIVATE, 4 semaphores)", NULL, semget_run, semget_undo, NULL, NULL },
	{ "shmget", "shmget", "shmget(IPC_PRIVATE, 4 KiB)", NULL, shmget_run, shmget_undo, NULL, NULL },
	{ "add-key", "add_key", "add_key(\"user\") to the thread keyring", NULL, add_key_run, add_key_undo, NULL, NULL },
};

const size_t kf_harness_count = sizeof(kf_harnesses) / sizeof(kf_harnesses[0]);

const struct kf_harness *kf_harness_at(size_t i)
{
	if (i < kf_harness_count)
		return &kf_harnesses[i];
	i -= kf_harness_count;
	return i < kf_ext4_harness_count ? &kf_ext4_harnesses[i] : NULL;
}

const struct kf_harness *kf_find_harness(const char *name)
{
	const struct kf_harness *h;

	for (size_t i = 0; (h = kf_harness_at(i)); i++)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}
