/* Loading users' kernel modules in the guest: finit_module(2), no kmod needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kfault.h"

int kf_load_module(const char *path, const char *params, struct kf_error *e)
{
	int fd, r;

	if (!kf_in_guest(e))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kf_set_error(e, errno, "open", path);
		return -1;
	}
	r = (int)syscall(SYS_finit_module, fd, params, 0);
	if (r < 0 && errno == EEXIST) {
		close(fd);
		return 1;
	}
	if (r < 0)
		kf_set_error(e, errno, "finit_module", path);
	close(fd);
	return r < 0 ? -1 : 0;
}
