// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - instantiates the xksm:* tracepoints declared in trace.h.
 *
 * The one file that defines CREATE_TRACE_POINTS: the others only include
 * trace.h to fire the events.  See docs/tracepoints.md.
 */

#define CREATE_TRACE_POINTS
#include "trace.h"
