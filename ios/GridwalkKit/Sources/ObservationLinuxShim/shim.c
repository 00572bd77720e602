// Linux only (the target is a dependency only `.when(platforms: [.linux])`).
//
// Debian trixie's Swift 6.0.3 ships a libswiftObservation.so that references
// `swift::threading::fatal(const char *, ...)` without defining it, and no runtime library it
// links defines it either, so any program using `@Observable` fails to link. This defines
// exactly that symbol, with the runtime's behaviour: print the message and abort. Every other
// undefined reference still fails the link, which a blanket `--allow-shlib-undefined` would hide.
#ifdef __linux__
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ObservationLinuxShim.h"

__attribute__((noreturn, used, visibility("default")))
void gridwalk_swift_threading_fatal(const char *format, ...) __asm__("_ZN5swift9threading5fatalEPKcz");

void gridwalk_swift_threading_fatal(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    abort();
}
#endif
