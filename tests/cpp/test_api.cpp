// Behaviour of the C API and the C++ wrapper on the fixture models of tests/fixtures/make_models.py:
// error paths (null pointers, missing/corrupt/inconsistent models, bad audio), getters, window
// rules, stream semantics (chunk-size invariance, flush, reset), threading, timings, logging.
//
//   test_api FIXTURE_DIR [--filter=NAME]
#include "check.hpp"
#include "edgeemo.h"
#include "edgeemo.hpp"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using edgeemo_test::contains;

namespace {

std::string g_dir;
std::string model(const char* name) { return g_dir + "/" + name + ".onnx"; }

edgeemo_status create(const std::string& path, edgeemo_recognizer** out) {
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    c.model_path = path.c_str();
    return edgeemo_recognizer_create(&c, out);
}

// Deterministic speech-like test audio: a few tones with an envelope plus noise, in [-1, 1].
std::vector<float> make_audio(size_t n, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 16000.0;
        const double env = 0.5 + 0.5 * std::sin(2.0 * M_PI * 1.3 * t + seed);
        x[i] = static_cast<float>(0.3 * env * std::sin(2.0 * M_PI * (180.0 + 40.0 * seed) * t)) + noise(rng);
    }
    return x;
}

struct Rec {
    edgeemo_recognizer* r = nullptr;
    explicit Rec(const char* name) {
        edgeemo_status st = create(model(name), &r);
        if (st != EDGEEMO_STATUS_OK)
            std::fprintf(stderr, "cannot load %s: %s\n", model(name).c_str(), edgeemo_last_error());
    }
    ~Rec() { edgeemo_recognizer_destroy(r); }
};

struct Win {
    std::vector<float> scores;
    edgeemo_window_info info;
};

std::vector<Win> pop_all(edgeemo_stream* s, size_t C) {
    std::vector<Win> out;
    for (;;) {
        Win w;
        w.scores.resize(C);
        edgeemo_status st = edgeemo_stream_pop(s, w.scores.data(), C, &w.info);
        if (st == EDGEEMO_STATUS_NO_RESULT) break;
        if (st != EDGEEMO_STATUS_OK) {
            edgeemo_test::report(__FILE__, __LINE__, std::string("pop: ") + edgeemo_last_error());
            break;
        }
        out.push_back(w);
    }
    return out;
}

// Feeds x in chunks (sizes cycling through `chunks`), flushes, returns every window.
std::vector<Win> run_stream(const edgeemo_recognizer* r, const std::vector<float>& x, const std::vector<size_t>& chunks) {
    edgeemo_stream* s = nullptr;
    CHECK_STATUS(edgeemo_stream_create(r, &s), EDGEEMO_STATUS_OK);
    size_t C = 0;
    edgeemo_recognizer_label_count(r, &C);
    std::vector<Win> out;
    size_t pos = 0, k = 0;
    while (pos < x.size()) {
        const size_t n = std::min(chunks[k++ % chunks.size()], x.size() - pos);
        CHECK_STATUS(edgeemo_stream_accept(s, x.data() + pos, n, 16000), EDGEEMO_STATUS_OK);
        pos += n;
        for (Win& w : pop_all(s, C)) out.push_back(std::move(w));
    }
    CHECK_STATUS(edgeemo_stream_flush(s), EDGEEMO_STATUS_OK);
    for (Win& w : pop_all(s, C)) out.push_back(std::move(w));
    edgeemo_stream_destroy(s);
    return out;
}

}  // namespace

// ---- basics ----------------------------------------------------------------------------------

TEST_CASE(version_and_status_strings) {
    CHECK(std::string(edgeemo_version()) == EDGEEMO_EXPECTED_VERSION);
    CHECK(std::string(edgeemo_onnxruntime_version()).size() >= 5);
    CHECK(std::string(edgeemo_status_string(EDGEEMO_STATUS_OK)) == "EDGEEMO_STATUS_OK");
    CHECK(std::string(edgeemo_status_string(EDGEEMO_STATUS_MODEL_METADATA)) == "EDGEEMO_STATUS_MODEL_METADATA");
    for (int s = 0; s <= EDGEEMO_STATUS_INTERNAL; ++s)
        CHECK(contains(edgeemo_status_string(static_cast<edgeemo_status>(s)), "EDGEEMO_STATUS_"));
    CHECK(std::string(edgeemo_status_string(static_cast<edgeemo_status>(15))) == "EDGEEMO_STATUS_UNKNOWN");
}

TEST_CASE(default_config) {
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    CHECK(c.model_path == nullptr);
    CHECK(c.num_threads == 1);
    CHECK(std::string(c.provider) == "cpu");
    CHECK(c.device_id == 0);
    CHECK(c.tensorrt_cache_dir == nullptr);
    CHECK(c.max_batch == 0);  // automatic: 1 on the CPU
    CHECK(c.log_level == EDGEEMO_LOG_WARNING);
}

