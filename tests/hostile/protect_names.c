/*
 * protect_names: sal_protect must refuse region names that could escape the checkpoint directory or
 * name another HDF5 object ('../x', '/x', 'a/b', '.x', '', too long), each with SAL_ERR_INVALID_ARG
 * and a message quoting the name, and accept a valid one. Run on 1 rank; exit status 0 on success.
 */
#include <stdio.h>
#include <string.h>

#include <mpi.h>
#include <salamander/salamander.h>

static int refused(const char *name, double *u, const int64_t *dims)
{
    int64_t zero[1] = {0};
    int rc = sal_protect(name, u, SAL_DOUBLE, 1, dims, zero, dims);
    const char *msg = sal_last_error();

    if (rc != SAL_ERR_INVALID_ARG) {
        printf("FAIL: name '%s' returned %d (%s), expected SAL_ERR_INVALID_ARG\n", name, rc,
               sal_strerror(rc));
        return 0;
    }
    if (name[0] != '\0' && strlen(name) < 100 && strstr(msg, name) == NULL) {
        printf("FAIL: the message for '%s' does not quote it: %s\n", name, msg);
        return 0;
    }
    printf("refused '%s': %s\n", name, msg);
    return 1;
}

int main(int argc, char **argv)
{
    static const char *bad[] = {"../x", "/x",  "a/b",  "..",  ".x",   "-x",
                                "",     "a b", "a\\b", "x\n", "u;rm", "../../etc/passwd"};
    char longname[200];
    double u[4] = {0};
    int64_t dims[1] = {4};
    int ok = 1;

    MPI_Init(&argc, &argv);
    if (sal_init(&argc, &argv, MPI_COMM_WORLD) != SAL_OK) {
        printf("FAIL: sal_init: %s\n", sal_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok &= refused(bad[i], u, dims);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ok &= refused(longname, u, dims);
    if (sal_protect("u.field-1_x", u, SAL_DOUBLE, 1, dims, (int64_t[]){0}, dims) != SAL_OK) {
        printf("FAIL: a valid name was refused: %s\n", sal_last_error());
        ok = 0;
    }
    sal_finalize();
    MPI_Finalize();
    return ok ? 0 : 1;
}
