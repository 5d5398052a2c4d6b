/*
 * Repair with ULFM (Open MPI 5 --with-ft ulfm).
 *
 * Two communicators: sal_rt.full holds every process of the job -- the application's ranks first,
 * in rank order, then the parked spares -- and sal_rt.world, the application's, is split from it.
 * A repair:
 *   1. revokes world and full, so that every survivor and every parked spare leaves its operation;
 *   2. shrinks full to the survivors; the lost application ranks are the group difference;
 *   3. plans each lost rank by the policy chain, left to right: `spares` gives it to the lowest
 *      parked spare, `respawn` to a new process (placed with hwloc, spawned, merged), `shrink`
 *      drops it and renumbers the ranks after it; every survivor computes the same plan from the
 *      same groups, so no message is needed to agree on it;
 *   4. splits the new full communicator with key = new rank (spares after the application's
 *      ranks), then the new world from it, and agrees on the result.
 * A failure during the repair starts it again from the revoked full communicator, at most
 * repair_retries times.
 *
 * The leader spawns the replacements alone (over MPI_COMM_SELF) while the other survivors sleep
 * until it tells them the outcome; the two sides are then joined by MPI_Intercomm_create through
 * the leader. A spawn over all the survivors kept them spinning in its broadcast (Open MPI's
 * ompi/dpm/dpm.c) for the whole start of the replacements, on the cores those start on.
 *
 * The spawn has a bound of its own, half the repair's. Open MPI 5.0.11's root waits up to 600 s
 * for the replacements to answer (ompi/dpm/dpm.c), and a replacement that died in MPI_Init (a
 * parent's host lost during the spawn) never answers: the leader ends itself, and the other
 * survivors, whose wait for its word fails, repair it with the rest in the next attempt. When the
 * host is lost later, every survivor can wait in the allocation of the new communicator's id,
 * which does not see failures: all end themselves, and salrun relaunches half a repair bound
 * sooner.
 *
 * Open MPI 5.0.x: agreement runs on an intracommunicator (not on the intercommunicator), and
 * every intermediate communicator is freed before MPI_Finalize (a replacement still connected to
 * the parent job crashes in MPI_Finalize otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>
#include <mpi-ext.h>

#include "bound.h"
#include "clock.h"
#include "events.h"
#include "hostmap.h"
#include "log.h"
#include "runtime.h"

#define SAL_TAG_STATE 7301
#define SAL_TAG_PARK  7302 /* application rank 0 -> spares: the job is over */
#define SAL_TAG_SPAWN 7303 /* repair leader -> survivors: the outcome of its spawn */
#define SAL_TAG_JOIN  7304 /* MPI_Intercomm_create of the survivors and the replacements */

enum plan_kind { PLAN_SPARE, PLAN_SPAWN, PLAN_DROP };

typedef struct repair {
    MPI_Comm shrunk, inter, merged, full, world;
    MPI_Comm self, pair, bridge; /* respawn, leader: its spawn's; leader + replacements; all */
    int napp;                    /* application ranks before the repair */
    int *lost;                   /* lost application ranks, ascending */
    int nlost;
    int *plan;     /* plan_kind of each lost rank */
    int *spare_of; /* PLAN_SPARE: the old full rank of the spare that takes it */
    int nspawn, ndrop, nspares_left;
    char **to_host, **to_cpuset; /* leader: placement of each spawned replacement */
    int leader;                  /* rank 0 of the shrunk communicator */
    int active;                  /* this process is an application rank of the repaired job */
    double t_revoke, t_shrink, t_spawn;
} repair_t;

static void free_comm(MPI_Comm *c, int revoke)
{
    if (*c == MPI_COMM_NULL)
        return;
    if (revoke)
        MPIX_Comm_revoke(*c);
    MPI_Comm_free(c);
    *c = MPI_COMM_NULL;
}

/* An empty repair: no communicator, no plan. */
static void clear(repair_t *r)
{
    memset(r, 0, sizeof(*r));
    r->shrunk = r->inter = r->merged = r->full = r->world = r->self = r->pair = r->bridge =
        MPI_COMM_NULL;
}