// ---- null pointers and bad arguments ------------------------------------------------------------

TEST_CASE(null_pointers) {
    edgeemo_recognizer* r = reinterpret_cast<edgeemo_recognizer*>(0x1);
    CHECK_STATUS(edgeemo_recognizer_create(nullptr, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(r == nullptr);
    CHECK(contains(edgeemo_last_error(), "config is NULL"));
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);  // model_path NULL
    CHECK(contains(edgeemo_last_error(), "model_path"));
    std::string p = model("valid");
    c.model_path = p.c_str();
    CHECK_STATUS(edgeemo_recognizer_create(&c, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);

    int i = 0;
    size_t z = 0;
    const char* s = nullptr;
    edgeemo_timings t;
    CHECK_STATUS(edgeemo_recognizer_sample_rate(nullptr, &i), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_window_samples(nullptr, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_hop_samples(nullptr, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_min_samples(nullptr, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_label_count(nullptr, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_label(nullptr, 0, &s), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_has_valence_arousal(nullptr, &i), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_metadata(nullptr, "labels", &s), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_provider(nullptr, &s), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_timings(nullptr, &t), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_clip_window_count(nullptr, 100, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    float f[8];
    CHECK_STATUS(edgeemo_classify(nullptr, f, 8, 16000, f, 8, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_classify_windows(nullptr, f, 8, 16000, f, 8, nullptr, 0, &z), EDGEEMO_STATUS_INVALID_ARGUMENT);
    edgeemo_stream* st = nullptr;
    CHECK_STATUS(edgeemo_stream_create(nullptr, &st), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_accept(nullptr, f, 8, 16000), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_pop(nullptr, f, 8, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_flush(nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_reset(nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    uint64_t u = 0;
    CHECK_STATUS(edgeemo_stream_samples(nullptr, &u), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_timings(nullptr, &t), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(edgeemo_stream_ready(nullptr) == 0);
    edgeemo_recognizer_destroy(nullptr);
    edgeemo_stream_destroy(nullptr);

    // NULL outputs / inputs on a valid recognizer
    Rec rec("valid");
    REQUIRE(rec.r);
    CHECK_STATUS(edgeemo_recognizer_sample_rate(rec.r, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_label(rec.r, 0, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_recognizer_metadata(rec.r, nullptr, &s), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_classify(rec.r, nullptr, 16000, 16000, f, 8, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(contains(edgeemo_last_error(), "pcm is NULL"));
    std::vector<float> x = make_audio(16000);
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, nullptr, 8, nullptr),
                 EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_create(rec.r, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_create(rec.r, &st), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_stream_accept(st, nullptr, 10, 16000), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(edgeemo_stream_accept(st, nullptr, 0, 16000), EDGEEMO_STATUS_OK);  // empty chunk
    CHECK_STATUS(edgeemo_stream_pop(st, nullptr, 8, nullptr), EDGEEMO_STATUS_INVALID_ARGUMENT);
    edgeemo_stream_destroy(st);
}

TEST_CASE(bad_config_values) {
    std::string p = model("valid");
    edgeemo_recognizer* r = nullptr;
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    c.model_path = p.c_str();
    c.provider = "gpu";
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(contains(edgeemo_last_error(), "provider"));
    c = edgeemo_recognizer_default_config();
    c.model_path = p.c_str();
    c.num_threads = -1;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    c.num_threads = 1;
    c.max_batch = -3;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    c.max_batch = 8;
    c.log_level = static_cast<edgeemo_log_level>(7);
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    c.log_level = EDGEEMO_LOG_WARNING;
    c.device_id = -1;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(r == nullptr);
}

// ---- model errors -----------------------------------------------------------------------------

TEST_CASE(missing_model) {
    edgeemo_recognizer* r = nullptr;
    const std::string p = g_dir + "/does_not_exist.onnx";
    CHECK_STATUS(create(p, &r), EDGEEMO_STATUS_MODEL_NOT_FOUND);
    CHECK(r == nullptr);
    CHECK(contains(edgeemo_last_error(), "does_not_exist.onnx"));
    CHECK_STATUS(create(g_dir, &r), EDGEEMO_STATUS_MODEL_NOT_FOUND);  // a folder
    CHECK(contains(edgeemo_last_error(), "not a regular file"));
}

TEST_CASE(broken_models) {
    struct Expect {
        const char* name;
        edgeemo_status status;
        const char* message;
    };
    const Expect cases[] = {
        {"no_metadata", EDGEEMO_STATUS_MODEL_METADATA, "metadata_props is empty"},
        {"missing_key", EDGEEMO_STATUS_MODEL_METADATA, "'sample_rate'"},
        {"labels_mismatch", EDGEEMO_STATUS_MODEL_METADATA, "lists 7 labels but output 'probs' is 8 wide"},
        {"window_mismatch", EDGEEMO_STATUS_MODEL_METADATA, "'window_samples' = 32000"},
        {"format_version", EDGEEMO_STATUS_MODEL_METADATA, "edgeemo_format"},
        {"missing_head", EDGEEMO_STATUS_MODEL_METADATA, "no output 'valence_arousal'"},
        {"truncated", EDGEEMO_STATUS_MODEL_LOAD, "truncated.onnx"},
        {"not_onnx", EDGEEMO_STATUS_MODEL_LOAD, "not_onnx.onnx"},
    };
    for (const Expect& e : cases) {
        edgeemo_recognizer* r = nullptr;
        edgeemo_status st = create(model(e.name), &r);
        CHECK_MSG(st == e.status, std::string(e.name) + ": got " + edgeemo_status_string(st) + ": " + edgeemo_last_error());
        CHECK_MSG(contains(edgeemo_last_error(), e.message),
                  std::string(e.name) + ": message lacks '" + e.message + "': " + edgeemo_last_error());
        CHECK(r == nullptr);
        edgeemo_recognizer_destroy(r);
    }
}

TEST_CASE(providers) {
    std::string p = model("valid");
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    c.model_path = p.c_str();
    c.provider = "auto";  // always loads: falls back to the CPU
    edgeemo_recognizer* r = nullptr;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_OK);
    const char* used = nullptr;
    CHECK_STATUS(edgeemo_recognizer_provider(r, &used), EDGEEMO_STATUS_OK);
    CHECK(used && (std::string(used) == "cpu" || std::string(used) == "cuda" || std::string(used) == "tensorrt"));
    edgeemo_recognizer_destroy(r);
    // An explicit GPU provider either works or fails loudly (never a silent CPU fallback).
    for (const char* prov : {"cuda", "tensorrt"}) {
        c.provider = prov;
        r = nullptr;
        edgeemo_status st = edgeemo_recognizer_create(&c, &r);
        CHECK_MSG(st == EDGEEMO_STATUS_OK || st == EDGEEMO_STATUS_PROVIDER, edgeemo_status_string(st));
        if (st == EDGEEMO_STATUS_OK) {
            CHECK_STATUS(edgeemo_recognizer_provider(r, &used), EDGEEMO_STATUS_OK);
            CHECK(std::string(used) == prov);
        } else {
            CHECK(contains(edgeemo_last_error(), "CPUExecutionProvider"));  // lists what is available
            std::printf("  provider %s: %s\n", prov, edgeemo_last_error());
        }
        edgeemo_recognizer_destroy(r);
    }
}

// ---- getters ----------------------------------------------------------------------------------

TEST_CASE(getters) {
    Rec rec("valid");
    REQUIRE(rec.r);
    int sr = 0, va = -1;
    size_t w = 0, hop = 0, mn = 0, n = 0;
    CHECK_STATUS(edgeemo_recognizer_sample_rate(rec.r, &sr), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_window_samples(rec.r, &w), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_hop_samples(rec.r, &hop), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_min_samples(rec.r, &mn), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_label_count(rec.r, &n), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_has_valence_arousal(rec.r, &va), EDGEEMO_STATUS_OK);
    CHECK(sr == 16000 && w == 16000 && hop == 4000 && mn == 8000 && n == 8 && va == 0);
    const char* expected[] = {"neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"};
    for (size_t i = 0; i < 8; ++i) {
        const char* l = nullptr;
        CHECK_STATUS(edgeemo_recognizer_label(rec.r, i, &l), EDGEEMO_STATUS_OK);
        CHECK(l && std::string(l) == expected[i]);
    }
    const char* l = "x";
    CHECK_STATUS(edgeemo_recognizer_label(rec.r, 8, &l), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(l == nullptr);
    CHECK(contains(edgeemo_last_error(), "out of range"));
    const char* v = nullptr;
    CHECK_STATUS(edgeemo_recognizer_metadata(rec.r, "model_name", &v), EDGEEMO_STATUS_OK);
    CHECK(v && std::string(v) == "edgeemo-test-fixture");
    CHECK_STATUS(edgeemo_recognizer_metadata(rec.r, "quantization", &v), EDGEEMO_STATUS_OK);
    CHECK(v && std::string(v) == "fp32");
    CHECK_STATUS(edgeemo_recognizer_metadata(rec.r, "no_such_key", &v), EDGEEMO_STATUS_INVALID_ARGUMENT);
    CHECK(v == nullptr);

    Rec rva("valence_arousal");
    REQUIRE(rva.r);
    CHECK_STATUS(edgeemo_recognizer_has_valence_arousal(rva.r, &va), EDGEEMO_STATUS_OK);
    CHECK(va == 1);
}

// ---- whole clips ------------------------------------------------------------------------------

TEST_CASE(clip_window_plan) {
    Rec rec("valid");
    REQUIRE(rec.r);
    // window 16000, hop 4000, min 8000: (n, expected windows)
    const size_t cases[][2] = {{0, 0},     {7999, 0},  {8000, 1},  {15999, 1}, {16000, 1},
                               {16001, 2}, {20000, 2}, {24000, 3}, {24001, 4}, {48000, 9}};
    for (const auto& c : cases) {
        size_t nw = 99;
        CHECK_STATUS(edgeemo_clip_window_count(rec.r, c[0], &nw), EDGEEMO_STATUS_OK);
        CHECK_MSG(nw == c[1], "n=" + std::to_string(c[0]) + ": " + std::to_string(nw) + " windows");
    }
    // spans: every hop, last aligned to the end
    std::vector<float> x = make_audio(26000);
    std::vector<float> scores(4 * 8);
    edgeemo_window_info infos[4];
    size_t nw = 0;
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, scores.data(), scores.size(), infos, 4, &nw),
                 EDGEEMO_STATUS_OK);
    REQUIRE(nw == 4);
    const uint64_t starts[] = {0, 4000, 8000, 10000};
    for (size_t i = 0; i < 4; ++i) {
        CHECK(infos[i].start_sample == starts[i]);
        CHECK(infos[i].end_sample == starts[i] + 16000);
        CHECK(std::fabs(infos[i].start_s - starts[i] / 16000.0) < 1e-12);
        CHECK(infos[i].has_valence_arousal == 0);
    }
    // a short clip: one zero-padded window ending at the clip's end
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), 9000, 16000, scores.data(), scores.size(), infos, 4, &nw),
                 EDGEEMO_STATUS_OK);
    CHECK(nw == 1 && infos[0].start_sample == 0 && infos[0].end_sample == 9000);
    // buffers too small
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, scores.data(), 31, infos, 4, &nw),
                 EDGEEMO_STATUS_BUFFER_TOO_SMALL);
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, scores.data(), 32, infos, 3, &nw),
                 EDGEEMO_STATUS_BUFFER_TOO_SMALL);
    // infos are optional
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, scores.data(), 32, nullptr, 0, &nw),
                 EDGEEMO_STATUS_OK);
}

TEST_CASE(classify_clip) {
    Rec rec("valid");
    REQUIRE(rec.r);
    std::vector<float> x = make_audio(40000);
    float scores[8];
    edgeemo_clip_info info;
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, scores, 8, &info), EDGEEMO_STATUS_OK);
    double sum = 0;
    size_t best = 0;
    for (size_t i = 0; i < 8; ++i) {
        sum += scores[i];
        if (scores[i] > scores[best]) best = i;
    }
    CHECK(std::fabs(sum - 1.0) < 1e-5);
    CHECK(info.n_windows == 7 && info.label_index == best && std::fabs(info.duration_s - 2.5) < 1e-12);
    CHECK(info.has_valence_arousal == 0);
    // the mean of the per-window scores
    std::vector<float> per(7 * 8);
    size_t nw = 0;
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, per.data(), per.size(), nullptr, 0, &nw),
                 EDGEEMO_STATUS_OK);
    for (size_t c = 0; c < 8; ++c) {
        double m = 0;
        for (size_t w = 0; w < 7; ++w) m += per[w * 8 + c];
        CHECK(std::fabs(m / 7 - scores[c]) < 1e-6);
    }
    // info is optional; a larger scores array is fine
    float big[16];
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, big, 16, nullptr), EDGEEMO_STATUS_OK);
    // max_batch does not change results (beyond float noise)
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    std::string p = model("valid");
    c.model_path = p.c_str();
    c.max_batch = 5;
    edgeemo_recognizer* r1 = nullptr;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r1), EDGEEMO_STATUS_OK);
    float s1[8];
    CHECK_STATUS(edgeemo_classify(r1, x.data(), x.size(), 16000, s1, 8, nullptr), EDGEEMO_STATUS_OK);
    for (size_t i = 0; i < 8; ++i) CHECK(std::fabs(s1[i] - scores[i]) < 1e-6);
    edgeemo_recognizer_destroy(r1);
}

