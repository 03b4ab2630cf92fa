// Histogram of int32 values in [0, BINS) into int32 counts (zeroed by the caller).
#define BINS 256

extern "C" __global__ void histogram_naive(const int* __restrict__ x, int* hist,
                                           const long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const unsigned int v = (unsigned int)x[i];
        if (v < BINS) atomicAdd(&hist[v], 1);  // global atomics on few addresses: contention
    }
}

// Per-block histogram in shared memory (fast atomics), merged once per block.
extern "C" __global__ void histogram_tuned(const int* __restrict__ x, int* hist,
                                           const long long n) {
    __shared__ int local[BINS];
    for (int b = threadIdx.x; b < BINS; b += blockDim.x) local[b] = 0;
    __syncthreads();
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned int v = (unsigned int)x[i];
        if (v < BINS) atomicAdd(&local[v], 1);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < BINS; b += blockDim.x)
        if (local[b]) atomicAdd(&hist[b], local[b]);
}
