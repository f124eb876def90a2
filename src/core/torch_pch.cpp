// Compiles the shared LibTorch precompiled header (src/core/torch_pch.h) once.
