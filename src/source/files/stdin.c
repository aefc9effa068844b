/* Capture of a stream (a command's output, usually stdin) as a single file entry. */
#include "source/files/internal.h"
#include "util/clock.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hf_stdin_import(int fd, const char *name, hf_sink *sink, hf_files_stats *stats)
{
	hf_files_tree tree = HF_FILES_TREE_INIT;
	hf_files_owners owners = HF_FILES_OWNERS_INIT;
	hf_entry_meta m;
	uint8_t *buf = NULL;
	uint64_t total = 0;
	int rc = 0, skip;

	if (!hf_files_name_valid(name))
		return hf_error_set(HF_EUSAGE,
		                    "invalid entry name '%s': it must be relative, without '.' or '..'",
		                    name ? name : "");
	memset(&m, 0, sizeof(m));
	m.name = name;
	m.type = HF_ENTRY_FILE;
	m.mode = 0600;
	m.uid = (uint32_t)getuid();
	m.gid = (uint32_t)getgid();
	m.user = hf_files_user_name(&owners, m.uid);
	m.group = hf_files_group_name(&owners, m.gid);
	m.mtime_ns = hf_clock_now_ns();
	if (!(buf = malloc(HF_FILES_IO_BLOCK))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = hf_files_tree_add(&tree, sink, &m, "input", stats, &skip)) < 0 ||
	    (rc = sink->entry_begin(sink, &m)) < 0)
		goto done;
	for (;;) {
		ssize_t n = read(fd, buf, HF_FILES_IO_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = hf_error_set_errno(hf_error_from_errno(errno), errno,
			                        "unable to read input for '%s'", name);
			goto done;
		}
		if (n == 0)
			break;
		if ((rc = sink->entry_write(sink, buf, (size_t)n)) < 0)
			goto done;
		total += (uint64_t)n;
	}
	if ((rc = sink->entry_end(sink)) < 0)
		goto done;
	if (stats) {
		stats->files++;
		stats->bytes += total;
	}
done:
	free(buf);
	hf_files_owners_free(&owners);
	hf_files_tree_free(&tree);
	return rc;
}
