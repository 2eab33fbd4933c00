/* The chaos section's harness (bench/chaos.mjs): pipe2, as the catalogue's, and with the
 * argument "hang" it sleeps in step 3 (the sweep thread is named kf#3 then), so the host's step
 * timeout kills QEMU and the sweep goes on in a fresh guest: the recovery path. chaos.mjs puts a
 * new first line into every copy, so that each run builds it anew. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int kfault_run(const char *arg)
{
	char comm[16] = "";
	int fd[2];

	if (strcmp(arg, "hang") == 0 && prctl(PR_GET_NAME, comm) == 0 && strcmp(comm, "kf#3") == 0)
		sleep(3600);
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -errno;
	close(fd[0]);
	close(fd[1]);
	return 0;
}
