/*
 * Message logging and replay for local rollback (logging.h). One thread calls MPI (docs/api.md,
 * "Threads"): the state below is that thread's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "hooks.h"
#include "interpose.h"
#include "log.h"
#include "logging.h"
#include "wrap.h"

enum { MAX_KNOWN = 64, MAX_CHANNELS = 256, RECV_CHANNEL = 16 };

volatile int sal_logging_mode;

typedef struct known {
    MPI_Comm comm;
    uint32_t key;
    int n;
    int *ranks; /* world rank of each rank of comm */
} known_t;

typedef struct channel {
    int32_t kind; /* SAL_MSGLOG_P2P (sends), RECV_CHANNEL, SAL_MSGLOG_COLL */
    uint32_t comm;
    int32_t src, dst, tag;
    uint32_t next;
} channel_t;

static const MPI_Comm *job_world;
static int my_rank; /* in the job's world, refreshed at each step */
static int64_t cur_step;
static sal_msglog_t own, replay;
static known_t known[MAX_KNOWN];
static int nknown;
static channel_t channels[MAX_CHANNELS];
static int nchannels;
static char unsupported_text[192], replay_text[192];
static int unsupported_set, replay_set;

void sal_logging_setup(const MPI_Comm *world, size_t bound, int64_t base)
{
    job_world = world;
    sal_msglog_free(&own);
    sal_msglog_init(&own, bound, base);
    sal_msglog_free(&replay);
    sal_msglog_init(&replay, 0, base);
    unsupported_set = replay_set = 0;
}

sal_msglog_t *sal_logging_log(void)
{
    return &own;
}

sal_msglog_t *sal_logging_replay_log(void)
{
    return &replay;
}

const char *sal_logging_unsupported(void)
{
    return unsupported_set ? unsupported_text : NULL;
}

const char *sal_logging_replay_failed(void)
{
    return replay_set ? replay_text : NULL;
}

void sal_logging_drop(int64_t base)
{
    sal_msglog_drop(&own, base);
    unsupported_set = 0;
}

static void mark_unsupported(const char *what, const char *fn)
{
    if (unsupported_set)
        return;
    snprintf(unsupported_text, sizeof(unsupported_text), "%s%s%s in step %lld", what, fn ? " " : "",
             fn ? fn : "", (long long)cur_step);
    unsupported_set = 1;
}

/* Returns MPI_ERR_OTHER after recording why the replay cannot go on. */
static int replay_fails(const char *what, const char *fn)
{
    if (!replay_set) {
        snprintf(replay_text, sizeof(replay_text), "%s%s%s in replayed step %lld", what,
                 fn ? " " : "", fn ? fn : "", (long long)cur_step);
        replay_set = 1;
        SAL_LOG_E("local rollback: the replay cannot go on: %s", replay_text);
    }
    return MPI_ERR_OTHER;
}

void sal_logging_step_begin(int64_t step, int mode)
{
    cur_step = step;
    nchannels = 0;
    if (job_world && *job_world != MPI_COMM_NULL)
        PMPI_Comm_rank(*job_world, &my_rank);
    sal_logging_mode = mode;
}

void sal_logging_step_end(void)
{
    sal_logging_mode = SAL_LOGGING_OFF;
}

int sal_logging_register(MPI_Comm comm, uint32_t key, int n, const int *ranks)
{
    int *copy;

    if (nknown >= MAX_KNOWN)
        return sal_error(SAL_ERR_NOMEM, "message logging: more than %d derived communicators",
                         MAX_KNOWN);
    copy = malloc((size_t)n * sizeof(int));
    if (!copy)
        return sal_error(SAL_ERR_NOMEM, "message logging: no memory for %d ranks", n);
    memcpy(copy, ranks, (size_t)n * sizeof(int));
    known[nknown].comm = comm;
    known[nknown].key = key;
    known[nknown].n = n;
    known[nknown].ranks = copy;
    nknown++;
    return SAL_OK;
}

void sal_logging_forget_all(void)
{
    for (int i = 0; i < nknown; i++)
        free(known[i].ranks);
    nknown = 0;
}

