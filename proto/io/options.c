/*  options - command-line flags, config files and logging set-up
    Precedence is embedded default < config file < flag, so a deployment
    keeps its settings in a file and a test or an operator overrides one
    value on the command line. A config file may only name options the
    program knows: a typo is an error, not a silently ignored line.  */

#include <czmq.h>
#include <getopt.h>

#include "proto/io/options.h"

#define OPTIONS_MAX     64

//  --------------------------------------------------------------------------
//  Print the synopsis and every option.

static void
s_usage (FILE *out, const char *synopsis, const option_spec_t *specs)
{
    fprintf (out, "%s\n\nOptions:\n", synopsis);
    for (const option_spec_t *spec = specs; spec->name; spec++) {
        char left [64];
        snprintf (left, sizeof left, "--%s%s%s", spec->name,
                  spec->arg? " ": "", spec->arg? spec->arg: "");
        fprintf (out, "  %-26s %s", left, spec->help);
        if (spec->fallback && spec->arg)
            fprintf (out, " (default %s)", spec->fallback);
        fprintf (out, "\n");
    }
    fprintf (out, "  %-26s %s\n", "--config FILE",
             "read options from FILE (name=value lines, long option names)");
    fprintf (out, "  %-26s %s\n", "--help", "show this help and exit");
}

static const option_spec_t *
s_find (const option_spec_t *specs, const char *name)
{
    for (const option_spec_t *spec = specs; spec->name; spec++)
        if (streq (spec->name, name))
            return spec;
    return NULL;
}

//  --------------------------------------------------------------------------
//  The value of --config, if any, without disturbing getopt.

static const char *
s_config_path (int argc, char *argv [])
{
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--"))
            break;
        if (streq (argv [i], "--config") && i + 1 < argc)
            return argv [i + 1];
        if (strncmp (argv [i], "--config=", 9) == 0)
            return argv [i] + 9;
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Parse argv.

keyfile_t *
options_parse (const char *synopsis, const option_spec_t *specs, int argc,
               char *argv [], int *argi_p, int *exit_p)
{
    assert (synopsis && specs && argi_p && exit_p);
    const char *program = argc > 0? argv [0]: "weft";
    const char *slash = strrchr (program, '/');
    if (slash)
        program = slash + 1;

    keyfile_t *values = keyfile_new ();
    for (const option_spec_t *spec = specs; spec->name; spec++)
        if (spec->fallback)
            keyfile_set (values, spec->name, spec->fallback);

    const char *config = s_config_path (argc, argv);
    if (config) {
        const char *error = NULL;
        keyfile_t *file = keyfile_load (config, false, &error);
        if (!file) {
            fprintf (stderr, "%s: config %s: %s\n", program, config, error);
            keyfile_destroy (&values);
            *exit_p = 2;
            return NULL;
        }
        for (const option_spec_t *spec = specs; spec->name; spec++) {
            const char *value = keyfile_get (file, spec->name);
            if (value)
                keyfile_set (values, spec->name, value);
        }
        keyfile_destroy (&file);
    }

    struct option longopts [OPTIONS_MAX + 3];
    size_t count = 0;
    bool has_verbose = false;
    for (const option_spec_t *spec = specs; spec->name; spec++) {
        assert (count < OPTIONS_MAX);
        longopts [count++] = (struct option) {
            spec->name, spec->arg? required_argument: no_argument, NULL, 0 };
        if (streq (spec->name, "verbose"))
            has_verbose = true;
    }
    longopts [count++] = (struct option) { "config", required_argument, NULL, 0 };
    longopts [count++] = (struct option) { "help", no_argument, NULL, 0 };
    longopts [count] = (struct option) { NULL, 0, NULL, 0 };

    optind = 0;                     //  GNU: full re-initialisation
    opterr = 0;
    int index;
    int c;
    while ((c = getopt_long (argc, argv, has_verbose? "hv": "h", longopts, &index)) != -1) {
        if (c == 'h' || (c == 0 && streq (longopts [index].name, "help"))) {
            s_usage (stdout, synopsis, specs);
            keyfile_destroy (&values);
            *exit_p = 0;
            return NULL;
        }
        if (c == 'v') {
            keyfile_set (values, "verbose", "1");
            continue;
        }
        if (c == 0) {
            const char *name = longopts [index].name;
            if (streq (name, "config"))
                continue;           //  Read above
            const option_spec_t *spec = s_find (specs, name);
            assert (spec);
            keyfile_set (values, name, spec->arg? optarg: "1");
            continue;
        }
        if (optopt)
            fprintf (stderr, "%s: option -%c is unknown or needs a value\n",
                     program, optopt);
        else
            fprintf (stderr, "%s: option %s is unknown or needs a value\n",
                     program, argv [optind - 1]);
        fprintf (stderr, "Try '%s --help'.\n", program);
        keyfile_destroy (&values);
        *exit_p = 2;
        return NULL;
    }
    *argi_p = optind;
    *exit_p = 0;
    return values;
}

//  --------------------------------------------------------------------------
//  Integer value of an option.

int64_t
options_int (keyfile_t *values, const char *name, int64_t fallback)
{
    const char *text = keyfile_get (values, name);
    if (!text || !*text)
        return fallback;
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || *end)
        return fallback;
    return value;
}

