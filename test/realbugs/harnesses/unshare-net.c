/* unshare(CLONE_NEWNET): copy_net_ns() -> setup_net(), every pernet init in order (loopback,
 * sysctls, IPv4, IPv6, sit0's sit_init_net() among the last). Each run gives the sweep thread a
 * fresh network namespace; the previous one is torn down by cleanup_net() in a workqueue. */
#include <errno.h>
#include <sched.h>

int kfault_run(const char *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	return 0;
}