/* The key of comm and its table of world ranks (NULL: the world itself). 0 when unknown. */
static int lookup(MPI_Comm comm, uint32_t *key, const known_t **k)
{
    *k = NULL;
    if (job_world && comm == *job_world) {
        *key = SAL_LOGGING_WORLD;
        return 1;
    }
    for (int i = 0; i < nknown; i++) {
        if (known[i].comm == comm) {
            *key = known[i].key;
            *k = &known[i];
            return 1;
        }
    }
    return 0;
}

static int world_of(const known_t *k, int r)
{
    return k ? (r >= 0 && r < k->n ? k->ranks[r] : -1) : r;
}

/* The next sequence number of a channel in this step; -1 when the table is full. */
static int64_t next_seq(int32_t kind, uint32_t comm, int src, int dst, int tag)
{
    for (int i = 0; i < nchannels; i++) {
        channel_t *c = &channels[i];
        if (c->kind == kind && c->comm == comm && c->src == src && c->dst == dst && c->tag == tag)
            return c->next++;
    }
    if (nchannels >= MAX_CHANNELS)
        return -1;
    channels[nchannels++] = (channel_t){kind, comm, src, dst, tag, 1};
    return 0;
}

/* Appends count elements of type at buf to the own log under h (len set here). */
static void log_data(sal_msglog_hdr_t *h, const void *buf, int count, MPI_Datatype type,
                     MPI_Comm comm)
{
    int size = 0, pos = 0;
    void *room = NULL;

    if (PMPI_Pack_size(count, type, comm, &size) != MPI_SUCCESS) {
        mark_unsupported("a datatype that cannot be packed", NULL);
        return;
    }
    h->len = (uint64_t)size;
    if (sal_msglog_append(&own, h, NULL, &room) != SAL_OK) {
        sal_msglog_free(&own);
        own.overflow = 1;
        return;
    }
    if (!room)
        return; /* past the bound: own.overflow says so */
    if (PMPI_Pack(buf, count, type, room, size, &pos, comm) != MPI_SUCCESS)
        mark_unsupported("a datatype that cannot be packed", NULL);
    sal_msglog_shrink_last(&own, (uint64_t)pos);
}

/* Copies a logged payload into buf (at most count elements); fills status. */
static int unpack(const sal_msglog_hdr_t *h, const void *payload, void *buf, int count,
                  MPI_Datatype type, MPI_Comm comm, MPI_Status *status, int source, int tag)
{
    int tsize = 0, pos = 0, n = count;

    PMPI_Type_size(type, &tsize);
    if (tsize > 0 && (uint64_t)n * (uint64_t)tsize > h->len)
        n = (int)(h->len / (uint64_t)tsize);
    if (n > 0 && PMPI_Unpack(payload, (int)h->len, &pos, buf, n, type, comm) != MPI_SUCCESS)
        return replay_fails("a logged payload that does not unpack", NULL);
    if (status && status != MPI_STATUS_IGNORE) {
        status->MPI_SOURCE = source;
        status->MPI_TAG = tag;
        status->MPI_ERROR = MPI_SUCCESS;
        PMPI_Status_set_elements(status, type, n);
    }
    return MPI_SUCCESS;
}

/* The send half: logged in LOG and REPLAY (before it leaves, in LOG). 1 when it may be sent. */
static int log_send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm)
{
    uint32_t key;
    const known_t *k;
    int64_t seq;

    if (dest == MPI_PROC_NULL)
        return 1;
    if (!lookup(comm, &key, &k)) {
        mark_unsupported("a message on a communicator Salamander did not create", NULL);
        return 1;
    }
    seq = next_seq(SAL_MSGLOG_P2P, key, my_rank, world_of(k, dest), tag);
    if (seq < 0) {
        mark_unsupported("more than 256 channels", NULL);
        return 1;
    }
    sal_msglog_hdr_t h = {cur_step,          key, SAL_MSGLOG_P2P, my_rank,
                          world_of(k, dest), tag, (uint32_t)seq,  0};
    log_data(&h, buf, count, type, comm);
    return 1;
}