TEST_CASE(classify_errors) {
    Rec rec("valid");
    REQUIRE(rec.r);
    std::vector<float> x = make_audio(20000);
    float scores[8];
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 44100, scores, 8, nullptr),
                 EDGEEMO_STATUS_INVALID_SAMPLE_RATE);
    CHECK(contains(edgeemo_last_error(), "44100") && contains(edgeemo_last_error(), "16000"));
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 0, scores, 8, nullptr), EDGEEMO_STATUS_INVALID_SAMPLE_RATE);
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), 7999, 16000, scores, 8, nullptr), EDGEEMO_STATUS_AUDIO_TOO_SHORT);
    CHECK(contains(edgeemo_last_error(), "8000"));
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), 0, 16000, scores, 8, nullptr), EDGEEMO_STATUS_AUDIO_TOO_SHORT);
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, scores, 7, nullptr), EDGEEMO_STATUS_BUFFER_TOO_SMALL);
    std::vector<float> bad = x;
    bad[123] = std::numeric_limits<float>::quiet_NaN();
    CHECK_STATUS(edgeemo_classify(rec.r, bad.data(), bad.size(), 16000, scores, 8, nullptr), EDGEEMO_STATUS_INVALID_AUDIO);
    CHECK(contains(edgeemo_last_error(), "sample 123 is NaN"));
    bad[123] = std::numeric_limits<float>::infinity();
    CHECK_STATUS(edgeemo_classify(rec.r, bad.data(), bad.size(), 16000, scores, 8, nullptr), EDGEEMO_STATUS_INVALID_AUDIO);
    bad[123] = 12000.0f;  // int16 PCM stored as float
    CHECK_STATUS(edgeemo_classify(rec.r, bad.data(), bad.size(), 16000, scores, 8, nullptr), EDGEEMO_STATUS_INVALID_AUDIO);
    CHECK(contains(edgeemo_last_error(), "32768"));
    // a peak <= 4 is clipped, as in the Python SDK: same as clipping by hand
    std::vector<float> loud = x, clipped = x;
    for (size_t i = 0; i < loud.size(); ++i) {
        loud[i] = x[i] * 3.5f;
        clipped[i] = std::max(-1.0f, std::min(1.0f, loud[i]));
    }
    float a[8], b[8];
    CHECK_STATUS(edgeemo_classify(rec.r, loud.data(), loud.size(), 16000, a, 8, nullptr), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_classify(rec.r, clipped.data(), clipped.size(), 16000, b, 8, nullptr), EDGEEMO_STATUS_OK);
    for (int i = 0; i < 8; ++i) CHECK(a[i] == b[i]);
}

