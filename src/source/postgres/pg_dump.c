/* Running pg_dump (DDL only) on the capture's exported snapshot: posix_spawn with the connection's
 * parameters minus any password on argv; the password reaches the child as PGPASSFILE naming a
 * private in-memory file (memfd), so it is never on argv, in the environment or on disk. */
#define _GNU_SOURCE /* memfd_create */
#include "crypto/crypto.h"
#include "source/postgres/pg_int.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ERR_MAX 2048

static int quote_value(hf_buf *b, const char *v)
{
	int rc = hf_buf_append_u8(b, '\'');
	for (; *v && rc == 0; v++) {
		if (*v == '\\' || *v == '\'')
			rc = hf_buf_append_u8(b, '\\');
		if (rc == 0)
			rc = hf_buf_append_u8(b, (uint8_t)*v);
	}
	return rc ? rc : hf_buf_append_u8(b, '\'');
}

/* --dbname=... with every connection parameter in effect except secrets. */
static int dump_conninfo(hf_buf *b, PGconn *conn)
{
	static const char *const skip[] = {
	    "password",    "passfile", "sslpassword", "client_encoding", "fallback_application_name",
	    "replication", "dbname"};
	PQconninfoOption *opts = PQconninfo(conn), *o;
	int rc = hf_buf_printf(b, "--dbname=dbname=");
	size_t i;

	if (!opts)
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (rc == 0)
		rc = quote_value(b, PQdb(conn));
	for (o = opts; o->keyword && rc == 0; o++) {
		int skipped = !o->val || !*o->val;
		for (i = 0; i < sizeof(skip) / sizeof(skip[0]) && !skipped; i++)
			skipped = strcmp(o->keyword, skip[i]) == 0;
		if (skipped)
			continue;
		if ((rc = hf_buf_printf(b, " %s=", o->keyword)) == 0)
			rc = quote_value(b, o->val);
	}
	PQconninfoFree(opts);
	return rc ? rc : hf_buf_cstr(b);
}