/* The receive half in REPLAY: from the survivors' entries. */
static int replay_recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                       MPI_Status *status)
{
    uint32_t key;
    const known_t *k;
    sal_msglog_hdr_t h;
    const void *payload;

    if (source == MPI_PROC_NULL) {
        if (status && status != MPI_STATUS_IGNORE) {
            status->MPI_SOURCE = MPI_PROC_NULL;
            status->MPI_TAG = MPI_ANY_TAG;
            status->MPI_ERROR = MPI_SUCCESS;
            PMPI_Status_set_elements(status, type, 0);
        }
        return MPI_SUCCESS;
    }
    if (source == MPI_ANY_SOURCE || tag == MPI_ANY_TAG)
        return replay_fails("a receive from MPI_ANY_SOURCE or with MPI_ANY_TAG", NULL);
    if (!lookup(comm, &key, &k))
        return replay_fails("a receive on a communicator Salamander did not create", NULL);
    int64_t seq = next_seq(RECV_CHANNEL, key, world_of(k, source), my_rank, tag);
    sal_msglog_hdr_t want = {cur_step, key, SAL_MSGLOG_P2P, world_of(k, source),
                             my_rank,  tag, (uint32_t)seq,  0};
    if (seq < 0 || !sal_msglog_find(&replay, &want, &h, &payload)) {
        char what[96];
        snprintf(what, sizeof(what), "no logged message from rank %d with tag %d (number %lld)",
                 want.src, tag, (long long)seq);
        return replay_fails(what, NULL);
    }
    return unpack(&h, payload, buf, count, type, comm, status, source, tag);
}

static int recv_noted(int source, int tag, MPI_Comm comm)
{
    uint32_t key;
    const known_t *k;

    if (source == MPI_PROC_NULL)
        return 0;
    if (source == MPI_ANY_SOURCE || tag == MPI_ANY_TAG)
        mark_unsupported("a receive from MPI_ANY_SOURCE or with MPI_ANY_TAG", NULL);
    else if (!lookup(comm, &key, &k))
        mark_unsupported("a message on a communicator Salamander did not create", NULL);
    return 0;
}

/* The mode, for the application's calls only. */
static int mode_now(void)
{
    return sal_interpose_depth() == 0 ? sal_logging_mode : SAL_LOGGING_OFF;
}

int sal_interpose_send(const void *buf, int count, MPI_Datatype type, int dest, int tag,
                       MPI_Comm comm)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF;

    if (mode != SAL_LOGGING_OFF)
        log_send(buf, count, type, dest, tag, comm);
    if (mode == SAL_LOGGING_REPLAY)
        return MPI_SUCCESS; /* the survivors received it before the failure */
    return PMPI_Send(buf, count, type, dest, tag, comm);
}

int sal_interpose_recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                       MPI_Status *status)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF;

    if (mode == SAL_LOGGING_REPLAY)
        return replay_recv(buf, count, type, source, tag, comm, status);
    if (mode == SAL_LOGGING_LOG)
        recv_noted(source, tag, comm);
    return PMPI_Recv(buf, count, type, source, tag, comm, status);
}

int sal_interpose_sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                           int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                           int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF;

    if (mode != SAL_LOGGING_OFF)
        log_send(sendbuf, sendcount, sendtype, dest, sendtag, comm);
    if (mode == SAL_LOGGING_REPLAY)
        return replay_recv(recvbuf, recvcount, recvtype, source, recvtag, comm, status);
    if (mode == SAL_LOGGING_LOG)
        recv_noted(source, recvtag, comm);
    return sal_interpose_sendrecv_mpi(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf,
                                      recvcount, recvtype, source, recvtag, comm, status);
}

/* Nonblocking point-to-point calls. LOG: an MPI_Isend is logged when it is posted (its buffer
 * must not change until it completes, so it holds what is sent); an MPI_Irecv is noted like a
 * receive. The receives of a channel are matched in the order they are posted, blocking or not,
 * which is the order of their sequence numbers. REPLAY: the call is served at once (a send logged
 * and not sent, a receive filled from the survivors' entries) and *request is a generalized request
 * already complete, whose status is the one the call would have had: MPI_Wait, MPI_Waitall,
 * MPI_Test and MPI_Testall complete it like any other. MPI_Waitany / _some and MPI_Testany /
 * _some are not recorded (their order of completion is not replayed): they mark the interval
 * unsupported. */

