/*
 * ckpt_tool: the checkpoint inspector and forger of the hostile-input and chaos tests.
 *
 *   ckpt_tool check JOB_DIR          validates the checkpoint `latest` names with the library's
 *                                    readers (manifest, then every rank file against the manifest's
 *                                    layout, data included); prints "ckpt.<id> step=<s> ok"
 *   ckpt_tool setattr FILE NAME V    rewrites the int64 attribute NAME of FILE's root group to V
 *
 * Exit status: 0 when the checkpoint is complete and valid (check) or the attribute was written
 * (setattr); 1 when it is not, with the library's message on stderr; 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <salamander/sal_error.h>

#include "h5io.h"
#include "inspect.h"
#include "log.h"
#include "manifest.h"

static int cmd_check(const char *job_dir)
{
    char dir[4096];
    sal_manifest_t m;
    int64_t id;
    int rc = sal_latest_read(job_dir, &id);

    if (rc != SAL_OK) {
        fprintf(stderr, "ckpt_tool: %s: %s\n", job_dir, sal_last_error());
        return 1;
    }
    if (snprintf(dir, sizeof(dir), "%s/ckpt.%" PRId64, job_dir, id) >= (int)sizeof(dir)) {
        fprintf(stderr, "ckpt_tool: path too long: %s\n", job_dir);
        return 2;
    }
    memset(&m, 0, sizeof(m));
    rc = sal_manifest_read(dir, &m);
    if (rc == SAL_OK && m.id != id)
        rc = sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5 has id %" PRId64 ", latest names %" PRId64,
                       dir, m.id, id);
    if (rc == SAL_OK)
        rc = sal_inspect_rank_files(dir, &m);
    if (rc == SAL_OK)
        printf("ckpt.%" PRId64 " step=%" PRId64 " ok\n", id, m.step);
    else
        fprintf(stderr, "ckpt_tool: %s: %s\n", dir, sal_last_error());
    sal_manifest_free(&m);
    return rc == SAL_OK ? 0 : 1;
}

static int cmd_setattr(const char *path, const char *name, const char *text)
{
    char *end;
    long long v;
    hid_t file, attr;
    herr_t st;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text) {
        fprintf(stderr, "ckpt_tool: '%s' is not an integer\n", text);
        return 2;
    }
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) {
        fprintf(stderr, "ckpt_tool: cannot open %s read-write\n", path);
        return 1;
    }
    attr = H5Aopen(file, name, H5P_DEFAULT);
    st = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_LLONG, &v);
    if (attr >= 0)
        H5Aclose(attr);
    H5Fclose(file);
    if (st < 0) {
        fprintf(stderr, "ckpt_tool: cannot write attribute %s of %s\n", name, path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2]);
    if (argc == 5 && strcmp(argv[1], "setattr") == 0)
        return cmd_setattr(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: ckpt_tool check JOB_DIR | ckpt_tool setattr FILE NAME VALUE\n");
    return 2;
}
