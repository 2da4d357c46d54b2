// The ceiling for `preprocess: image` on JPEGs: a bare TurboJPEG decode loop
// (full size, RGB, files already read into memory) over the same files, on
// `threads` threads. Prints images per second of wall time, then per second
// of CPU time (user + system, all threads) spent in that loop: reading the
// files is in neither. Used by bench/images.py.
//
//   raw_turbojpeg THREADS [--scale D] FILE...
//
// --scale D (2, 4 or 8) decodes at 1/D in the DCT domain, as the image step
// does when the target is much smaller than the image: the ceiling for a job
// that decodes at that scale.
#include <sys/resource.h>
#include <turbojpeg.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

static double CpuSeconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: raw_turbojpeg THREADS [--scale D] FILE...\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  int first = 2, scale = 1;
  if (argc > 4 && std::string(argv[2]) == "--scale") {
    scale = std::atoi(argv[3]);
    first = 4;
  }
  if (scale != 1 && scale != 2 && scale != 4 && scale != 8) {
    std::fprintf(stderr, "raw_turbojpeg: --scale must be 1, 2, 4 or 8\n");
    return 2;
  }
  std::vector<std::string> files;
  for (int i = first; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  std::atomic<size_t> next{0}, failed{0};
  const double cpu_start = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      tjhandle h = tjInitDecompress();
      std::vector<unsigned char> out;
      for (size_t i = next++; i < files.size(); i = next++) {
        const auto* data = reinterpret_cast<const unsigned char*>(files[i].data());
        int w = 0, h_ = 0, sub = 0, cs = 0;
        if (tjDecompressHeader3(h, data, files[i].size(), &w, &h_, &sub, &cs) != 0) {
          ++failed;
          continue;
        }
        // TurboJPEG picks the largest scale that fits: ceil(w / scale) is 1/scale.
        w = (w + scale - 1) / scale;
        h_ = (h_ + scale - 1) / scale;
        out.resize(static_cast<size_t>(w) * h_ * 3);
        if (tjDecompress2(h, data, files[i].size(), out.data(), w, 0, h_, TJPF_RGB, 0) != 0)
          ++failed;
      }
      tjDestroy(h);
    });
  }
  pool.clear();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  std::printf("%.1f %.1f\n", static_cast<double>(files.size()) / s,
              static_cast<double>(files.size()) / cpu);
  return failed == 0 ? 0 : 1;
}