TEST_CASE(nan_scores_are_an_error) {
    Rec rec("nan_scores");  // loads (valid metadata), but its probs are NaN for any input
    REQUIRE(rec.r);
    std::vector<float> x = make_audio(20000);
    float scores[8];
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, scores, 8, nullptr), EDGEEMO_STATUS_RUNTIME);
    CHECK(contains(edgeemo_last_error(), "non-finite scores"));
    edgeemo_stream* st = nullptr;
    CHECK_STATUS(edgeemo_stream_create(rec.r, &st), EDGEEMO_STATUS_OK);
    edgeemo_window_info w;
    edgeemo_status accepted = edgeemo_stream_accept(st, x.data(), x.size(), 16000);
    edgeemo_status popped = accepted == EDGEEMO_STATUS_OK ? edgeemo_stream_pop(st, scores, 8, &w) : accepted;
    CHECK(popped == EDGEEMO_STATUS_RUNTIME && contains(edgeemo_last_error(), "non-finite scores"));
    edgeemo_stream_destroy(st);
}

TEST_CASE(valence_arousal) {
    Rec rec("valence_arousal");
    REQUIRE(rec.r);
    std::vector<float> x = make_audio(30000, 3);
    float scores[8];
    edgeemo_clip_info info;
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, scores, 8, &info), EDGEEMO_STATUS_OK);
    CHECK(info.has_valence_arousal == 1);
    CHECK(info.valence >= -1 && info.valence <= 1 && info.arousal >= -1 && info.arousal <= 1);
    CHECK(info.valence != 0.0f || info.arousal != 0.0f);
    std::vector<Win> ws = run_stream(rec.r, x, {777});
    REQUIRE(!ws.empty());
    for (const Win& w : ws) CHECK(w.info.has_valence_arousal == 1 && std::fabs(w.info.valence) <= 1);
}

