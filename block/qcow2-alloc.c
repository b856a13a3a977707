/*
 * qcow2 runtime refcounts.  (Being written.)
 */
#include "block/qcow2.h"
