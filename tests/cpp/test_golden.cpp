// Parity with the Python SDK: reads a golden file written by tests/cpp/make_golden.py and checks
// that the C API gives the same windows (count and spans) and every score within 1e-4, for whole
// clips (per window and the mean) and for streams fed in several chunk sizes.
//
//   test_golden GOLDEN.bin MODEL.onnx [--tol=1e-4]
#include "check.hpp"
#include "edgeemo.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Window {
    uint64_t start = 0, end = 0;
    std::vector<float> probs;
    float va[2] = {0, 0};
};

struct Case {
    std::string name;
    std::vector<float> audio;
    bool clip_ok = false;
    std::vector<Window> clip_windows;
    std::vector<float> clip_mean;
    float clip_va[2] = {0, 0};
    uint32_t chunk = 0;
    std::vector<Window> stream;
};

struct Golden {
    uint32_t n_labels = 0, has_va = 0, sample_rate = 0, window = 0, hop = 0, min = 0;
    std::string generator, model;
    std::vector<Case> cases;
};

class Reader {
public:
    explicit Reader(const std::string& path) : in_(path, std::ios::binary) {
        if (!in_) throw std::runtime_error("cannot open golden file " + path);
    }
    void raw(void* p, size_t n) {
        in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        if (!in_) throw std::runtime_error("golden file truncated");
    }
    uint32_t u32() {
        unsigned char b[4];
        raw(b, 4);
        return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    }
    uint64_t u64() {
        uint64_t lo = u32();
        return lo | uint64_t(u32()) << 32;
    }
    std::vector<float> f32(size_t n) {  // little-endian IEEE floats (x86/ARM hosts)
        std::vector<float> v(n);
        if (n) raw(v.data(), n * sizeof(float));
        return v;
    }
    std::string str() {
        std::string s(u32(), '\0');
        if (!s.empty()) raw(&s[0], s.size());
        return s;
    }
    bool at_end() { return in_.peek() == EOF; }

private:
    std::ifstream in_;
};

std::vector<Window> read_windows(Reader& r, const Golden& g) {
    std::vector<Window> ws(r.u32());
    for (Window& w : ws) {
        w.start = r.u64();
        w.end = r.u64();
        w.probs = r.f32(g.n_labels);
        if (g.has_va) {
            std::vector<float> va = r.f32(2);
            w.va[0] = va[0];
            w.va[1] = va[1];
        }
    }
    return ws;
}

Golden load(const std::string& path) {
    Reader r(path);
    char magic[8];
    r.raw(magic, 8);
    if (std::string(magic, 8) != "EEGOLD01") throw std::runtime_error(path + " is not an EEGOLD01 golden file");
    Golden g;
    g.n_labels = r.u32();
    g.has_va = r.u32();
    g.sample_rate = r.u32();
    g.window = r.u32();
    g.hop = r.u32();
    g.min = r.u32();
    g.generator = r.str();
    g.model = r.str();
    g.cases.resize(r.u32());
    for (Case& c : g.cases) {
        c.name = r.str();
        c.audio = r.f32(r.u32());
        c.clip_ok = r.u32() != 0;
        c.clip_windows = read_windows(r, g);
        c.clip_mean = r.f32(g.n_labels);
        if (g.has_va) {
            std::vector<float> va = r.f32(2);
            c.clip_va[0] = va[0];
            c.clip_va[1] = va[1];
        }
        c.chunk = r.u32();
        c.stream = read_windows(r, g);
    }
    if (!r.at_end()) throw std::runtime_error(path + ": trailing bytes");
    return g;
}

std::string g_golden_path, g_model_path;
double g_tol = 1e-4;
double g_max_diff = 0.0;
size_t g_values = 0, g_windows = 0;

void compare(const std::string& where, const float* got, const float* want, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
        g_max_diff = std::max(g_max_diff, d);
        ++g_values;
        CHECK_MSG(d <= g_tol, where + "[" + std::to_string(i) + "]: C " + std::to_string(got[i]) + " vs Python " +
                                  std::to_string(want[i]));
    }
}

}  // namespace

