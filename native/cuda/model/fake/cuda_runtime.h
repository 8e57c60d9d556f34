// A host-memory stand-in for the part of the CUDA runtime API that transformer_cuda.cpp calls,
// so that its host code (weights, layouts, caches, attention dispatch, generation loop, memory
// report) runs on a machine without a GPU against host implementations of the kernel launchers
// (fake_cuda.cpp). Used only by model_fake_check (CMakeLists.txt beside this file); never part of
// the addon (model_kernels_check also builds against it, to check its host references on the
// CPU). "Device" memory is host memory the fake tracks, filled with NaN bytes when
// allocated, and every launcher checks the extents it touches against those allocations.
#pragma once
#include <cstddef>

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3
};
constexpr unsigned cudaStreamNonBlocking = 1;

struct FakeCudaStream;
struct FakeCudaEvent;
using cudaStream_t = FakeCudaStream*;
using cudaEvent_t = FakeCudaEvent*;

cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetLastError();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamDestroy(cudaStream_t s);

cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
// Checks that the "device" side lies inside a tracked allocation.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);

// Synchronous versions, for model_kernels_check run on the fake (its references checked on the CPU).
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDeviceCount(int* n);
struct cudaDeviceProp {
  char name[256];
  int major, minor;
};
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device);

cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);