static int greq_query(void *extra, MPI_Status *status)
{
    *status = *(const MPI_Status *)extra;
    return MPI_SUCCESS;
}

static int greq_free(void *extra)
{
    free(extra);
    return MPI_SUCCESS;
}

static int greq_cancel(void *extra, int complete)
{
    (void)extra;
    (void)complete;
    return MPI_SUCCESS;
}

/* *request: a completed generalized request that reports *st. */
static int completed_request(const MPI_Status *st, MPI_Request *request)
{
    MPI_Status *copy = malloc(sizeof(*copy));

    if (!copy)
        return replay_fails("no memory for a replayed request", NULL);
    *copy = *st;
    if (PMPI_Grequest_start(greq_query, greq_free, greq_cancel, copy, request) != MPI_SUCCESS) {
        free(copy);
        return replay_fails("a replayed request that MPI_Grequest_start refused", NULL);
    }
    return PMPI_Grequest_complete(*request);
}

/* The status of a completed send, or the start of a receive's (filled by replay_recv). */
static void empty_status(MPI_Status *st)
{
    memset(st, 0, sizeof(*st));
    st->MPI_SOURCE = MPI_ANY_SOURCE;
    st->MPI_TAG = MPI_ANY_TAG;
    st->MPI_ERROR = MPI_SUCCESS;
    PMPI_Status_set_elements(st, MPI_BYTE, 0);
    PMPI_Status_set_cancelled(st, 0);
}

int sal_interpose_isend(const void *buf, int count, MPI_Datatype type, int dest, int tag,
                        MPI_Comm comm, MPI_Request *request)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF;
    MPI_Status st;

    if (mode != SAL_LOGGING_OFF)
        log_send(buf, count, type, dest, tag, comm);
    if (mode != SAL_LOGGING_REPLAY)
        return PMPI_Isend(buf, count, type, dest, tag, comm, request);
    empty_status(&st); /* the survivors received it before the failure */
    return completed_request(&st, request);
}

int sal_interpose_irecv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                        MPI_Request *request)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF, rc;
    MPI_Status st;

    if (mode == SAL_LOGGING_LOG)
        recv_noted(source, tag, comm);
    if (mode != SAL_LOGGING_REPLAY)
        return PMPI_Irecv(buf, count, type, source, tag, comm, request);
    empty_status(&st);
    rc = replay_recv(buf, count, type, source, tag, comm, &st);
    return rc == MPI_SUCCESS ? completed_request(&st, request) : rc;
}

/* A collective result: logged after the call in LOG; in REPLAY taken from the survivors' entries
 * (a communicator of one rank has no survivor to ask: the call runs). 1 when served here. */
static int collective(void *result, int count, MPI_Datatype type, MPI_Comm comm, int mode, int *rc)
{
    uint32_t key;
    const known_t *k;
    int64_t seq;
    sal_msglog_hdr_t h, want;
    const void *payload;

    *rc = MPI_SUCCESS;
    if (!lookup(comm, &key, &k)) {
        if (mode == SAL_LOGGING_REPLAY) {
            *rc =
                replay_fails("a collective call on a communicator Salamander did not create", NULL);
            return 1;
        }
        mark_unsupported("a collective call on a communicator Salamander did not create", NULL);
        return 0;
    }
    seq = next_seq(SAL_MSGLOG_COLL, key, -1, -1, -1);
    want = (sal_msglog_hdr_t){cur_step, key, SAL_MSGLOG_COLL, -1, -1, -1, (uint32_t)seq, 0};
    if (mode == SAL_LOGGING_LOG || seq < 0) {
        if (seq < 0)
            mark_unsupported("more than 256 channels", NULL);
        return 0;
    }
    if (sal_msglog_find(&replay, &want, &h, &payload)) {
        *rc = unpack(&h, payload, result, count, type, comm, NULL, 0, 0);
        if (*rc == MPI_SUCCESS)
            log_data(&want, result, count, type, comm);
        return 1;
    }
    if (k && k->n == 1)
        return 0;
    *rc = replay_fails("no logged result of a collective call", NULL);
    return 1;
}

