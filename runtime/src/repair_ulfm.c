/*
 * Repair with ULFM (Open MPI 5 --with-ft ulfm): revoke -> shrink -> spawn the lost ranks on their
 * hosts
 * -> merge -> split with key = original rank -> agree on the repaired communicator. A failure
 * during the repair starts it again from the (revoked) old communicator, at most repair_retries
 * times.
 *
 * Open MPI 5.0.x: agreement runs on the merged intracommunicator (not the intercommunicator), and
 * every intermediate communicator is freed before MPI_Finalize (a replacement still connected to
 * the parent job crashes in MPI_Finalize otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <mpi-ext.h>

#include "ckpt_impl.h"
#include "events.h"
#include "hostmap.h"
#include "log.h"
#include "runtime.h"

#define SAL_TAG_STATE 7301

typedef struct repair {
    MPI_Comm shrunk, inter, merged, fixed;
    int *failed; /* ranks of the old communicator that failed */
    int nfailed;
    char **to_host, **to_cpuset; /* leader: placement of each failed rank's replacement */
    int leader;                  /* rank 0 of the shrunk communicator */
    double t_revoke, t_shrink, t_spawn;
} repair_t;

int sal_rt_is_failure(int err)
{
    int cls = MPI_SUCCESS;

    if (err == MPI_SUCCESS)
        return 0;
    MPI_Error_class(err, &cls);
    return cls == MPIX_ERR_PROC_FAILED || cls == MPIX_ERR_PROC_FAILED_PENDING ||
           cls == MPIX_ERR_REVOKED;
}

void sal_rt_revoke(MPI_Comm comm)
{
    if (comm != MPI_COMM_NULL)
        MPIX_Comm_revoke(comm);
}

static void free_comm(MPI_Comm *c, int revoke)
{
    if (*c == MPI_COMM_NULL)
        return;
    if (revoke)
        MPIX_Comm_revoke(*c);
    MPI_Comm_free(c);
    *c = MPI_COMM_NULL;
}

static void release(repair_t *r, int revoke)
{
    free_comm(&r->fixed, revoke);
    free_comm(&r->merged, revoke);
    free_comm(&r->inter, revoke);
    free_comm(&r->shrunk, 0);
    for (int i = 0; i < r->nfailed; i++) {
        free(r->to_host ? r->to_host[i] : NULL);
        free(r->to_cpuset ? r->to_cpuset[i] : NULL);
    }
    free(r->to_host);
    free(r->to_cpuset);
    r->to_host = r->to_cpuset = NULL;
    free(r->failed);
    r->failed = NULL;
}

/* The ranks of old missing from shrunk. */
static int find_failed(MPI_Comm old, repair_t *r)
{
    MPI_Group gold, gnew, gdiff;
    int n = 0, *idx, rc = SAL_OK;

    MPI_Comm_group(old, &gold);
    MPI_Comm_group(r->shrunk, &gnew);
    MPI_Group_difference(gold, gnew, &gdiff);
    MPI_Group_size(gdiff, &n);
    idx = malloc(sizeof(int) * (size_t)(n + 1));
    r->failed = malloc(sizeof(int) * (size_t)(n + 1));
    if (!idx || !r->failed) {
        rc = sal_error(SAL_ERR_NOMEM, "failed-rank list");
    } else {
        for (int i = 0; i < n; i++)
            idx[i] = i;
        MPI_Group_translate_ranks(gdiff, n, idx, gold, r->failed);
        r->nfailed = n;
    }
    free(idx);
    MPI_Group_free(&gdiff);
    MPI_Group_free(&gnew);
    MPI_Group_free(&gold);
    return rc;
}

static void report_failure(const repair_t *r)
{
    char ranks[512] = "", hosts[1024] = "", esc[300];
    size_t lr = 0, lh = 0;

    for (int i = 0; i < r->nfailed && lr < sizeof(ranks) - 16 && lh < sizeof(hosts) - 300; i++) {
        const char *h = sal_hostmap_host(r->failed[i]);
        lr += (size_t)snprintf(ranks + lr, sizeof(ranks) - lr, "%s%d", i ? "," : "", r->failed[i]);
        lh += (size_t)snprintf(hosts + lh, sizeof(hosts) - lh, "%s\"%s\"", i ? "," : "",
                               sal_json_escape(esc, sizeof(esc), h));
    }
    sal_event("failure", "\"ranks\":[%s],\"hosts\":[%s],\"detector\":\"ulfm\",\"detected\":%.6f",
              ranks, hosts, sal_rt.t_detect);
    SAL_LOG_W("rank(s) %s failed; repairing with policy %s", ranks, sal_rt.set->policy);
}

/* Leader: a host and a cpuset for each replacement (docs/placement.md). When no placement can be
 * computed the replacement goes where the lost rank ran, unbound. */
