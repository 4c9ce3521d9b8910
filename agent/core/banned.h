/*
 * Banned functions: unbounded or thread-unsafe calls that have bitten every C
 * project that used them. CMake force-includes this header into every
 * project translation unit, so a use anywhere is a compile error. The
 * standard headers are included first so that their own declarations are
 * seen before the macros exist.
 */
#ifndef SL_BANNED_H
#define SL_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SL_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) SL_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SL_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SL_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) SL_BANNED(strncat)
#undef sprintf
#define sprintf(...) SL_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SL_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) SL_BANNED(strtok)
#undef atoi
#define atoi(x) SL_BANNED(atoi)
#undef atol
#define atol(x) SL_BANNED(atol)
#undef atoll
#define atoll(x) SL_BANNED(atoll)
#undef gets
#define gets(x) SL_BANNED(gets)
#undef gmtime
#define gmtime(x) SL_BANNED(gmtime)
#undef localtime
#define localtime(x) SL_BANNED(localtime)
#undef system
#define system(x) SL_BANNED(system)
#undef popen
#define popen(x, y) SL_BANNED(popen)

#endif
