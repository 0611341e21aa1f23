/*
** tests/loader_fixtures/fixture.h - what the fixture libraries share with
** test_loader, the program that loads them.
*/
#ifndef WS_LOADER_FIXTURE_H
#define WS_LOADER_FIXTURE_H

/* Defined by test_loader, which exports its symbols like any plugin host:
** the fixtures' init functions report that they ran. */
void test_loader_note(const char *what);

#endif
