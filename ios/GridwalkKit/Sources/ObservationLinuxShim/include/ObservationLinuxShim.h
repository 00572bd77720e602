// Nothing to import: the target only defines a symbol for the linker (see shim.c).
#ifndef GRIDWALK_OBSERVATION_LINUX_SHIM_H
#define GRIDWALK_OBSERVATION_LINUX_SHIM_H
#endif
