// The one precompiled header for every library that uses LibTorch (compiling <torch/torch.h> takes
// ~15 s a file on this machine; with the PCH it is paid once per build).
#pragma once
#include <torch/torch.h>
