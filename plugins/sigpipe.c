/*
** plugins/sigpipe.c - SIGPIPE set to ignored (sigpipe.h).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "sigpipe.h"

int wsp_ignore_sigpipe(char *err, size_t errlen) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) != 0) {
    snprintf(err, errlen, "cannot read the SIGPIPE disposition: %s", strerror(errno));
    return -1;
  }
  if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL) return 0; /* the host's choice */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGPIPE, &sa, NULL) != 0) {
    snprintf(err, errlen, "cannot ignore SIGPIPE: %s", strerror(errno));
    return -1;
  }
  return 0;
}
