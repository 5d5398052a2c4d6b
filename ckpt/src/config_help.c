/*
 * The generated key reference: `salrun --help-config` (text) and the table of docs/config.md
 * (Markdown), both written from the registry so that neither can drift from it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "config_internal.h"
#include "log.h"

enum { HELP_WIDTH = 78 }; /* text help is wrapped to this many columns */

/* Writes text to out wrapped at HELP_WIDTH columns, each line indented by indent spaces. */
static void put_wrapped(FILE *out, const char *text, int indent)
{
    int col = 0;

    while (*text) {
        size_t w = strcspn(text, " ");

        if (col > 0 && col + 1 + (int)w > HELP_WIDTH) {
            fputc('\n', out);
            col = 0;
        }
        col += col == 0 ? fprintf(out, "%*s", indent, "") : fprintf(out, " ");
        col += fprintf(out, "%.*s", (int)w, text);
        text += w;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

/* Writes s with the characters that Markdown tables and inline HTML would swallow escaped. */
static void put_md(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else
            fputc(*s, out);
    }
}

/* The accepted values of k; markdown puts literal values in code spans. */
static void put_range(FILE *out, const sal_key_info_t *k, int markdown)
{
    const char *q = markdown ? "`" : "";
    const char *c = k->choices;

    switch (k->kind) {
    case SAL_KIND_INT:
        fprintf(out, "%lld to %lld", (long long)k->imin, (long long)k->imax);
        break;
    case SAL_KIND_DOUBLE:
        fprintf(out, "%g to %g", k->dmin, k->dmax);
        break;
    case SAL_KIND_BOOL:
        fprintf(out, "%strue%s, %sfalse%s", q, q, q, q);
        break;
    case SAL_KIND_INTERVAL:
        fprintf(out, "%sN%s, %sNs%s, %s0%s, %sauto%s", q, q, q, q, q, q, q, q);
        break;
    case SAL_KIND_ENUM:
        while (c && *c) {
            size_t n = strcspn(c, "|");

            fprintf(out, "%s%s%.*s%s", c == k->choices ? "" : ", ", q, (int)n, c, q);
            c += n + (c[n] == '|');
        }
        break;
    case SAL_KIND_DIR:
        fputs("path", out);
        break;
    default:
        fputs("text", out);
    }
}

/* Three lines and more: "key = default", type and variable, the help text wrapped. */
static void help_text(FILE *out, const sal_key_info_t *k)
{
    char env[SAL_ENV_NAME_MAX];

    char *line = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&line, &len);

    sal_config_env_name(k, env, sizeof(env));
    fprintf(out, "%s = %s\n", k->name, k->def[0] ? k->def : "(empty)");
    if (!mem) {
        fprintf(out, "    %s; environment %s\n", sal_config_kind_name(k->kind), env);
    } else {
        /* Type, accepted values and variable, wrapped like the help text (long choice lists). */
        fputs(sal_config_kind_name(k->kind), mem);
        if (k->kind != SAL_KIND_STR && k->kind != SAL_KIND_DIR) {
            fputs(": ", mem);
            put_range(mem, k, 0);
        }
        fprintf(mem, "; environment %s", env);
        if (fclose(mem) == 0 && line)
            put_wrapped(out, line, 4);
        else
            fprintf(out, "    %s; environment %s\n", sal_config_kind_name(k->kind), env);
        free(line);
    }
    put_wrapped(out, k->help, 4);
}

static void help_markdown(FILE *out, const sal_key_info_t *k)
{
    char env[SAL_ENV_NAME_MAX];

    sal_config_env_name(k, env, sizeof(env));
    fprintf(out, "| `%s` | %s | ", k->name, sal_config_kind_name(k->kind));
    if (k->def[0]) {
        fputc('`', out);
        put_md(out, k->def);
        fputc('`', out);
    } else {
        fputs("(empty)", out);
    }
    fputs(" | ", out);
    put_range(out, k, 1);
    fprintf(out, " | `%s` | ", env);
    put_md(out, k->help);
    fputs(" |\n", out);
}

int sal_config_print_help(FILE *out, int format)
{
    if (!out || (format != 0 && format != 1))
        return sal_error(SAL_ERR_INVALID_ARG, "NULL stream or format %d (0 = text, 1 = Markdown)",
                         format);
    if (format == 0)
        put_wrapped(out,
                    "Configuration keys, with their defaults. Precedence: defaults < INI file "
                    "(--config or SAL_CONFIG) < SAL_<KEY> environment variables < salrun flags < "
                    "API calls.",
                    0);
    else
        fputs("| Key | Type | Default | Range / choices | Environment | Description |\n"
              "|-----|------|---------|-----------------|-------------|-------------|\n",
              out);
    for (unsigned long i = 0; i < sal_config_nkeys; i++) {
        if (format == 0) {
            fputc('\n', out);
            help_text(out, &sal_config_keys[i]);
        } else {
            help_markdown(out, &sal_config_keys[i]);
        }
    }
    if (fflush(out) != 0 || ferror(out))
        return sal_error(SAL_ERR_IO, "writing the configuration reference: %s", strerror(errno));
    return SAL_OK;
}
