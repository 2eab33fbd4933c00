/* execve() of an ELF whose PT_INTERP names a file that is not an ELF: load_elf_binary() reads
 * the program headers, opens the interpreter (open_exec()), allocates interp_elf_ex for its
 * header, reads it, and fails with ELIBBAD ("Not an ELF interpreter") before the point of no
 * return, so the harness keeps running and every failure point of the load is an error path.
 * The two files are made once, in a fresh directory under $TMPDIR (a tmpfs in the guest: the
 * agent's /run/kfault; the 9p root is read-only). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], prog[256 + 16], interp[256 + 16];

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

int kfault_setup(const char *arg)
{
	struct prog_image {
		Elf64_Ehdr eh;
		Elf64_Phdr interp;
		char path[sizeof(interp)];
	} elf;
	const char *tmp = getenv("TMPDIR");
	char not_elf[128];
	int err;

	(void)arg;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/kfault-exec-elf-interp-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	snprintf(interp, sizeof(interp), "%s/interp", dir);

	/* the interpreter: executable, longer than an ELF header, and no ELF magic */
	memset(not_elf, '#', sizeof(not_elf));
	err = write_file(interp, not_elf, sizeof(not_elf));
	if (err)
		return err;

	memset(&elf, 0, sizeof(elf));
	memcpy(elf.eh.e_ident, ELFMAG, SELFMAG);
	elf.eh.e_ident[EI_CLASS] = ELFCLASS64;
	elf.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	elf.eh.e_ident[EI_VERSION] = EV_CURRENT;
	elf.eh.e_type = ET_EXEC;
	elf.eh.e_machine = EM_X86_64;
	elf.eh.e_version = EV_CURRENT;
	elf.eh.e_phoff = offsetof(struct prog_image, interp);
	elf.eh.e_ehsize = sizeof(elf.eh);
	elf.eh.e_phentsize = sizeof(elf.interp);
	elf.eh.e_phnum = 1;
	elf.interp.p_type = PT_INTERP;
	elf.interp.p_offset = offsetof(struct prog_image, path);
	strcpy(elf.path, interp);
	elf.interp.p_filesz = strlen(interp) + 1;
	return write_file(prog, &elf, sizeof(elf));
}

int kfault_run(const char *arg)
{
	char *argv[] = { prog, NULL };
	char *envp[] = { NULL };

	(void)arg;
	execve(prog, argv, envp);
	/* unarmed, the load always ends here: the interpreter is not an ELF */
	return errno == ELIBBAD ? 0 : -errno;
}

void kfault_teardown(const char *arg)
{
	(void)arg;
	unlink(prog);
	unlink(interp);
	rmdir(dir);
}
