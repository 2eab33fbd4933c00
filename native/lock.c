/* An exclusive lock on a file, for one kernel build per build directory at a time. flock(2)
 * belongs to the open file: the kernel drops it when the holder exits, however it exits
 * (SIGKILL included), and it holds between processes of different PID namespaces (two
 * containers sharing one cache, each with node as PID 1), which pid files cannot tell apart. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "kfault.h"

int kf_lock_try(const char *path, const char *holder, struct kf_error *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int err;

	if (fd < 0) {
		kf_set_error(e, errno, "open", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* who holds it, for the message of those who wait; the lock is the flock, not this */
		if (ftruncate(fd, 0) == 0 && pwrite(fd, holder, strlen(holder), 0) < 0) {
			/* a lock whose note cannot be written is still a lock */
		}
		return fd;
	}
	err = errno;
	close(fd);
	if (err == EWOULDBLOCK)
		return -2;
	kf_set_error(e, err, "flock", path);
	return -1;
}

void kf_lock_release(int fd)
{
	close(fd);
}
