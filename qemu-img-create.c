/*
 * qemu-img create.  (Being written.)
 */
#include "qemu-img.h"

int img_create(int argc, char **argv)
{
    error_report("Command '%s' is not implemented in this version", argv[0]);
    return EXIT_FAILURE;
}