static void log_result(void *result, int count, MPI_Datatype type, MPI_Comm comm, int rc)
{
    uint32_t key;
    const known_t *k;

    /* the sequence number was taken by collective() */
    if (rc != MPI_SUCCESS || !lookup(comm, &key, &k))
        return;
    for (int i = 0; i < nchannels; i++) {
        channel_t *c = &channels[i];
        if (c->kind == SAL_MSGLOG_COLL && c->comm == key) {
            sal_msglog_hdr_t h = {cur_step, key, SAL_MSGLOG_COLL, -1, -1, -1, c->next - 1, 0};
            log_data(&h, result, count, type, comm);
            return;
        }
    }
}

int sal_interpose_allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype type,
                            MPI_Op op, MPI_Comm comm)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF, rc;

    if (mode == SAL_LOGGING_OFF)
        return PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
    if (collective(recvbuf, count, type, comm, mode, &rc))
        return rc;
    rc = PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
    log_result(recvbuf, count, type, comm, rc);
    return rc;
}

int sal_interpose_bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int mode = sal_logging_mode ? mode_now() : SAL_LOGGING_OFF, rc;

    if (mode == SAL_LOGGING_OFF)
        return PMPI_Bcast(buf, count, type, root, comm);
    if (collective(buf, count, type, comm, mode, &rc))
        return rc;
    rc = PMPI_Bcast(buf, count, type, root, comm);
    log_result(buf, count, type, comm, rc);
    return rc;
}

int sal_interpose_barrier(MPI_Comm comm)
{
    if (sal_logging_mode && mode_now() == SAL_LOGGING_REPLAY)
        return MPI_SUCCESS; /* no data: the survivors passed it */
    return PMPI_Barrier(comm);
}

/* Local calls, the calls the logged rows implement, and the completion of their requests (a
 * replayed request is already complete): nothing to note. */
static int neutral(int fn)
{
    switch (fn) {
    case SAL_FN_MPI_Send:
    case SAL_FN_MPI_Recv:
    case SAL_FN_MPI_Sendrecv:
    case SAL_FN_MPI_Allreduce:
    case SAL_FN_MPI_Bcast:
    case SAL_FN_MPI_Barrier:
    case SAL_FN_MPI_Isend:
    case SAL_FN_MPI_Irecv:
    case SAL_FN_MPI_Wait:
    case SAL_FN_MPI_Waitall:
    case SAL_FN_MPI_Test:
    case SAL_FN_MPI_Testall:
    case SAL_FN_MPI_Comm_rank:
    case SAL_FN_MPI_Comm_size:
    case SAL_FN_MPI_Comm_group:
    case SAL_FN_MPI_Comm_compare:
    case SAL_FN_MPI_Comm_test_inter:
    case SAL_FN_MPI_Topo_test:
    case SAL_FN_MPI_Comm_get_info:
    case SAL_FN_MPI_Pack:
    case SAL_FN_MPI_Unpack:
    case SAL_FN_MPI_Pack_size:
    case SAL_FN_MPI_Abort:
    case SAL_FN_MPI_Comm_get_errhandler:
    case SAL_FN_MPI_Comm_get_name:
    case SAL_FN_MPI_Comm_get_attr:
    case SAL_FN_MPI_Attr_get:
    case SAL_FN_MPIX_Comm_is_revoked:
        return 1;
    default:
        return 0;
    }
}

int sal_logging_note(int fn)
{
    int mode = mode_now();

    if (mode == SAL_LOGGING_OFF || neutral(fn))
        return 0;
    if (mode == SAL_LOGGING_LOG) {
        mark_unsupported("a call the message log does not record:",
                         sal_interpose_name((sal_mpi_fn_t)fn));
        return 0;
    }
    replay_fails("a call the message log cannot replay:", sal_interpose_name((sal_mpi_fn_t)fn));
    return 1;
}