/* A 0600 memfd holding "*:*:*:*:<password>"; -1 when the connection used no password. */
static int password_fd(int *out, PGconn *conn)
{
	const char *pw = PQconnectionUsedPassword(conn) ? PQpass(conn) : NULL;
	hf_buf line = HF_BUF_INIT;
	int fd = -1, rc = 0, err;

	*out = -1;
	if (!pw || !*pw)
		return 0;
	rc = hf_buf_printf(&line, "*:*:*:*:");
	for (; *pw && rc == 0; pw++) {
		if (*pw == ':' || *pw == '\\')
			rc = hf_buf_append_u8(&line, '\\');
		if (rc == 0)
			rc = hf_buf_append_u8(&line, (uint8_t)*pw);
	}
	if (rc == 0)
		rc = hf_buf_append_u8(&line, '\n');
	if (rc < 0)
		goto done;
	/* Inherited by the child on purpose (no MFD_CLOEXEC); the parent closes it after spawning. */
	if ((fd = memfd_create("holdfast-pgpass", 0)) < 0 || fchmod(fd, 0600) != 0)
		err = errno;
	else
		err = hf_fs_write_all(fd, line.data, line.len);
	if (err) {
		rc = hf_error_set_errno(HF_EIO, err, "unable to pass the postgres password to pg_dump");
		goto done;
	}
	*out = fd;
	fd = -1;
done:
	if (line.data)
		hf_memzero(line.data, line.cap);
	hf_buf_free(&line);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int child_env(char ***out, int pwfd, char *pwvar, size_t pwcap)
{
	size_t n = 0, i;
	char **env;
	for (i = 0; environ && environ[i]; i++)
		n++;
	if (!(env = calloc(n + 2, sizeof(char *))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (i = 0, n = 0; environ && environ[i]; i++)
		if (strncmp(environ[i], "PGPASSFILE=", 11) != 0 &&
		    strncmp(environ[i], "PGPASSWORD=", 11) != 0)
			env[n++] = environ[i];
	if (pwfd >= 0) {
		snprintf(pwvar, pwcap, "PGPASSFILE=/proc/self/fd/%d", pwfd);
		env[n++] = pwvar;
	}
	*out = env;
	return 0;
}

static int spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int err;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	err = strchr(path, '/') ? posix_spawn(pid, path, &fa, &attr, argv, envp)
	                        : posix_spawnp(pid, path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err) {
		int rc = hf_error_set_errno(err == ENOENT ? HF_ENOTFOUND : HF_ESOURCE, err,
		                            "unable to run '%s'", path);
		hf_error_set_hint(
		    "install the PostgreSQL client tools of the server's major version or newer");
		return rc;
	}
	return 0;
}

/* Copy stdout to write and keep the start of stderr until both close. */
static int pump(int out_fd, int err_fd, pg_write_fn write, void *payload, char *errbuf, size_t *errlen)
{
	char buf[65536];
	struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	int open_fds = 2, rc;

	while (open_fds > 0) {
		int i;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return hf_error_set_errno(HF_EIO, errno, "unable to read from pg_dump");
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return hf_error_set_errno(HF_EIO, errno, "unable to read from pg_dump");
			if (n == 0) {
				p[i].fd = -1;
				open_fds--;
			} else if (i == 0) {
				if ((rc = write(buf, (size_t)n, payload)) < 0)
					return rc;
			} else if (*errlen + 1 < ERR_MAX) {
				size_t take =
				    (size_t)n < ERR_MAX - 1 - *errlen ? (size_t)n : ERR_MAX - 1 - *errlen;
				memcpy(errbuf + *errlen, buf, take);
				*errlen += take;
				errbuf[*errlen] = '\0';
			}
		}
	}
	return 0;
}

int pg_dump_run(PGconn *conn, const char *pg_dump_path, const char *snapshot, const char *const *args,
                size_t nargs, pg_write_fn write, void *payload)
{
	const char *path = pg_dump_path && *pg_dump_path ? pg_dump_path : "pg_dump";
	hf_buf dbname = HF_BUF_INIT, snap = HF_BUF_INIT;
	char **argv = NULL, **envp = NULL, pwvar[64], errbuf[ERR_MAX] = "", msg[512];
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, pwfd = -1, rc, status = 0, spawned = 0;
	size_t errlen = 0, n = 0, i;
	pid_t pid = -1;

	if ((rc = dump_conninfo(&dbname, conn)) < 0 ||
	    (rc = hf_buf_printf(&snap, "--snapshot=%s", snapshot)) < 0 || (rc = hf_buf_cstr(&snap)) < 0)
		goto done;
	if (!(argv = calloc(nargs + 5, sizeof(char *)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	argv[n++] = (char *)path;
	argv[n++] = (char *)dbname.data;
	argv[n++] = (char *)"--no-password";
	argv[n++] = (char *)snap.data;
	for (i = 0; i < nargs; i++)
		argv[n++] = (char *)args[i];
	if ((rc = password_fd(&pwfd, conn)) < 0 || (rc = child_env(&envp, pwfd, pwvar, sizeof(pwvar))) < 0)
		goto done;
	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		rc = hf_error_set_errno(HF_EIO, errno, "unable to create a pipe for pg_dump");
		goto done;
	}
	if ((rc = spawn(&pid, path, argv, envp, outp[1], errp[1])) < 0)
		goto done;
	spawned = 1;
	close(outp[1]), outp[1] = -1;
	close(errp[1]), errp[1] = -1;
	if (pwfd >= 0)
		close(pwfd), pwfd = -1;
	if ((rc = pump(outp[0], errp[0], write, payload, errbuf, &errlen)) < 0)
		kill(pid, SIGTERM);
done:
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (pwfd >= 0)
		close(pwfd);
	if (spawned) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			pg_one_line(msg, sizeof(msg), errbuf);
			rc = hf_error_set(HF_ESOURCE, "pg_dump of '%s' failed (%s %d): %s", pg_where(conn),
			                  WIFEXITED(status) ? "exit status" : "signal",
			                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			                  msg[0] ? msg : "no message");
		}
	}
	free(envp);
	free(argv);
	hf_buf_free(&snap);
	hf_buf_free(&dbname);
	return rc;
}
