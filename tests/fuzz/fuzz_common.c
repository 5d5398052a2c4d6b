#include "fuzz_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char dir[256];
static char path[512];

static void remove_dir(void)
{
    static const char *names[] = {"latest", "manifest.h5", "rank.0.h5", "config.ini"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(fuzz_path(names[i]));
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/sal-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            abort();
        }
        sal_log_set_level(SAL_LOG_ERROR);
        atexit(remove_dir);
    }
    return dir;
}

const char *fuzz_path(const char *name)
{
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
    return path;
}

int fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    int fd = open(fuzz_path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t done = 0;

    if (fd < 0)
        return -1;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);

        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}
