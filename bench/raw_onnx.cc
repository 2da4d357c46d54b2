// The ceiling for a job: the same ONNX model run by ONNX Runtime in a bare
// loop over pre-built input tensors, at the job's batch size and threads, with
// no reading, packing or writing. Prints rows/s.
//
//   raw_onnx MODEL.onnx --rows N --batch B --threads T [--features F]
#include <onnxruntime_cxx_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: raw_onnx MODEL --rows N --batch B --threads T\n");
    return 2;
  }
  std::string model = argv[1];
  long rows = 1000000, batch = 4096, threads = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atol(argv[i + 1]);
  }
  setenv("ORT_DISABLE_TELEMETRY", "1", 0);  // as nightshift does (src/backends/onnxruntime)
  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "raw_onnx");
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(static_cast<int>(threads));
  so.SetInterOpNumThreads(1);
  so.SetExecutionMode(ORT_SEQUENTIAL);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  Ort::Session session(env, model.c_str(), so);
  Ort::AllocatorWithDefaultOptions alloc;
  auto in_name = session.GetInputNameAllocated(0, alloc);
  auto out_name = session.GetOutputNameAllocated(0, alloc);
  auto shape = session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  long features = shape.size() > 1 ? shape[1] : 1;
  std::vector<float> input(static_cast<size_t>(batch * features));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 50);
  for (auto& v : input) v = u(rng);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<int64_t> dims = {batch, features};
  Ort::Value x = Ort::Value::CreateTensor<float>(mem, input.data(), input.size(), dims.data(), 2);
  const char* in_names[] = {in_name.get()};
  const char* out_names[] = {out_name.get()};
  // Warm up, then time.
  for (int i = 0; i < 3; ++i) session.Run(Ort::RunOptions{nullptr}, in_names, &x, 1, out_names, 1);
  long iters = (rows + batch - 1) / batch;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iters; ++i) {
    auto out = session.Run(Ort::RunOptions{nullptr}, in_names, &x, 1, out_names, 1);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.0f\n", static_cast<double>(iters * batch) / s);
  return 0;
}
