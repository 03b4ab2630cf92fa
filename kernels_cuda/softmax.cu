// Softmax along each row of a row-major float32 (rows x cols) matrix.
#define NEG_BIG (-3.402823466e+38f)

extern "C" __global__ void softmax_naive(const float* __restrict__ x, float* __restrict__ out,
                                         const int rows, const int cols) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;  // one thread per row
    if (r >= rows) return;
    const float* xr = x + (long long)r * cols;
    float* orow = out + (long long)r * cols;
    float m = NEG_BIG;
    for (int j = 0; j < cols; ++j) m = fmaxf(m, xr[j]);
    float s = 0.0f;
    for (int j = 0; j < cols; ++j) {
        const float e = expf(xr[j] - m);
        orow[j] = e;
        s += e;
    }
    const float inv = 1.0f / s;
    for (int j = 0; j < cols; ++j) orow[j] *= inv;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float warp_add(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// All threads of the block get the result. blockDim.x must be a multiple of 32.
__device__ float block_reduce(float v, float* scratch, const bool is_max) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = is_max ? warp_max(v) : warp_add(v);
    __syncthreads();  // scratch may still be read from the previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : (is_max ? NEG_BIG : 0.0f);
    return is_max ? warp_max(v) : warp_add(v);
}

// One block per row: coalesced loads, reductions in shuffles. Launch with blockDim 256.
extern "C" __global__ void softmax_tuned(const float* __restrict__ x, float* __restrict__ out,
                                         const int rows, const int cols) {
    __shared__ float scratch[32];
    const int r = blockIdx.x;
    if (r >= rows) return;  // uniform across the block
    const float* xr = x + (long long)r * cols;
    float* orow = out + (long long)r * cols;
    float m = NEG_BIG;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = block_reduce(m, scratch, true);
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(xr[j] - m);
    s = block_reduce(s, scratch, false);
    const float inv = 1.0f / s;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = expf(xr[j] - m) * inv;
}
