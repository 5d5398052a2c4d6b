/*
 * JSON Lines event log, one file per job: <log_dir>/<job>.events.jsonl, appended by every rank with
 * one write(2) per line (O_APPEND), so lines from different processes never interleave. Each line:
 * {"ts":<unix seconds>,"event":"<type>","job":"..","rank":r,"host":"..","pid":p,<fields>}
 */
#ifndef SAL_EVENTS_H
#define SAL_EVENTS_H

#include "private_api.h"

/* Longest event line, newline included. */
#define SAL_EVENT_LINE_MAX 8192

/* Opens (creates 0600) the log, creating log_dir (0700) when missing. A second open replaces the
 * first. Returns SAL_OK, SAL_ERR_IO, or SAL_ERR_INVALID_ARG for an empty log_dir or a job name that
 * is empty or contains '/'. */
SAL_PRIVATE int sal_events_open(const char *log_dir, const char *job);
/* Identity stamped on each line (rank may change after a repair under the shrink policy). */
SAL_PRIVATE void sal_events_set_identity(int rank, const char *host);
/* Appends one event. fields_fmt produces the JSON members after the standard ones, without braces
 * or a leading comma (e.g. "\"id\":%lld,\"bytes\":%lld"), or is NULL. A no-op when the log is not
 * open. A line has at most SAL_EVENT_LINE_MAX bytes: longer fields are cut after the last whole
 * member and "truncated":true is appended, so every line stays valid JSON. */
SAL_PRIVATE void sal_event(const char *type, const char *fields_fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Escapes s into a JSON string body (no quotes) in buf; truncates safely. Returns buf. */
SAL_PRIVATE char *sal_json_escape(char *buf, unsigned long size, const char *s);
SAL_PRIVATE void sal_events_close(void);

#endif