TEST_CASE(golden_parity) {
    Golden g = load(g_golden_path);
    std::printf("  golden %s: %zu cases from %s (%s)\n", g_golden_path.c_str(), g.cases.size(), g.model.c_str(),
                g.generator.c_str());
    REQUIRE(!g.cases.empty());
    edgeemo_recognizer_config cfg = edgeemo_recognizer_default_config();
    cfg.model_path = g_model_path.c_str();
    edgeemo_recognizer* rec = nullptr;
    CHECK_STATUS(edgeemo_recognizer_create(&cfg, &rec), EDGEEMO_STATUS_OK);
    REQUIRE(rec);
    int sr = 0, has_va = 0;
    size_t C = 0, w = 0, hop = 0, mn = 0;
    edgeemo_recognizer_sample_rate(rec, &sr);
    edgeemo_recognizer_label_count(rec, &C);
    edgeemo_recognizer_window_samples(rec, &w);
    edgeemo_recognizer_hop_samples(rec, &hop);
    edgeemo_recognizer_min_samples(rec, &mn);
    edgeemo_recognizer_has_valence_arousal(rec, &has_va);
    REQUIRE(static_cast<uint32_t>(sr) == g.sample_rate && C == g.n_labels && w == g.window && hop == g.hop &&
            mn == g.min && static_cast<uint32_t>(has_va) == g.has_va);

    for (const Case& c : g.cases) {
        const std::string tag = c.name;
        // whole clip, per window
        size_t nw = 0;
        CHECK_STATUS(edgeemo_clip_window_count(rec, c.audio.size(), &nw), EDGEEMO_STATUS_OK);
        CHECK_MSG(nw == c.clip_windows.size(), tag + ": " + std::to_string(nw) + " clip windows, Python " +
                                                   std::to_string(c.clip_windows.size()));
        std::vector<float> scores(std::max<size_t>(nw, 1) * C);
        std::vector<edgeemo_window_info> infos(std::max<size_t>(nw, 1));
        std::vector<float> mean(C);
        edgeemo_clip_info ci{};
        const edgeemo_status st = edgeemo_classify(rec, c.audio.data(), c.audio.size(), sr, mean.data(), C, &ci);
        if (!c.clip_ok) {
            CHECK_MSG(st == EDGEEMO_STATUS_AUDIO_TOO_SHORT, tag + ": " + edgeemo_status_string(st));
        } else {
            CHECK_MSG(st == EDGEEMO_STATUS_OK, tag + ": " + edgeemo_last_error());
            size_t got = 0;
            CHECK_STATUS(edgeemo_classify_windows(rec, c.audio.data(), c.audio.size(), sr, scores.data(), scores.size(),
                                                  infos.data(), infos.size(), &got),
                         EDGEEMO_STATUS_OK);
            if (got == c.clip_windows.size()) {
                for (size_t i = 0; i < got; ++i) {
                    const Window& want = c.clip_windows[i];
                    const std::string where = tag + " clip window " + std::to_string(i);
                    CHECK_MSG(infos[i].start_sample == want.start && infos[i].end_sample == want.end, where + " span");
                    compare(where, scores.data() + i * C, want.probs.data(), C);
                    if (has_va) compare(where + " va", &infos[i].valence, want.va, 1), compare(where + " va", &infos[i].arousal, want.va + 1, 1);
                    ++g_windows;
                }
            }
            CHECK(ci.n_windows == c.clip_windows.size());
            compare(tag + " clip mean", mean.data(), c.clip_mean.data(), C);
            if (has_va) compare(tag + " clip va", &ci.valence, c.clip_va, 1), compare(tag + " clip va", &ci.arousal, c.clip_va + 1, 1);
        }

        // streams: the golden chunk size and others; all must match Python's windows
        for (size_t chunk : {static_cast<size_t>(c.chunk), size_t{160}, size_t{512}, size_t{16000}, c.audio.size() + 1}) {
            if (chunk == 0) continue;
            edgeemo_stream* s = nullptr;
            CHECK_STATUS(edgeemo_stream_create(rec, &s), EDGEEMO_STATUS_OK);
            std::vector<float> p(C);
            edgeemo_window_info info{};
            size_t k = 0;
            auto drain = [&]() {
                while (edgeemo_stream_pop(s, p.data(), C, &info) == EDGEEMO_STATUS_OK) {
                    const std::string where = tag + " stream(chunk " + std::to_string(chunk) + ") window " + std::to_string(k);
                    if (k < c.stream.size()) {
                        const Window& want = c.stream[k];
                        CHECK_MSG(info.start_sample == want.start && info.end_sample == want.end,
                                  where + " span " + std::to_string(info.start_sample) + "-" +
                                      std::to_string(info.end_sample) + " vs " + std::to_string(want.start) + "-" +
                                      std::to_string(want.end));
                        compare(where, p.data(), want.probs.data(), C);
                        if (has_va) compare(where + " va", &info.valence, want.va, 1), compare(where + " va", &info.arousal, want.va + 1, 1);
                        ++g_windows;
                    }
                    ++k;
                }
            };
            for (size_t pos = 0; pos < c.audio.size(); pos += chunk) {
                const size_t n = std::min(chunk, c.audio.size() - pos);
                CHECK_STATUS(edgeemo_stream_accept(s, c.audio.data() + pos, n, sr), EDGEEMO_STATUS_OK);
                drain();
            }
            CHECK_STATUS(edgeemo_stream_flush(s), EDGEEMO_STATUS_OK);
            drain();
            CHECK_MSG(k == c.stream.size(), tag + " stream(chunk " + std::to_string(chunk) + "): " + std::to_string(k) +
                                                " windows, Python " + std::to_string(c.stream.size()));
            edgeemo_stream_destroy(s);
        }
    }
    edgeemo_recognizer_destroy(rec);
    std::printf("  compared %zu windows, %zu values: max |C - Python| = %.3g (tolerance %.0e)\n", g_windows, g_values,
                g_max_diff, g_tol);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: test_golden GOLDEN.bin MODEL.onnx [--tol=1e-4]\n");
        return 2;
    }
    g_golden_path = argv[1];
    g_model_path = argv[2];
    for (int i = 3; i < argc; ++i)
        if (std::string(argv[i]).rfind("--tol=", 0) == 0) g_tol = std::atof(argv[i] + 6);
    return edgeemo_test::run_all(argc, argv);
}
