// Per-window latency of the C API on ONE thread.
//
//   test_perf MODEL.onnx BUDGET_MS [--windows=N]
//
// Feeds a stream one hop at a time (after a full first window), so every accept runs exactly one
// window: that is the latency a live application sees per result. With BUDGET_MS > 0 it fails when
// the median exceeds it (a check to run by hand on a quiet machine); 0 only measures and reports,
// which is what the ctests do: speed targets live in the benchmarks (bench/, docs/cpp.md), since a
// shared CI machine cannot time anything reliably. Also prints session creation time and the
// batched whole-clip cost per window.
#include "check.hpp"
#include "edgeemo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
std::string g_model;
double g_budget_ms = 0;
size_t g_windows = 200;

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double pct(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p / 100.0 * v.size())) - 1);
    return v[i];
}
}  // namespace

TEST_CASE(per_window_latency_one_thread) {
    edgeemo_recognizer_config cfg = edgeemo_recognizer_default_config();
    cfg.model_path = g_model.c_str();
    cfg.num_threads = 1;
    edgeemo_recognizer* rec = nullptr;
    const double t0 = now_ms();
    CHECK_STATUS(edgeemo_recognizer_create(&cfg, &rec), EDGEEMO_STATUS_OK);
    const double load_ms = now_ms() - t0;
    REQUIRE(rec);
    int sr = 0;
    size_t w = 0, hop = 0, C = 0;
    edgeemo_recognizer_sample_rate(rec, &sr);
    edgeemo_recognizer_window_samples(rec, &w);
    edgeemo_recognizer_hop_samples(rec, &hop);
    edgeemo_recognizer_label_count(rec, &C);

    const size_t warmup = 5;
    const size_t n = w + (g_windows + warmup) * hop;
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i)
        x[i] = static_cast<float>(0.3 * std::sin(0.05 * static_cast<double>(i)) * std::sin(0.0003 * static_cast<double>(i)));

    edgeemo_stream* s = nullptr;
    CHECK_STATUS(edgeemo_stream_create(rec, &s), EDGEEMO_STATUS_OK);
    std::vector<float> scores(C);
    std::vector<double> wall, model;
    size_t pos = 0;
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), w - hop, sr), EDGEEMO_STATUS_OK);
    pos = w - hop;
    for (size_t k = 0; pos + hop <= n; ++k, pos += hop) {
        const double a = now_ms();
        CHECK_STATUS(edgeemo_stream_accept(s, x.data() + pos, hop, sr), EDGEEMO_STATUS_OK);
        CHECK_STATUS(edgeemo_stream_pop(s, scores.data(), C, nullptr), EDGEEMO_STATUS_OK);
        const double b = now_ms();
        edgeemo_timings t{};
        edgeemo_stream_timings(s, &t);
        if (k >= warmup) {
            wall.push_back(b - a);
            model.push_back(t.last_run_ms);
        }
    }
    edgeemo_stream_destroy(s);
    REQUIRE(!wall.empty());

    // batched whole clip (10 s)
    std::vector<float> clip(std::min(n, static_cast<size_t>(sr) * 10));
    std::copy(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(clip.size()), clip.begin());
    edgeemo_clip_info ci{};
    const double c0 = now_ms();
    CHECK_STATUS(edgeemo_classify(rec, clip.data(), clip.size(), sr, scores.data(), C, &ci), EDGEEMO_STATUS_OK);
    const double clip_ms = now_ms() - c0;

    const double p50 = pct(wall, 50), p95 = pct(wall, 95), p99 = pct(wall, 99);
    std::printf("  model %s: window %zu samples, hop %zu, 1 thread\n", g_model.c_str(), w, hop);
    std::printf("  session creation %.1f ms\n", load_ms);
    std::printf("  per-window latency over %zu windows: p50 %.3f ms, p95 %.3f ms, p99 %.3f ms, max %.3f ms "
                "(model run p50 %.3f ms)\n",
                wall.size(), p50, p95, p99, *std::max_element(wall.begin(), wall.end()), pct(model, 50));
    std::printf("  whole clip %.1f s: %zu windows in %.1f ms (%.3f ms per window, batched)\n",
                static_cast<double>(clip.size()) / sr, ci.n_windows, clip_ms, clip_ms / static_cast<double>(ci.n_windows));
    std::printf("PERF p50_ms=%.4f p95_ms=%.4f budget_ms=%.3f\n", p50, p95, g_budget_ms);
    CHECK_MSG(std::isfinite(p50) && p50 > 0, "the per-window latency was not measured");
    if (g_budget_ms > 0)
        CHECK_MSG(p50 <= g_budget_ms, "median per-window latency " + std::to_string(p50) + " ms exceeds the budget of " +
                                          std::to_string(g_budget_ms) + " ms");
    edgeemo_recognizer_destroy(rec);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: test_perf MODEL.onnx BUDGET_MS [--windows=N]\n");
        return 2;
    }
    g_model = argv[1];
    char* end = nullptr;
    g_budget_ms = std::strtod(argv[2], &end);
    if (end == argv[2] || *end != '\0' || !(g_budget_ms >= 0)) {
        std::fprintf(stderr, "BUDGET_MS must be a number >= 0 (0: measure and report only), got %s\n", argv[2]);
        return 2;
    }
    for (int i = 3; i < argc; ++i)
        if (std::string(argv[i]).rfind("--windows=", 0) == 0) g_windows = static_cast<size_t>(std::atol(argv[i] + 10));
    return edgeemo_test::run_all(argc, argv);
}
