// raw_torch: the bare libtorch loop nightshift's torchscript backend is
// measured against. It runs a TorchScript model over ROWS rows in batches of
// BATCH, the way an inference script that already holds its data in memory
// would: per batch, copy a pinned host batch to the device, run forward()
// under InferenceMode (and autocast for fp16/bf16), copy the output back to
// pinned host memory and wait for it. No file I/O, no row packing.
//
// Usage: raw_torch MODEL --rows N --batch B --in K [--device cuda:0|cpu]
//                  [--precision fp32|fp16|bf16] [--warmup W] [--max-seconds S]
//                  [--dtype float32|int64 --vocab V]
// The input is [B, K]: uniform floats, or (int64) token ids below V.
// Stops early (after a whole batch) once S seconds have passed.
// Prints one JSON object: {"rows": N, "seconds": S, "rows_per_s": R}.
#include <ATen/autocast_mode.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/script.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define RAW_AUTOCAST_BY_DEVICE 1
#endif

namespace {

void SetAutocast(c10::DeviceType device, bool on, c10::ScalarType dtype) {
#ifdef RAW_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(device, on);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(on);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "raw_torch: %s\nusage: raw_torch MODEL --rows N --batch B --in K "
               "[--device cuda:0|cpu] [--precision fp32|fp16|bf16] [--warmup W] [--max-seconds S] "
               "[--dtype float32|int64 --vocab V]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage("no model");
  std::string model_path = argv[1];
  int64_t rows = 0, batch = 0, width = 0, warmup = 5, vocab = 30000;
  std::string dtype = "float32";
  double max_seconds = 0;
  std::string device_name = "cuda:0", precision = "fp32";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--rows") {
      rows = std::stoll(value);
    } else if (flag == "--batch") {
      batch = std::stoll(value);
    } else if (flag == "--in") {
      width = std::stoll(value);
    } else if (flag == "--device") {
      device_name = value;
    } else if (flag == "--precision") {
      precision = value;
    } else if (flag == "--warmup") {
      warmup = std::stoll(value);
    } else if (flag == "--dtype") {
      dtype = value;
    } else if (flag == "--vocab") {
      vocab = std::stoll(value);
    } else if (flag == "--max-seconds") {
      max_seconds = std::stod(value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (rows <= 0 || batch <= 0 || width <= 0) Usage("--rows, --batch and --in must be > 0");
  if (dtype != "float32" && dtype != "int64") Usage("--dtype must be float32 or int64");
  const at::ScalarType in_type = dtype == "int64" ? at::kLong : at::kFloat;
  c10::ScalarType low = precision == "fp16"   ? c10::ScalarType::Half
                        : precision == "bf16" ? c10::ScalarType::BFloat16
                                              : c10::ScalarType::Float;
  try {
    c10::Device device(device_name);
    torch::jit::Module module = torch::jit::load(model_path, device);
    module.eval();
    std::optional<c10::Stream> stream;
    if (device.is_cuda()) {
      stream =
          c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getStreamFromGlobalPool(device);
    }
    std::optional<c10::StreamGuard> on_stream;
    if (stream) on_stream.emplace(*stream);
    c10::InferenceMode inference;

    at::Tensor source =
        in_type == at::kLong
            ? at::randint(vocab, {batch, width}, at::TensorOptions().dtype(at::kLong))
            : at::rand({batch, width}, at::TensorOptions().dtype(at::kFloat));
    if (device.is_cuda()) source = source.pin_memory();
    at::Tensor device_in =
        device.is_cuda()
            ? at::empty({batch, width}, at::TensorOptions().dtype(in_type).device(device))
            : source;
    at::Tensor host_out;

    auto run_batch = [&](int64_t n) {
      at::Tensor in = device_in.narrow(0, 0, n);
      if (device.is_cuda()) in.copy_(source.narrow(0, 0, n), /*non_blocking=*/true);
      bool autocast = low != c10::ScalarType::Float;
      if (autocast) SetAutocast(device.type(), true, low);
      at::Tensor out = module.forward({in}).toTensor();
      if (autocast) {
        SetAutocast(device.type(), false, low);
        at::autocast::clear_cache();
      }
      out = out.to(at::kFloat);
      if (device.is_cuda()) {
        if (!host_out.defined() || host_out.sizes() != out.sizes()) {
          host_out =
              at::empty(out.sizes(), at::TensorOptions().dtype(at::kFloat).pinned_memory(true));
        }
        host_out.copy_(out, /*non_blocking=*/true);
        stream->synchronize();
      } else {
        host_out = out.contiguous();
      }
    };

    for (int64_t i = 0; i < warmup; ++i) run_batch(batch);
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    int64_t done = 0;
    while (done < rows && (max_seconds <= 0 || elapsed() < max_seconds)) {
      int64_t n = std::min(batch, rows - done);
      run_batch(n);
      done += n;
    }
    double seconds = elapsed();
    std::printf("{\"rows\": %lld, \"seconds\": %.6f, \"rows_per_s\": %.1f}\n",
                static_cast<long long>(done), seconds, static_cast<double>(done) / seconds);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "raw_torch: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "raw_torch: %s\n", e.what());
    return 1;
  }
  return 0;
}