static void release(repair_t *r, int revoke)
{
    free_comm(&r->world, revoke);
    free_comm(&r->full, revoke);
    free_comm(&r->merged, revoke);
    free_comm(&r->bridge, revoke);
    free_comm(&r->pair, revoke);
    free_comm(&r->inter, revoke);
    free_comm(&r->self, 0);
    free_comm(&r->shrunk, 0);
    for (int i = 0; i < r->nspawn; i++) {
        free(r->to_host ? r->to_host[i] : NULL);
        free(r->to_cpuset ? r->to_cpuset[i] : NULL);
    }
    free(r->to_host);
    free(r->to_cpuset);
    free(r->lost);
    free(r->plan);
    free(r->spare_of);
    clear(r);
}

/* ---- planning ---- */

/* Old full ranks present in shrunk, ascending. [OUT] *alive (caller frees), *n. */
static int survivors(MPI_Comm old, MPI_Comm shrunk, int **alive, int *n)
{
    MPI_Group gold, gnew;
    int *idx, rc = SAL_OK;

    MPI_Comm_group(old, &gold);
    MPI_Comm_group(shrunk, &gnew);
    MPI_Group_size(gnew, n);
    idx = malloc(sizeof(int) * (size_t)(*n + 1));
    *alive = malloc(sizeof(int) * (size_t)(*n + 1));
    if (!idx || !*alive) {
        free(*alive);
        *alive = NULL;
        rc = sal_error(SAL_ERR_NOMEM, "survivor list");
    } else {
        for (int i = 0; i < *n; i++)
            idx[i] = i;
        /* Shrinking keeps the order of the old communicator, so the result is ascending. */
        MPI_Group_translate_ranks(gnew, *n, idx, gold, *alive);
    }
    free(idx);
    MPI_Group_free(&gnew);
    MPI_Group_free(&gold);
    return rc;
}