// ---- streams ----------------------------------------------------------------------------------

TEST_CASE(stream_windows_and_flush) {
    Rec rec("valid");
    REQUIRE(rec.r);
    // 2.6 s: windows at 0, .25, ..., 1.5 s (7), then flush: the partial window at 1.75 s holds
    // 0.85 s >= min (0.5 s): one more, zero-padded, ending at 2.6 s.
    std::vector<float> x = make_audio(41600);
    std::vector<Win> ws = run_stream(rec.r, x, {1000});
    REQUIRE(ws.size() == 8);
    for (size_t i = 0; i < 7; ++i) {
        CHECK(ws[i].info.start_sample == 4000 * i && ws[i].info.end_sample == 4000 * i + 16000);
        CHECK(std::fabs(ws[i].info.end_s - (4000.0 * i + 16000) / 16000) < 1e-12);
    }
    CHECK(ws[7].info.start_sample == 28000 && ws[7].info.end_sample == 41600);
    // the full windows equal the clip's first windows (clip windows are batched: float noise only)
    std::vector<float> per(10 * 8);
    size_t nw = 0;
    CHECK_STATUS(edgeemo_classify_windows(rec.r, x.data(), x.size(), 16000, per.data(), per.size(), nullptr, 0, &nw),
                 EDGEEMO_STATUS_OK);
    CHECK(nw == 8);
    for (size_t i = 0; i < 7; ++i)
        for (size_t c = 0; c < 8; ++c) CHECK(std::fabs(per[i * 8 + c] - ws[i].scores[c]) < 1e-5);
    // exactly one window: the flush adds the partial window at the next hop (12000 >= min samples)
    std::vector<Win> ws2 = run_stream(rec.r, std::vector<float>(x.begin(), x.begin() + 16000), {4096});
    REQUIRE(ws2.size() == 2);
    CHECK(ws2[1].info.start_sample == 4000 && ws2[1].info.end_sample == 16000);
    // a stream shorter than a window but >= min: one zero-padded window at flush
    std::vector<Win> ws3 = run_stream(rec.r, std::vector<float>(x.begin(), x.begin() + 9000), {100});
    REQUIRE(ws3.size() == 1);
    CHECK(ws3[0].info.start_sample == 0 && ws3[0].info.end_sample == 9000);
    // shorter than min: nothing
    CHECK(run_stream(rec.r, std::vector<float>(x.begin(), x.begin() + 7999), {100}).empty());
}

