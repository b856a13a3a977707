/*
 * qemu-io: runs guest I/O commands on one image, command-line
 * compatible with QEMU 7.2's qemu-io.  This file parses the program's
 * options and feeds command lines (-c, or stdin) to qemu-io-cmds.c.
 */
#include <getopt.h>
#include <unistd.h>
#include "qemu-io-cmds.h"
#include "qemu/cutils.h"

#define QEMU_IO_PROMPT "qemu-io> "

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
};

static void usage(void)
{
    printf(
"Usage: qemu-io [OPTIONS]... [-c STRING]... [file]\n"
"QEMU Disk exerciser\n"
"\n"
"  --object OBJECTDEF   define an object such as 'secret' for\n"
"                       passwords and/or encryption keys\n"
"  --image-opts         treat file as option string\n"
"  -c, --cmd STRING     execute command with its arguments\n"
"                       from the given string\n"
"  -f, --format FMT     specifies the block driver to use\n"
"  -r, --read-only      export read-only\n"
"  -s, --snapshot       use snapshot file\n"
"  -n, --nocache        disable host cache, short for -t none\n"
"  -C, --copy-on-read   enable copy-on-read\n"
"  -m, --misalign       misalign allocations for O_DIRECT\n"
"  -k, --native-aio     use kernel AIO implementation\n"
"                       (Linux only, prefer use of -i)\n"
"  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
"  -t, --cache=MODE     use the given cache mode for the image\n"
"  -d, --discard=MODE   use the given discard mode for the image\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                       specify tracing options\n"
"                       see qemu-img(1) man page for full description\n"
"  -U, --force-share    force shared permissions\n"
"  -h, --help           display this help and exit\n"
"  -V, --version        output version information and exit\n"
"\n"
"See 'qemu-io -c help' for information on available commands.\n"
"\n"
"See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
"More information on the QEMU project at <https://qemu.org>.\n");
}

/*
 * Commands from stdin, one per line.  The prompt is printed (and
 * stdout flushed) before each line whether or not stdin is a
 * terminal, as 7.2 does.
 */
static bool command_loop_stdin(void)
{
    g_autoptr(GString) line = g_string_new(NULL);
    bool ok = true;
    int c;

    while (!qemuio_quit_requested()) {
        fputs(QEMU_IO_PROMPT, stdout);
        fflush(stdout);
        g_string_truncate(line, 0);
        while ((c = getchar()) != EOF && c != '\n') {
            g_string_append_c(line, (char)c);
        }
        if (c == EOF && !line->len) {
            break;
        }
        if (!qemuio_command(line->str)) {
            ok = false;
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "cmd", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "read-only", no_argument, NULL, 'r' },
        { "snapshot", no_argument, NULL, 's' },
        { "nocache", no_argument, NULL, 'n' },
        { "copy-on-read", no_argument, NULL, 'C' },
        { "misalign", no_argument, NULL, 'm' },
        { "native-aio", no_argument, NULL, 'k' },
        { "aio", required_argument, NULL, 'i' },
        { "discard", required_argument, NULL, 'd' },
        { "cache", required_argument, NULL, 't' },
        { "trace", required_argument, NULL, 'T' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    g_autoptr(GPtrArray) cmds = g_ptr_array_new();
    QemuIOOpenOpts o = { .flags = BDRV_O_RDWR };
    bool image_opts = false, ok = true;
    Error *local_err = NULL;
    int c;

    error_set_progname("qemu-io");
    while ((c = getopt_long(argc, argv, "c:d:f:hi:kmnrsT:t:UVC",
                            long_options, NULL)) != -1) {
        /* The options `open` also takes, handled alike. */
        int ret = qemuio_open_option(c, optarg, &o);

        if (ret < 0) {
            return EXIT_FAILURE;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 'c':
            g_ptr_array_add(cmds, optarg);
            break;
        case 'f':
            o.fmt = optarg;
            break;
        case 'm': case 'T':
            /* Alignment and tracing: no visible effect. */
            break;
        case OPTION_OBJECT:
            if (!object_option_check(optarg, &local_err)) {
                error_report_err(local_err);
                return EXIT_FAILURE;
            }
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        case 'V':
            printf("qemu-io version " QEMU_IO_COMPAT_VERSION
                   " (" PACKAGE_STRING ")\n" QEMU_IO_COPYRIGHT_LINE "\n");
            return EXIT_SUCCESS;
        case 'h':
            usage();
            return EXIT_SUCCESS;
        default:
            usage();
            return EXIT_FAILURE;
        }
    }
    if (optind + 1 < argc) {
        usage();
        return EXIT_FAILURE;
    }
    if (optind + 1 == argc) {
        if (image_opts) {
            if (o.fmt) {
                error_report("--image-opts and -f are mutually exclusive");
                return EXIT_FAILURE;
            }
            o.options = qdict_new();
            qemuio_parse_keyval(o.options, argv[optind]);
            if (qemuio_open(NULL, &o) < 0) {
                return EXIT_FAILURE;
            }
        } else if (qemuio_open(argv[optind], &o) < 0) {
            return EXIT_FAILURE;
        }
    }

    if (cmds->len) {
        for (guint i = 0; i < cmds->len && !qemuio_quit_requested(); i++) {
            if (!qemuio_command(g_ptr_array_index(cmds, i))) {
                ok = false;
            }
        }
    } else {
        ok = command_loop_stdin();
    }
    qemuio_close();
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