int64_t
options_duration_s (const char *text, int64_t max_s)
{
    if (!text)
        return -1;
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || end == text || value <= 0)
        return -1;
    int64_t unit = *end == 'm'? 60: *end == 'h'? 3600: *end == 'd'? 86400: 1;
    if (*end == 's' || unit > 1)
        end++;
    if (*end || value > max_s / unit)
        return -1;
    return (int64_t) value * unit;
}

void
options_fail (const char *program, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", program);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

bool
options_flag (keyfile_t *values, const char *name)
{
    const char *text = keyfile_get (values, name);
    return text && (streq (text, "1") || streq (text, "true") || streq (text, "yes"));
}

//  --------------------------------------------------------------------------
//  Logs go to stderr by default so stdout stays for program output.

void
options_log_setup (const char *ident, bool to_syslog)
{
    zsys_set_logident (ident);
    if (to_syslog) {
        zsys_set_logsystem (true);
        zsys_set_logstream (NULL);
    }
    else
        zsys_set_logstream (stderr);
}

//  --------------------------------------------------------------------------
//  Selftest

void
options_test (bool verbose)
{
    (void) verbose;
    printf (" * options: ");
    //  @selftest
    //  Durations
    assert (options_duration_s ("90", 3600) == 90);
    assert (options_duration_s ("90s", 3600) == 90);
    assert (options_duration_s ("30m", 3600) == 1800);
    assert (options_duration_s ("2h", 86400) == 7200);
    assert (options_duration_s ("30d", 30 * 86400) == 30 * 86400);
    assert (options_duration_s ("31d", 30 * 86400) == -1);
    assert (options_duration_s ("40000d", 30 * 86400) == -1);
    assert (options_duration_s ("0", 60) == -1);
    assert (options_duration_s ("-5m", 3600) == -1);
    assert (options_duration_s ("5x", 3600) == -1);
    assert (options_duration_s ("5ms", 3600) == -1);
    assert (options_duration_s ("", 3600) == -1);
    assert (options_duration_s (NULL, 3600) == -1);
    option_spec_t specs [] = {
        { "data-dir", "DIR", ".weft/node", "state directory" },
        { "port", "N", "7710", "port" },
        { "verbose", NULL, NULL, "log every message" },
        { NULL, NULL, NULL, NULL }
    };
    char dir [] = "/tmp/weft-options-test.XXXXXX";
    assert (mkdtemp (dir));
    char *config = zsys_sprintf ("%s/weft.conf", dir);
    FILE *file = fopen (config, "w");
    fprintf (file, "# site settings\ndata-dir=/var/lib/weft\nport=9000\n");
    fclose (file);

    //  Default < file < flag; positionals follow
    char *argv1 [] = { "weft", "device", "--config", config, "--port=9100",
                       "-v", "list", NULL };
    int argi, exit_code;
    keyfile_t *values = options_parse ("usage: weft", specs, 7, argv1, &argi, &exit_code);
    assert (values);
    assert (streq (keyfile_get (values, "data-dir"), "/var/lib/weft"));
    assert (options_int (values, "port", 0) == 9100);
    assert (options_flag (values, "verbose"));
    assert (argi == 5);
    assert (streq (argv1 [argi], "device") && streq (argv1 [argi + 1], "list"));
    keyfile_destroy (&values);

    //  Embedded defaults alone
    char *argv2 [] = { "weft", NULL };
    values = options_parse ("usage: weft", specs, 1, argv2, &argi, &exit_code);
    assert (values);
    assert (streq (keyfile_get (values, "data-dir"), ".weft/node"));
    assert (!options_flag (values, "verbose"));
    assert (options_int (values, "data-dir", -1) == -1);
    keyfile_destroy (&values);

    //  Unknown flag and missing config are usage errors
    char *argv3 [] = { "weft", "--bogus", NULL };
    FILE *saved = stderr;
    stderr = fopen ("/dev/null", "w");
    values = options_parse ("usage: weft", specs, 2, argv3, &argi, &exit_code);
    assert (values == NULL && exit_code == 2);
    char *argv4 [] = { "weft", "--config", "/nonexistent/weft.conf", NULL };
    values = options_parse ("usage: weft", specs, 3, argv4, &argi, &exit_code);
    assert (values == NULL && exit_code == 2);
    fclose (stderr);
    stderr = saved;

    unlink (config);
    zstr_free (&config);
    rmdir (dir);
    //  @end
    printf ("OK\n");
}
