/* Negative control for the valgrind test: this program leaks on purpose, so the ctest
   "valgrind_detects_leaks" (same flags as "valgrind_leaks", WILL_FAIL) proves that the flags
   really turn a leak into a failure. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char* volatile p = (char*)malloc(1234);
    if (p) p[0] = 1;
    p = NULL;
    puts("leaked 1234 bytes on purpose");
    return 0;
}
