#!/bin/sh
# wsrun under valgrind memcheck, for the end-to-end cases (WSRUN=this script):
# any memory error or leak (definite or indirect) makes it exit 99, which no
# case expects. REAL_WSRUN is the wsrun binary.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect "${REAL_WSRUN:?set REAL_WSRUN}" "$@"