TEST_CASE(stream_chunk_size_invariance) {
    Rec rec("valid");
    REQUIRE(rec.r);
    std::vector<float> x = make_audio(16000 * 4 + 1234, 7);
    const std::vector<Win> ref = run_stream(rec.r, x, {160});
    REQUIRE(ref.size() == 13 + 1);
    const std::vector<std::vector<size_t>> plans = {{1}, {512}, {16000}, {x.size()}, {3, 17001, 40, 999, 1}, {7919}};
    for (const auto& plan : plans) {
        std::vector<Win> got = run_stream(rec.r, x, plan);
        REQUIRE(got.size() == ref.size());
        for (size_t i = 0; i < ref.size(); ++i) {
            CHECK(got[i].info.start_sample == ref[i].info.start_sample);
            CHECK(got[i].info.end_sample == ref[i].info.end_sample);
            for (size_t c = 0; c < 8; ++c)  // bit-identical: one window per model run
                CHECK_MSG(got[i].scores[c] == ref[i].scores[c], "chunk plan " + std::to_string(plan[0]));
        }
    }
}

TEST_CASE(stream_errors_and_state) {
    Rec rec("valid");
    REQUIRE(rec.r);
    edgeemo_stream* s = nullptr;
    CHECK_STATUS(edgeemo_stream_create(rec.r, &s), EDGEEMO_STATUS_OK);
    std::vector<float> x = make_audio(20000);
    float scores[8];
    edgeemo_window_info info;
    CHECK_STATUS(edgeemo_stream_pop(s, scores, 8, &info), EDGEEMO_STATUS_NO_RESULT);
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), 100, 8000), EDGEEMO_STATUS_INVALID_SAMPLE_RATE);
    uint64_t n = 0;
    CHECK_STATUS(edgeemo_stream_samples(s, &n), EDGEEMO_STATUS_OK);
    CHECK(n == 0);
    std::vector<float> bad(x.begin(), x.begin() + 500);
    bad[10] = std::numeric_limits<float>::quiet_NaN();
    CHECK_STATUS(edgeemo_stream_accept(s, bad.data(), bad.size(), 16000), EDGEEMO_STATUS_INVALID_AUDIO);
    CHECK_STATUS(edgeemo_stream_samples(s, &n), EDGEEMO_STATUS_OK);
    CHECK(n == 0);  // nothing of a refused chunk is kept
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), x.size(), 16000), EDGEEMO_STATUS_OK);
    CHECK(edgeemo_stream_ready(s) == 2);
    CHECK_STATUS(edgeemo_stream_pop(s, scores, 7, &info), EDGEEMO_STATUS_BUFFER_TOO_SMALL);
    CHECK(edgeemo_stream_ready(s) == 2);  // a failed pop keeps the result
    CHECK_STATUS(edgeemo_stream_pop(s, scores, 8, nullptr), EDGEEMO_STATUS_OK);  // info optional
    CHECK_STATUS(edgeemo_stream_flush(s), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_stream_flush(s), EDGEEMO_STATUS_OK);  // idempotent
    CHECK(edgeemo_stream_ready(s) == 2);  // the unpopped one + the padded tail (20000 - 8000 >= min)
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), 10, 16000), EDGEEMO_STATUS_INVALID_STATE);
    CHECK(contains(edgeemo_last_error(), "reset"));
    CHECK_STATUS(edgeemo_stream_reset(s), EDGEEMO_STATUS_OK);
    CHECK(edgeemo_stream_ready(s) == 0);
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), 16000, 16000), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_stream_pop(s, scores, 8, &info), EDGEEMO_STATUS_OK);
    CHECK(info.start_sample == 0 && info.end_sample == 16000);  // time restarts after reset
    edgeemo_timings t;
    CHECK_STATUS(edgeemo_stream_timings(s, &t), EDGEEMO_STATUS_OK);
    CHECK(t.total_runs == 4 && t.total_windows == 4 && t.last_run_windows == 1 && t.load_ms == 0.0);
    edgeemo_stream_destroy(s);
}