/* The first policy of the chain that can take one more lost rank. */
static int choose(repair_t *r, const char *policy, int next_spare, int nspares)
{
    const char *p = policy;

    while (*p) {
        if (strncmp(p, "spares", 6) == 0 && next_spare < nspares)
            return PLAN_SPARE;
        if (strncmp(p, "respawn", 7) == 0)
            return PLAN_SPAWN;
        if (strncmp(p, "shrink", 6) == 0 && r->napp - r->ndrop - 1 >= sal_rt.set->min_ranks)
            return PLAN_DROP;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    return -1;
}

/* Every survivor: the lost application ranks and what replaces each. Deterministic. */
static int make_plan(MPI_Comm old, repair_t *r)
{
    int *alive = NULL, nalive = 0, nold = 0, *spares, nspares = 0, next = 0, k = 0, noted;
    int rc = survivors(old, r->shrunk, &alive, &nalive);

    if (rc != SAL_OK)
        return rc;
    MPI_Comm_size(old, &nold);
    r->lost = calloc((size_t)r->napp + 1, sizeof(int));
    r->plan = calloc((size_t)r->napp + 1, sizeof(int));
    r->spare_of = calloc((size_t)r->napp + 1, sizeof(int));
    spares = calloc((size_t)nalive + 1, sizeof(int));
    if (!r->lost || !r->plan || !r->spare_of || !spares) {
        free(alive);
        free(spares);
        return sal_error(SAL_ERR_NOMEM, "repair plan");
    }
    for (int a = 0, i = 0; a < r->napp; a++) {
        while (i < nalive && alive[i] < a)
            i++;
        if (i >= nalive || alive[i] != a)
            r->lost[r->nlost++] = a;
    }
    for (int i = 0; i < nalive; i++)
        if (alive[i] >= r->napp)
            spares[nspares++] = alive[i];
    free(alive);
    for (; k < r->nlost && rc == SAL_OK; k++) {
        int kind = choose(r, sal_rt.set->policy, next, nspares);
        if (kind < 0)
            rc = sal_error(SAL_ERR_RECOVERY,
                           "rank %d is lost and policy '%s' cannot replace it (%d spare(s) left, "
                           "%d rank(s) would remain, min_ranks=%lld): the job cannot go on in-job",
                           r->lost[k], sal_rt.set->policy, nspares - next, r->napp - r->ndrop - 1,
                           (long long)sal_rt.set->min_ranks);
        else if (kind == PLAN_SPARE)
            r->spare_of[k] = spares[next++];
        r->plan[k] = kind;
        r->nspawn += kind == PLAN_SPAWN;
        r->ndrop += kind == PLAN_DROP;
    }
    r->nspares_left = nspares - next;
    free(spares);
    (void)nold;
    noted = sal_hostmap_note_failed(r->lost, r->nlost); /* even when no plan is possible */
    return rc != SAL_OK ? rc : noted;
}

/* New application rank of old application rank a (a survivor or a replaced rank), -1 if dropped. */
static int renumber(const repair_t *r, int a)
{
    int below = 0;

    for (int k = 0; k < r->nlost; k++) {
        if (r->lost[k] == a && r->plan[k] == PLAN_DROP)
            return -1;
        below += r->lost[k] < a && r->plan[k] == PLAN_DROP;
    }
    return a - below;
}

/* ---- reporting ---- */

static const char *plan_name(int kind)
{
    return kind == PLAN_SPARE ? "spare" : kind == PLAN_SPAWN ? "respawn" : "shrink";
}

static void report_failure(const repair_t *r)
{
    char ranks[512] = "", hosts[1024] = "", esc[300];
    size_t lr = 0, lh = 0;

    for (int i = 0; i < r->nlost && lr < sizeof(ranks) - 16 && lh < sizeof(hosts) - 300; i++) {
        const char *h = sal_hostmap_host(r->lost[i]);
        lr += (size_t)snprintf(ranks + lr, sizeof(ranks) - lr, "%s%d", i ? "," : "", r->lost[i]);
        lh += (size_t)snprintf(hosts + lh, sizeof(hosts) - lh, "%s\"%s\"", i ? "," : "",
                               sal_json_escape(esc, sizeof(esc), h));
    }
    sal_event("failure", "\"ranks\":[%s],\"hosts\":[%s],\"detector\":\"ulfm\",\"detected\":%.6f",
              ranks, hosts, sal_clock_wall() - (sal_clock_mono() - sal_rt.t_detect));
    SAL_LOG_W("rank(s) %s failed; repairing with policy %s", ranks, sal_rt.set->policy);
    for (int i = 0; i < r->nlost; i++)
        sal_event("policy", "\"lost_rank\":%d,\"action\":\"%s\"", r->lost[i],
                  plan_name(r->plan[i]));
}

static void report_phases(const repair_t *r)
{
    sal_event("revoke", "\"seconds\":%.6f", r->t_revoke);
    sal_event("shrink", "\"seconds\":%.6f,\"size\":%d", r->t_shrink, r->napp - r->nlost);
    if (r->nspawn > 0)
        sal_event("spawn", "\"seconds\":%.6f,\"count\":%d", r->t_spawn, r->nspawn);
    else
        sal_event("rebuild", "\"seconds\":%.6f,\"spares\":%d,\"dropped\":%d", r->t_spawn,
                  r->nlost - r->ndrop, r->ndrop);
}

/* ---- respawn ---- */

/* Leader: a host and a cpuset for each spawned replacement (docs/placement.md). When no placement
 * can be computed the replacement goes where the lost rank ran, unbound. */
static int place(repair_t *r, const int *spawned)
{
    int rc;

    r->to_host = calloc((size_t)r->nspawn, sizeof(char *));
    r->to_cpuset = calloc((size_t)r->nspawn, sizeof(char *));
    if (!r->to_host || !r->to_cpuset)
        return sal_error(SAL_ERR_NOMEM, "placement of %d replacement(s)", r->nspawn);
    rc = sal_hostmap_place(spawned, r->nspawn, r->to_host, r->to_cpuset);
    if (rc == SAL_OK)
        return SAL_OK;
    SAL_LOG_W("no placement (%s); replacements go to the hosts of the lost ranks, unbound",
              sal_last_error());
    for (int i = 0; i < r->nspawn; i++) {
        free(r->to_host[i]);
        free(r->to_cpuset[i]);
        r->to_host[i] = strdup(sal_hostmap_host(spawned[i]));
        r->to_cpuset[i] = strdup("");
        if (!r->to_host[i] || !r->to_cpuset[i])
            return sal_error(SAL_ERR_NOMEM, "placement of %d replacement(s)", r->nspawn);
    }
    return SAL_OK;
}

/* Leader: spawns one process per PLAN_SPAWN rank, alone (inter: the leader and the replacements).
 */
static int spawn(repair_t *r)
{
    char **cmds = calloc((size_t)r->nspawn, sizeof(char *));
    char ***argvs = calloc((size_t)r->nspawn, sizeof(char **));
    int *maxprocs = calloc((size_t)r->nspawn, sizeof(int));
    int *errcodes = calloc((size_t)r->nspawn, sizeof(int));
    MPI_Info *infos = calloc((size_t)r->nspawn, sizeof(MPI_Info));
    int rc = SAL_OK, mrc;

    if (!cmds || !argvs || !maxprocs || !errcodes || !infos) {
        rc = sal_error(SAL_ERR_NOMEM, "spawn arguments");
        goto out_free;
    }
    for (int i = 0; i < r->nspawn; i++) {
        cmds[i] = sal_rt.exe;
        argvs[i] = sal_rt.args;
        maxprocs[i] = 1;
        MPI_Info_create(&infos[i]);
        if (r->to_host && r->to_host[i])
            MPI_Info_set(infos[i], "host", r->to_host[i]);
    }
    sal_bound_enter_part("the spawn of the replacements", 0.5, sal_rt.longest_repair);
    mrc = MPI_Comm_spawn_multiple(r->nspawn, cmds, argvs, maxprocs, infos, 0, r->self, &r->inter,
                                  errcodes);
    sal_bound_leave();
    if (sal_rt_made(mrc, &r->inter) != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING] = "";
        int len = 0;

        MPI_Error_string(mrc, msg, &len);
        rc = sal_error(sal_rt_is_failure(mrc) ? SAL_ERR_PROC_FAILED : SAL_ERR_RECOVERY,
                       "spawning %d replacement(s) of %s failed: %s", r->nspawn, sal_rt.exe, msg);
    } else {
        MPI_Comm_set_errhandler(r->inter, MPI_ERRORS_RETURN);
    }
    for (int i = 0; i < r->nspawn; i++)
        MPI_Info_free(&infos[i]);
out_free:
    free(infos);
    free(errcodes);
    free(maxprocs);
    free(argvs);
    free(cmds);
    return rc;
}