static int place(repair_t *r)
{
    int rc;

    r->to_host = calloc((size_t)r->nfailed, sizeof(char *));
    r->to_cpuset = calloc((size_t)r->nfailed, sizeof(char *));
    if (!r->to_host || !r->to_cpuset)
        return sal_error(SAL_ERR_NOMEM, "placement of %d replacement(s)", r->nfailed);
    rc = sal_hostmap_place(r->failed, r->nfailed, r->to_host, r->to_cpuset);
    if (rc == SAL_OK)
        return SAL_OK;
    SAL_LOG_W("no placement (%s); replacements go to the hosts of the lost ranks, unbound",
              sal_last_error());
    for (int i = 0; i < r->nfailed; i++) {
        free(r->to_host[i]);
        free(r->to_cpuset[i]);
        r->to_host[i] = strdup(sal_hostmap_host(r->failed[i]));
        r->to_cpuset[i] = strdup("");
        if (!r->to_host[i] || !r->to_cpuset[i])
            return sal_error(SAL_ERR_NOMEM, "placement of %d replacement(s)", r->nfailed);
    }
    return SAL_OK;
}

/* Spawns one process per failed rank on the failed rank's host. */
static int spawn(repair_t *r)
{
    char **cmds = calloc((size_t)r->nfailed, sizeof(char *));
    char ***argvs = calloc((size_t)r->nfailed, sizeof(char **));
    int *maxprocs = calloc((size_t)r->nfailed, sizeof(int));
    int *errcodes = calloc((size_t)r->nfailed, sizeof(int));
    MPI_Info *infos = calloc((size_t)r->nfailed, sizeof(MPI_Info));
    int rc = SAL_OK, mrc;

    if (!cmds || !argvs || !maxprocs || !errcodes || !infos) {
        rc = sal_error(SAL_ERR_NOMEM, "spawn arguments");
        goto out_free;
    }
    for (int i = 0; i < r->nfailed; i++) {
        cmds[i] = sal_rt.exe;
        argvs[i] = sal_rt.args;
        maxprocs[i] = 1;
        MPI_Info_create(&infos[i]);
        if (r->to_host && r->to_host[i])
            MPI_Info_set(infos[i], "host", r->to_host[i]);
    }
    mrc = MPI_Comm_spawn_multiple(r->nfailed, cmds, argvs, maxprocs, infos, 0, r->shrunk, &r->inter,
                                  errcodes);
    if (mrc != MPI_SUCCESS)
        rc = sal_error(sal_rt_is_failure(mrc) ? SAL_ERR_PROC_FAILED : SAL_ERR_RECOVERY,
                       "spawning %d replacement(s) of %s failed", r->nfailed, sal_rt.exe);
    for (int i = 0; i < r->nfailed; i++)
        MPI_Info_free(&infos[i]);
out_free:
    free(infos);
    free(errcodes);
    free(maxprocs);
    free(argvs);
    free(cmds);
    return rc;
}

/* Leader: sends each replacement its old rank, the configuration and the host table. */
static int send_state(const repair_t *r)
{
    for (int i = 0; i < r->nfailed; i++) {
        char *buf = NULL;
        int len = 0, rc = sal_rt_pack_state(r->failed[i], r->to_cpuset[i], &buf, &len);
        if (rc != SAL_OK)
            return rc;
        if (MPI_Send(&len, 1, MPI_INT, i, SAL_TAG_STATE, r->inter) != MPI_SUCCESS ||
            MPI_Send(buf, len, MPI_CHAR, i, SAL_TAG_STATE, r->inter) != MPI_SUCCESS) {
            free(buf);
            return sal_error(SAL_ERR_PROC_FAILED, "sending state to replacement %d failed", i);
        }
        free(buf);
    }
    return SAL_OK;
}

/* Merge, run between() (the leader sends / a replacement receives the state, which sets sal_rt.rank
 * to the original rank), split with key = original rank, agree. Both sides of the intercommunicator
 * call this. */
static int rejoin(MPI_Comm inter, int high, MPI_Comm *merged, MPI_Comm *fixed,
                  int (*between)(void *), void *arg)
{
    int ok = 1, rc;

    if (MPI_Intercomm_merge(inter, high, merged) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "merging with the replacements failed");
    MPI_Comm_set_errhandler(*merged, MPI_ERRORS_RETURN);
    rc = between ? between(arg) : SAL_OK;
    ok = rc == SAL_OK;
    if (MPI_Comm_split(*merged, 0, ok ? sal_rt.rank : 0, fixed) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "splitting the merged communicator failed");
    MPI_Comm_set_errhandler(*fixed, MPI_ERRORS_RETURN);
    if (MPIX_Comm_agree(*fixed, &ok) != MPI_SUCCESS || !ok)
        return rc != SAL_OK ? rc
                            : sal_error(SAL_ERR_PROC_FAILED, "the repaired communicator is "
                                                             "not complete");
    return SAL_OK;
}

static int leader_send(void *arg)
{
    const repair_t *r = arg;

    return r->leader ? send_state(r) : SAL_OK;
}

