/*
 * A program for salrun's relaunch tests (no MPI: mpiexec runs any executable). The first run fails,
 * the next ones succeed; MARKER (a file created with O_EXCL) records that the failure happened.
 *
 *   salrun_flaky exit MARKER     the rank that creates MARKER exits with status 1; the others and
 *                                every later run exit 0.
 *   salrun_flaky fakejob MARKER  acts like a Salamander job with one rank: appends "start" and
 *                                "ckpt_commit" events to $SAL_LOG_DIR/$SAL_JOB.events.jsonl, then
 * the first run kills itself with SIGKILL (under ULFM, mpiexec then still exits with status 0) and
 * later runs append "finish" and exit 0. salrun_flaky replay EVENTLOG appends the lines of EVENTLOG
 * to $SAL_LOG_DIR/$SAL_JOB.events.jsonl and exits 0: salrun shows a recorded job's progress lines.
 *   salrun_flaky sleep SECONDS [TAG]  sleeps, for the signal test (TAG marks the process).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* 1 when this call created marker (the failing run), 0 when it existed, -1 on error. */
static int first_run(const char *marker)
{
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0600);

    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return access(marker, F_OK) == 0 ? 0 : -1;
}

static void event(FILE *log, const char *type, const char *fields)
{
    struct timeval tv;
    const char *job = getenv("SAL_JOB");

    gettimeofday(&tv, NULL);
    fprintf(log,
            "{\"ts\":%ld.%06ld,\"event\":\"%s\",\"job\":\"%s\",\"rank\":0,\"host\":\"test\","
            "\"pid\":%ld%s%s}\n",
            (long)tv.tv_sec, (long)tv.tv_usec, type, job ? job : "?", (long)getpid(),
            fields ? "," : "", fields ? fields : "");
    fflush(log);
}

static int fakejob(const char *marker, int fail_after_finish)
{
    const char *dir = getenv("SAL_LOG_DIR"), *job = getenv("SAL_JOB");
    char path[4096];
    FILE *log;
    int first = first_run(marker);

    if (!dir || !job || first < 0) {
        fprintf(stderr, "salrun_flaky: needs SAL_LOG_DIR, SAL_JOB and a writable marker\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/%s.events.jsonl", dir, job);
    log = fopen(path, "a");
    if (!log) {
        perror(path);
        return 2;
    }
    event(log, "start",
          first ? "\"nranks\":1,\"restart\":false,\"replacement\":false"
                : "\"nranks\":1,\"restart\":true,\"replacement\":false");
    event(log, "ckpt_commit",
          "\"id\":1,\"step\":10,\"bytes\":1000000,\"seconds\":0.01,\"level\":\"L1\"");
    if (first && !fail_after_finish)
        raise(SIGKILL);
    event(log, "finish", "\"steps\":20,\"repairs\":0,\"status\":\"ok\"");
    fclose(log);
    return fail_after_finish ? 3 : 0;
}

static int replay(const char *from)
{
    const char *dir = getenv("SAL_LOG_DIR"), *job = getenv("SAL_JOB");
    char path[4096], line[8192];
    FILE *in, *out;

    if (!dir || !job) {
        fprintf(stderr, "salrun_flaky: needs SAL_LOG_DIR and SAL_JOB\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/%s.events.jsonl", dir, job);
    in = fopen(from, "r");
    out = fopen(path, "a");
    if (!in || !out) {
        perror(in ? path : from);
        return 2;
    }
    while (fgets(line, sizeof(line), in)) {
        fputs(line, out);
        fflush(out);
    }
    fclose(in);
    fclose(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "exit") == 0) {
        int first = first_run(argv[2]);

        return first < 0 ? 2 : first;
    }
    if (argc == 3 && strcmp(argv[1], "fakejob") == 0)
        return fakejob(argv[2], 0);
    if (argc == 3 && strcmp(argv[1], "finishfail") == 0)
        return fakejob(argv[2], 1);
    if (argc == 3 && strcmp(argv[1], "replay") == 0)
        return replay(argv[2]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "sleep") == 0) {
        struct timespec ts = {atoi(argv[2]), 0};

        nanosleep(&ts, NULL);
        return 0;
    }
    fprintf(stderr, "usage: salrun_flaky exit|fakejob|finishfail MARKER | replay EVENTLOG | sleep "
                    "SECONDS [TAG]\n");
    return 2;
}