/* Leader: sends each spawned replacement its new rank, its cpuset and the configuration. */
static int send_state(const repair_t *r, const int *spawned)
{
    for (int i = 0; i < r->nspawn; i++) {
        char *buf = NULL;
        int len = 0, rc = sal_rt_pack_state(renumber(r, spawned[i]), r->to_cpuset[i], &buf, &len);
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

/* Leader: spawns, makes the pair communicator (the leader, then the replacements, which split it
 * too: sal_rt_join) and tells every other survivor whether that worked, even after an error, so
 * that none waits for it in vain. */
static int spawn_and_tell(repair_t *r, const int *spawned)
{
    MPI_Comm none = MPI_COMM_NULL;
    int rc = spawned ? place(r, spawned) : SAL_ERR_NOMEM, ok, n = 0;

    /* a spawn reports its errors on its communicator: MPI_COMM_SELF's handler is the
     * application's (fatal by default) */
    if (rc == SAL_OK && MPI_Comm_dup(MPI_COMM_SELF, &r->self) != MPI_SUCCESS)
        rc = sal_error(SAL_ERR_MPI, "duplicating MPI_COMM_SELF for the spawn failed");
    if (rc == SAL_OK) {
        MPI_Comm_set_errhandler(r->self, MPI_ERRORS_RETURN);
        rc = spawn(r);
    }
    if (rc == SAL_OK &&
        (sal_rt_made(MPI_Intercomm_merge(r->inter, 0, &r->pair), &r->pair) != MPI_SUCCESS ||
         MPI_Comm_split(r->pair, MPI_UNDEFINED, 0, &none) != MPI_SUCCESS))
        rc = sal_error(SAL_ERR_PROC_FAILED, "merging with the replacements failed");
    ok = rc == SAL_OK;
    MPI_Comm_size(r->shrunk, &n);
    /* to every one, whatever a send returns: the agreement that follows sees a lost survivor */
    for (int i = 1; i < n; i++)
        (void)MPI_Send(&ok, 1, MPI_INT, i, SAL_TAG_SPAWN, r->shrunk);
    return rc;
}

/* The other survivors: wait for the leader's word, asleep between tests (a spinning wait took the
 * cores the replacements start on). The leader's loss fails the receive. */
static int await_spawn(repair_t *r)
{
    const struct timespec nap = {0, 1000000};
    int ok = 0, here = 0;

    while (!here) {
        if (MPI_Iprobe(0, SAL_TAG_SPAWN, r->shrunk, &here, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return sal_error(SAL_ERR_PROC_FAILED, "the repair leader failed during the spawn");
        if (!here)
            nanosleep(&nap, NULL);
    }
    if (MPI_Recv(&ok, 1, MPI_INT, 0, SAL_TAG_SPAWN, r->shrunk, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "the repair leader failed during the spawn");
    return ok ? SAL_OK : sal_error(SAL_ERR_PROC_FAILED, "the spawn failed at the repair leader");
}

static int respawn(repair_t *r)
{
    int *spawned = calloc((size_t)r->nspawn + 1, sizeof(int)), n = 0, rc = SAL_OK, flag;

    if (!spawned)
        rc = sal_error(SAL_ERR_NOMEM, "respawn list");
    for (int k = 0; spawned && k < r->nlost; k++)
        if (r->plan[k] == PLAN_SPAWN)
            spawned[n++] = r->lost[k];
    if (r->leader)
        rc = spawn_and_tell(r, spawned);
    else if (rc == SAL_OK)
        rc = await_spawn(r);
    /* Every survivor alive before the replacements are engaged in the join: a survivor lost inside
     * MPI_Intercomm_create left a replacement waiting in Open MPI's allocation of the new
     * communicator's id, which sees neither the failure nor the revocation, until the end of the
     * job. */
    flag = rc == SAL_OK;
    if ((MPIX_Comm_agree(r->shrunk, &flag) != MPI_SUCCESS || !flag) && rc == SAL_OK)
        rc = sal_error(SAL_ERR_PROC_FAILED, "a survivor failed during the spawn");
    /* the survivors low, the replacements high (sal_rt_join) */
    if (rc == SAL_OK &&
        (sal_rt_made(MPI_Intercomm_create(r->shrunk, 0, r->leader ? r->pair : MPI_COMM_NULL, 1,
                                          SAL_TAG_JOIN, &r->bridge),
                     &r->bridge) != MPI_SUCCESS ||
         sal_rt_made(MPI_Intercomm_merge(r->bridge, 0, &r->merged), &r->merged) != MPI_SUCCESS))
        rc = sal_error(SAL_ERR_PROC_FAILED, "joining the replacements failed");
    if (rc == SAL_OK) {
        MPI_Comm_set_errhandler(r->merged, MPI_ERRORS_RETURN);
        if (r->leader)
            rc = send_state(r, spawned);
    }
    free(spawned);
    return rc;
}

/* respawn, then an agreement of the survivors on its outcome, so that all go the same way: SAL_OK
 * when it succeeded at every one of them; otherwise SAL_ERR_PROC_FAILED at every one, and the next
 * attempt starts again (release() revokes what was built, which ends the replacements already
 * started). While a host is lost during the spawn the survivors' errors differ, and some are not
 * process failures (Open MPI 5.0.11 reports a failure inside the allocation of the new
 * communicator's id as another error): taken as they come, some survivors gave up the repair while
 * others went on. A spawn that cannot succeed fails every attempt: repair_retries bounds it. */
static int respawn_agreed(repair_t *r)
{
    int rc = respawn(r), flag = rc == SAL_OK, arc;

    arc = MPIX_Comm_agree(r->shrunk, &flag);
    if (arc == MPI_SUCCESS && flag)
        return SAL_OK;
    if (rc == SAL_OK)
        return sal_error(SAL_ERR_PROC_FAILED, "%s",
                         arc != MPI_SUCCESS ? "a survivor failed during the spawn"
                                            : "the spawn failed at another survivor");
    return sal_error(SAL_ERR_PROC_FAILED, "%s", sal_last_error());
}

/* ---- the new communicators ---- */

/* Collective over base (every process of the repaired job): full with key = new rank (spares after
 * the application's ranks), world from it, then agreement. key < napp_new means "application rank
 * key". ok = 0 from any process (a replacement that did not get its state) fails the whole step
 * everywhere. */
static int rebuild(MPI_Comm base, int key, int napp_new, int ok, MPI_Comm *full, MPI_Comm *world)
{
    int flag = ok;

    if (sal_rt_made(MPI_Comm_split(base, 0, key, full), full) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "building the repaired communicator failed");
    MPI_Comm_set_errhandler(*full, MPI_ERRORS_RETURN);
    if (sal_rt_made(MPI_Comm_split(*full, key < napp_new ? 0 : 1, key, world), world) !=
        MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "building the application communicator failed");
    MPI_Comm_set_errhandler(*world, MPI_ERRORS_RETURN);
    if (MPIX_Comm_agree(*full, &flag) != MPI_SUCCESS || !flag)
        return ok ? sal_error(SAL_ERR_PROC_FAILED, "the repaired communicator is not complete")
                  : SAL_ERR_RECOVERY;
    return SAL_OK;
}

/* My key in the repaired job: survivors and the spares that take a lost rank get their (new)
 * application rank, the other spares keep their order after the application's ranks. */
static int my_key(const repair_t *r, int old_full_rank, int *active)
{
    int napp_new = r->napp - r->ndrop, behind = 0;

    *active = 1;
    if (old_full_rank < r->napp)
        return renumber(r, old_full_rank);
    for (int k = 0; k < r->nlost; k++)
        if (r->plan[k] == PLAN_SPARE && r->spare_of[k] == old_full_rank)
            return renumber(r, r->lost[k]);
    *active = 0;
    for (int k = 0; k < r->nlost; k++)
        behind += r->plan[k] == PLAN_SPARE && r->spare_of[k] < old_full_rank;
    return napp_new + (old_full_rank - r->napp) - behind;
}

/* MPIX_Comm_shrink of sal_rt.full into r->shrunk, with the same outcome at every survivor: a
 * process lost during the shrink can fail it at some survivors only, and those would shrink again
 * while the others went on with the new communicator, each waiting for the other for ever (seen
 * with a second host lost during a repair: three survivors in the spawn, the fourth in a new
 * shrink's agreement). An agreement on the old communicator (revoked, where agreements still run,
 * their flag the same everywhere even when they report a failure) decides for all. */
static int shrink_agreed(repair_t *r)
{
    int ok = sal_rt_made(MPIX_Comm_shrink(sal_rt.full, &r->shrunk), &r->shrunk) == MPI_SUCCESS;
    int flag = ok;

    (void)MPIX_Comm_agree(sal_rt.full, &flag);
    if (flag)
        return SAL_OK;
    /* r->shrunk, when this process got it, is freed by release() */
    return sal_error(SAL_ERR_PROC_FAILED, "shrinking the communicator failed at %s",
                     ok ? "another survivor" : "this process");
}

/* One repair attempt on the survivors of sal_rt.full. */
static int attempt(repair_t *r)
{
    double t0 = sal_clock_mono();
    int me, old_rank, key, active = 0, rc;

    MPI_Comm_rank(sal_rt.full, &old_rank);
    sal_rt_revoke(sal_rt.world);
    sal_rt_revoke(sal_rt.full);
    r->t_revoke = sal_clock_mono() - t0;
    t0 = sal_clock_mono();
    if ((rc = shrink_agreed(r)) != SAL_OK)
        return rc;
    MPI_Comm_set_errhandler(r->shrunk, MPI_ERRORS_RETURN);
    r->t_shrink = sal_clock_mono() - t0;
    MPI_Comm_rank(r->shrunk, &me);
    r->leader = me == 0;
    rc = make_plan(sal_rt.full, r);
    if (rc != SAL_OK && rc != SAL_ERR_RECOVERY)
        return rc;
    if (r->leader && r->nlost > 0)
        report_failure(r);
    if (r->nlost > 0)
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_REPAIR);
    t0 = sal_clock_mono();
    if (rc == SAL_OK && r->nspawn > 0)
        rc = respawn_agreed(r);
    /* SAL_ERR_RECOVERY: no plan; either way every survivor knows the outcome */
    if (rc != SAL_OK)
        return rc;
    key = my_key(r, old_rank, &active);
    r->active = active;
    rc = rebuild(r->merged != MPI_COMM_NULL ? r->merged : r->shrunk, key, r->napp - r->ndrop, 1,
                 &r->full, &r->world);
    r->t_spawn = sal_clock_mono() - t0;
    return rc;
}

static void install(repair_t *r)
{
    MPI_Comm old_world = sal_rt.world, old_full = sal_rt.full;
    int old_rank = sal_rt.rank, was_app = !sal_rt.is_spare;

    sal_rt.full = r->full;
    sal_rt.world = r->world;
    r->full = r->world = MPI_COMM_NULL;
    sal_rt.is_spare = !r->active;
    sal_rt_set_errhandler(sal_rt.world);
    sal_rt_reset_derived();
    sal_ckpt_set_comm(sal_rt.ck, sal_rt.world);
    MPI_Comm_free(&old_world);
    MPI_Comm_free(&old_full);
    sal_rt_identity();
    if (r->active && was_app && r->ndrop > 0 && old_rank != sal_rt.rank) {
        int first = sal_log_renumbered(old_rank);

        SAL_LOG_I("the shrink renumbered this process from rank %d to rank %d: its lines now say "
                  "r%d(was r%d), r%d being its number before the first shrink",
                  old_rank, sal_rt.rank, sal_rt.rank, first, first);
    }
    sal_rt.repairs++;
    sal_rt.resized = r->active && r->ndrop > 0;
}

int sal_rt_repair(void)
{
    int attempts = (int)sal_rt.set->repair_retries, rc = SAL_ERR_RECOVERY;
    int was_spare = sal_rt.is_spare;

    for (int a = 0; a < attempts; a++) {
        repair_t r;
        clear(&r);
        r.napp = sal_rt.is_spare ? sal_rt_napp() : sal_rt.size;
        rc = attempt(&r);
        if (rc == SAL_OK) {
            sal_rt.repair_leader = r.leader && r.nlost > 0;
            sal_rt_stats.revoke_seconds += r.t_revoke;
            sal_rt_stats.shrink_seconds += r.t_shrink;
            sal_rt_stats.replace_seconds += r.t_spawn;
            if (sal_rt.repair_leader)
                report_phases(&r);
            install(&r);
            release(&r, 0);
            if (was_spare && !sal_rt.is_spare) {
                sal_rt.is_replacement = 1;
                sal_rt.needs_restore = 1;
            }
            /* The repair's last exchange: a process lost during it (a second host during the
             * repair of the first) is repaired by the next attempt, at every member of the new
             * communicator, a spare that took a rank included, instead of failing the repair. */
            rc = sal_hostmap_exchange(sal_rt.full);
            if (rc != SAL_ERR_PROC_FAILED)
                return rc;
            SAL_LOG_W("repair attempt %d/%d: %s: repairing again", a + 1, attempts,
                      sal_last_error());
            continue;
        }
        release(&r, rc != SAL_ERR_RECOVERY);
        if (rc == SAL_ERR_RECOVERY)
            return rc;
        SAL_LOG_W("repair attempt %d/%d failed: %s", a + 1, attempts, sal_last_error());
    }
    return sal_error(SAL_ERR_RECOVERY, "could not repair the communicator after %d attempts: %s",
                     attempts, sal_last_error());
}

/* ---- a spawned replacement ---- */

static int receive_state(MPI_Comm parent, int *newrank)
{
    int len = 0, rc;
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
    rc = sal_rt_unpack_state(buf, len, newrank);
    free(buf);
    return rc;
}

/* The replacements' side of respawn(): the pair communicator with the leader, their own from it,
 * the bridge to the survivors through the leader, and the merged communicator. */
static int join_survivors(MPI_Comm parent, MPI_Comm *merged)
{
    MPI_Comm pair = MPI_COMM_NULL, own = MPI_COMM_NULL, bridge = MPI_COMM_NULL;
    int rc = SAL_OK;

    if (sal_rt_made(MPI_Intercomm_merge(parent, 1, &pair), &pair) != MPI_SUCCESS ||
        sal_rt_made(MPI_Comm_split(pair, 0, 0, &own), &own) != MPI_SUCCESS ||
        sal_rt_made(MPI_Intercomm_create(own, 0, pair, 0, SAL_TAG_JOIN, &bridge), &bridge) !=
            MPI_SUCCESS ||
        sal_rt_made(MPI_Intercomm_merge(bridge, 1, merged), merged) != MPI_SUCCESS)
        rc = sal_error(SAL_ERR_PROC_FAILED, "merging with the survivors failed");
    free_comm(&bridge, rc != SAL_OK);
    free_comm(&own, rc != SAL_OK);
    free_comm(&pair, rc != SAL_OK);
    return rc;
}

int sal_rt_join(MPI_Comm parent)
{
    MPI_Comm merged = MPI_COMM_NULL, full = MPI_COMM_NULL, world = MPI_COMM_NULL;
    int newrank = -1, rc, napp_new;

    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    rc = join_survivors(parent, &merged);
    if (rc == SAL_OK) {
        MPI_Comm_set_errhandler(merged, MPI_ERRORS_RETURN);
        rc = receive_state(parent, &newrank);
    }
    /* A replacement is always an application rank: any napp above its key says so. */
    napp_new = newrank + 1;
    if (merged != MPI_COMM_NULL)
        rc = rebuild(merged, rc == SAL_OK ? newrank : 0, napp_new, rc == SAL_OK, &full, &world);
    free_comm(&merged, rc != SAL_OK);
    MPI_Comm_free(&parent);
    if (rc != SAL_OK) {
        free_comm(&world, 1);
        free_comm(&full, 1);
        return rc;
    }
    sal_rt.rank = newrank;
    sal_rt.full = full;
    sal_rt.world = world;
    sal_rt.repairs++;
    return SAL_OK;
}

/* ---- spares ---- */

int sal_rt_park(void)
{
    for (;;) {
        int msg = 0, cls = MPI_SUCCESS, mrc, rc;

        mrc = MPI_Recv(&msg, 1, MPI_INT, MPI_ANY_SOURCE, SAL_TAG_PARK, sal_rt.full,
                       MPI_STATUS_IGNORE);
        if (mrc == MPI_SUCCESS)
            return sal_error(SAL_ERR_STATE, "the job finished without needing this spare");
        MPI_Error_class(mrc, &cls);
        if (cls == MPIX_ERR_PROC_FAILED || cls == MPIX_ERR_PROC_FAILED_PENDING) {
            /* A peer died: the application's ranks notice it too and revoke full; until then a
             * receive from any source needs the failure acknowledged to wait on. */
            MPIX_Comm_failure_ack(sal_rt.full);
            continue;
        }
        if (cls != MPIX_ERR_REVOKED)
            return sal_error(SAL_ERR_MPI, "a parked spare's wait failed (MPI error class %d)", cls);
        if (sal_rt.t_detect == 0)
            sal_rt.t_detect = sal_clock_mono();
        rc = sal_rt_repair();
        if (rc != SAL_OK)
            return rc;
        sal_rt.t_detect = 0;
        if (!sal_rt.is_spare)
            return SAL_OK;
    }
}

void sal_rt_release_spares(void)
{
    int nfull = 0, done = 1;

    if (sal_rt.full == MPI_COMM_NULL || sal_rt.rank != 0)
        return;
    MPI_Comm_size(sal_rt.full, &nfull);
    for (int r = sal_rt.size; r < nfull; r++)
        MPI_Send(&done, 1, MPI_INT, r, SAL_TAG_PARK, sal_rt.full);
}
