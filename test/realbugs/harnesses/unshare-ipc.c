/* unshare(CLONE_NEWIPC): create_ipc_ns() -> mq_init_ns(), setup_mq_sysctls(),
 * setup_ipc_sysctls(), msg_init_ns(). Each run gives the sweep thread a fresh IPC namespace;
 * the previous one is freed (asynchronously, by free_ipc_work) when the thread leaves it. */
#include <errno.h>
#include <sched.h>

int kfault_run(const char *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWIPC) < 0)
		return -errno;
	return 0;
}