TEST_CASE(stream_outlives_recognizer) {
    edgeemo_recognizer* r = nullptr;
    CHECK_STATUS(create(model("valid"), &r), EDGEEMO_STATUS_OK);
    REQUIRE(r);
    edgeemo_stream* s = nullptr;
    CHECK_STATUS(edgeemo_stream_create(r, &s), EDGEEMO_STATUS_OK);
    edgeemo_recognizer_destroy(r);  // the stream keeps the model alive
    std::vector<float> x = make_audio(16000);
    CHECK_STATUS(edgeemo_stream_accept(s, x.data(), x.size(), 16000), EDGEEMO_STATUS_OK);
    CHECK(edgeemo_stream_ready(s) == 1);
    edgeemo_stream_destroy(s);
}

TEST_CASE(shared_recognizer_threads) {
    Rec rec("valid");
    REQUIRE(rec.r);
    std::vector<std::vector<float>> inputs;
    std::vector<std::vector<Win>> ref;
    std::vector<std::vector<float>> clip_ref;
    for (unsigned t = 0; t < 4; ++t) {
        inputs.push_back(make_audio(16000 * 2 + 3000 * t, t + 10));
        ref.push_back(run_stream(rec.r, inputs.back(), {1600}));
        std::vector<float> s(8);
        CHECK_STATUS(edgeemo_classify(rec.r, inputs.back().data(), inputs.back().size(), 16000, s.data(), 8, nullptr),
                     EDGEEMO_STATUS_OK);
        clip_ref.push_back(s);
    }
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int rep = 0; rep < 3; ++rep) {
                std::vector<Win> got = run_stream(rec.r, inputs[t], {500 + 100 * t});
                if (got.size() != ref[t].size()) ++mismatches;
                for (size_t i = 0; i < got.size() && i < ref[t].size(); ++i)
                    if (got[i].scores != ref[t][i].scores) ++mismatches;
                float s[8];
                if (edgeemo_classify(rec.r, inputs[t].data(), inputs[t].size(), 16000, s, 8, nullptr) != EDGEEMO_STATUS_OK)
                    ++mismatches;
                for (int c = 0; c < 8; ++c)
                    if (std::fabs(s[c] - clip_ref[t][c]) > 1e-6f) ++mismatches;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(mismatches == 0);
}

// ---- timings and logging ------------------------------------------------------------------------

TEST_CASE(timings) {
    Rec rec("valid");
    REQUIRE(rec.r);
    edgeemo_timings t;
    CHECK_STATUS(edgeemo_recognizer_timings(rec.r, &t), EDGEEMO_STATUS_OK);
    CHECK(t.load_ms > 0 && t.total_runs == 0);
    std::vector<float> x = make_audio(16000 * 3);  // 9 windows, one per run on the CPU by default
    float s[8];
    CHECK_STATUS(edgeemo_classify(rec.r, x.data(), x.size(), 16000, s, 8, nullptr), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_timings(rec.r, &t), EDGEEMO_STATUS_OK);
    CHECK(t.total_runs == 9 && t.total_windows == 9 && t.last_run_windows == 1);
    CHECK(t.total_run_ms > 0 && t.last_run_ms > 0 && t.last_run_ms <= t.total_run_ms);
    // max_batch 8: batches of 8 + 1
    std::string p = model("valid");
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    c.model_path = p.c_str();
    c.max_batch = 8;
    edgeemo_recognizer* r8 = nullptr;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r8), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_classify(r8, x.data(), x.size(), 16000, s, 8, nullptr), EDGEEMO_STATUS_OK);
    CHECK_STATUS(edgeemo_recognizer_timings(r8, &t), EDGEEMO_STATUS_OK);
    CHECK(t.total_runs == 2 && t.total_windows == 9 && t.last_run_windows == 1);
    edgeemo_recognizer_destroy(r8);
}

