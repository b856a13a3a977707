/*
 * qemu-io: a command interpreter for guest I/O on an image.  (Being
 * written.)
 */
#include "block/block.h"

int main(int argc, char **argv)
{
    fprintf(stderr, "qemu-io: not implemented yet\n");
    return 1;
}