/* One repair attempt on the survivors of old. */
static int attempt(MPI_Comm old, repair_t *r)
{
    double t0 = sal_wall_now();
    int me, rc;

    MPIX_Comm_revoke(old);
    r->t_revoke = sal_wall_now() - t0;
    t0 = sal_wall_now();
    if (MPIX_Comm_shrink(old, &r->shrunk) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "shrinking the communicator failed");
    MPI_Comm_set_errhandler(r->shrunk, MPI_ERRORS_RETURN);
    r->t_shrink = sal_wall_now() - t0;
    MPI_Comm_rank(r->shrunk, &me);
    r->leader = me == 0;
    rc = find_failed(old, r);
    if (rc != SAL_OK)
        return rc;
    if (r->nfailed == 0) {
        /* Revoked without a failed process (another survivor's spurious alarm): the shrunk
         * communicator already holds everyone, in the original order. */
        r->fixed = r->shrunk;
        r->shrunk = MPI_COMM_NULL;
        return SAL_OK;
    }
    if (r->leader) {
        report_failure(r);
        rc = place(r);
        if (rc != SAL_OK)
            return rc;
    }
    t0 = sal_wall_now();
    rc = spawn(r);
    if (rc != SAL_OK)
        return rc;
    MPI_Comm_set_errhandler(r->inter, MPI_ERRORS_RETURN);
    rc = rejoin(r->inter, 0, &r->merged, &r->fixed, leader_send, r);
    r->t_spawn = sal_wall_now() - t0;
    return rc;
}

static void report_phases(const repair_t *r)
{
    sal_event("revoke", "\"seconds\":%.6f", r->t_revoke);
    sal_event("shrink", "\"seconds\":%.6f,\"size\":%d", r->t_shrink, sal_rt.size - r->nfailed);
    sal_event("spawn", "\"seconds\":%.6f,\"count\":%d", r->t_spawn, r->nfailed);
}

static void install(MPI_Comm fixed)
{
    MPI_Comm old = sal_rt.world;

    sal_rt.world = fixed;
    sal_rt_set_errhandler(fixed);
    sal_rt_reset_derived();
    sal_ckpt_set_comm(sal_rt.ck, fixed);
    MPI_Comm_free(&old);
    sal_rt_identity();
    sal_rt.repairs++;
}

int sal_rt_repair(void)
{
    int attempts = (int)sal_rt.set->repair_retries, rc = SAL_ERR_RECOVERY;

    if (strcmp(sal_rt.set->policy, "respawn") != 0)
        return sal_error(SAL_ERR_UNSUPPORTED,
                         "policy=%s is not available in this version; use "
                         "policy=respawn",
                         sal_rt.set->policy);
    for (int a = 0; a < attempts; a++) {
        repair_t r = {.shrunk = MPI_COMM_NULL,
                      .inter = MPI_COMM_NULL,
                      .merged = MPI_COMM_NULL,
                      .fixed = MPI_COMM_NULL};
        rc = attempt(sal_rt.world, &r);
        if (rc == SAL_OK) {
            MPI_Comm fixed = r.fixed;
            r.fixed = MPI_COMM_NULL;
            sal_rt.repair_leader = r.leader;
            if (r.leader)
                report_phases(&r);
            release(&r, 0);
            install(fixed);
            return sal_hostmap_exchange(fixed);
        }
        SAL_LOG_W("repair attempt %d/%d failed: %s", a + 1, attempts, sal_last_error());
        release(&r, 1);
    }
    return sal_error(SAL_ERR_RECOVERY, "could not repair the communicator after %d attempts: %s",
                     attempts, sal_last_error());
}

static int receive_state(void *arg)
{
    MPI_Comm parent = *(MPI_Comm *)arg;
    int len = 0, oldrank = -1, rc;
    char *buf;

    if (MPI_Recv(&len, 1, MPI_INT, 0, SAL_TAG_STATE, parent, MPI_STATUS_IGNORE) != MPI_SUCCESS ||
        len < 1 || len > (64 << 20))
        return sal_error(SAL_ERR_PROC_FAILED, "receiving state from the repair leader failed");
    buf = malloc((size_t)len);
    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "replacement state");
    if (MPI_Recv(buf, len, MPI_CHAR, 0, SAL_TAG_STATE, parent, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        free(buf);
        return sal_error(SAL_ERR_PROC_FAILED, "receiving state from the repair leader failed");
    }
    rc = sal_rt_unpack_state(buf, len, &oldrank);
    free(buf);
    sal_rt.rank = oldrank;
    return rc;
}

int sal_rt_join(MPI_Comm parent, MPI_Comm *comm)
{
    MPI_Comm merged = MPI_COMM_NULL, fixed = MPI_COMM_NULL;
    int rc;

    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    rc = rejoin(parent, 1, &merged, &fixed, receive_state, &parent);
    free_comm(&merged, rc != SAL_OK);
    MPI_Comm_free(&parent);
    if (rc != SAL_OK) {
        free_comm(&fixed, 1);
        return rc;
    }
    sal_rt.repairs++;
    *comm = fixed;
    return SAL_OK;
}