namespace {
std::mutex g_log_mutex;
std::vector<std::pair<edgeemo_log_level, std::string>> g_logs;
void capture(edgeemo_log_level level, const char* message, void* user) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_logs.emplace_back(level, message);
    ++*static_cast<int*>(user);
}
}  // namespace

TEST_CASE(log_callback) {
    int calls = 0;
    edgeemo_set_log_callback(capture, &calls);
    std::string p = model("valid");
    edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
    c.model_path = p.c_str();
    c.log_level = EDGEEMO_LOG_INFO;
    edgeemo_recognizer* r = nullptr;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_OK);
    edgeemo_recognizer_destroy(r);
    bool loaded = false;
    {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        for (const auto& m : g_logs)
            if (m.first == EDGEEMO_LOG_INFO && contains(m.second, "loaded") && contains(m.second, "valid.onnx"))
                loaded = true;
    }
    CHECK(loaded && calls > 0);
    // below the threshold: nothing
    g_logs.clear();
    calls = 0;
    c.log_level = EDGEEMO_LOG_ERROR;
    CHECK_STATUS(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_OK);
    edgeemo_recognizer_destroy(r);
    CHECK(calls == 0);
    edgeemo_set_log_callback(nullptr, nullptr);
}

// ---- the C++ wrapper ----------------------------------------------------------------------------

TEST_CASE(cpp_wrapper) {
    try {
        edgeemo::Recognizer bad(g_dir + "/does_not_exist.onnx");
        CHECK(false);
    } catch (const edgeemo::Error& e) {
        CHECK(e.status() == EDGEEMO_STATUS_MODEL_NOT_FOUND);
        CHECK(contains(e.what(), "EDGEEMO_STATUS_MODEL_NOT_FOUND") && contains(e.what(), "does_not_exist.onnx"));
    }
    try {
        edgeemo::Recognizer bad(model("no_metadata"));
        CHECK(false);
    } catch (const edgeemo::Error& e) {
        CHECK(e.status() == EDGEEMO_STATUS_MODEL_METADATA);
    }
    edgeemo::Config cfg;
    cfg.model_path = model("valence_arousal");
    edgeemo::Recognizer rec(cfg);
    CHECK(rec.sample_rate() == 16000 && rec.window_samples() == 16000 && rec.hop_samples() == 4000);
    CHECK(rec.min_samples() == 8000 && rec.label_count() == 8 && rec.has_valence_arousal());
    CHECK(rec.labels().at(7) == "surprise" && rec.label(0) == "neutral");
    CHECK(rec.metadata("license").value_or("") == "Apache-2.0");
    CHECK(!rec.metadata("nope").has_value());
    CHECK(rec.provider() == "cpu");
    std::vector<float> x = make_audio(30000);
    edgeemo::ClipResult clip = rec.classify(x, 16000);
    CHECK(clip.n_windows == 5 && clip.scores.size() == 8 && clip.valence.has_value());
    auto windows = rec.classify_windows(x, 16000);
    CHECK(windows.size() == 5 && windows.back().end_sample == 30000 && windows[0].arousal.has_value());
    try {
        rec.classify(x, 22050);
        CHECK(false);
    } catch (const edgeemo::Error& e) {
        CHECK(e.status() == EDGEEMO_STATUS_INVALID_SAMPLE_RATE);
    }

    edgeemo::Stream stream = rec.create_stream();
    CHECK(!stream.pop().has_value());
    stream.accept(x.data(), 20000, 16000);
    CHECK(stream.ready() == 2);
    auto all = stream.pop_all();
    CHECK(all.size() == 2 && all[1].start_sample == 4000);
    stream.accept(x.data() + 20000, 10000, 16000);
    stream.flush();
    CHECK(stream.samples() == 30000);
    edgeemo::Stream moved = std::move(stream);
    CHECK(moved.pop_all().size() == 3);  // 2 full windows + the padded tail at 4 hops (14000 samples)
    try {
        stream.reset();  // moved-from
        CHECK(false);
    } catch (const edgeemo::Error& e) {
        CHECK(e.status() == EDGEEMO_STATUS_INVALID_ARGUMENT);
    }
    moved.reset();
    edgeemo::Recognizer other = std::move(rec);
    CHECK(other.label_count() == 8);
    CHECK(other.timings().total_windows > 0);
    CHECK(!edgeemo::version().empty());
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: test_api FIXTURE_DIR [--filter=NAME]\n");
        return 2;
    }
    g_dir = argv[1];
    return edgeemo_test::run_all(argc, argv);
}
