#ifndef TOCSIN_DAEMON_H
#define TOCSIN_DAEMON_H

#include "util/config.h"

/* Runs the daemon until SIGTERM/SIGINT; returns the process exit code (0 after a clean stop). */
int daemon_run(const struct config *cfg);

#endif
