// Exercised under valgrind memcheck (ctest "valgrind_leaks"): repeated create/stream/destroy
// cycles, whole-clip classification, error paths and the C++ wrapper's exceptions. Any leak that
// grows with the loop count would show as "definitely/possibly lost"; the program itself only
// checks statuses.
//
//   leak_loop FIXTURE_DIR [ITERATIONS]
#include "edgeemo.h"
#include "edgeemo.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static int g_bad = 0;
static void expect(edgeemo_status got, edgeemo_status want, const char* what) {
    if (got != want) {
        std::fprintf(stderr, "leak_loop: %s: %s (want %s): %s\n", what, edgeemo_status_string(got),
                     edgeemo_status_string(want), edgeemo_last_error());
        ++g_bad;
    }
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: leak_loop FIXTURE_DIR [ITERATIONS]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int iterations = argc > 2 ? std::atoi(argv[2]) : 3;
    const std::string valid = dir + "/valid.onnx", va = dir + "/valence_arousal.onnx";
    std::vector<float> x(16000 * 2 + 700);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.2f * std::sin(0.01f * static_cast<float>(i));
    float scores[8];
    edgeemo_window_info info;

    for (int it = 0; it < iterations; ++it) {
        for (const std::string* path : {&valid, &va}) {
            edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
            c.model_path = path->c_str();
            edgeemo_recognizer* r = nullptr;
            expect(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_OK, "create");
            if (!r) return 1;
            edgeemo_clip_info ci;
            expect(edgeemo_classify(r, x.data(), x.size(), 16000, scores, 8, &ci), EDGEEMO_STATUS_OK, "classify");
            edgeemo_stream* s1 = nullptr;
            edgeemo_stream* s2 = nullptr;
            expect(edgeemo_stream_create(r, &s1), EDGEEMO_STATUS_OK, "stream");
            expect(edgeemo_stream_create(r, &s2), EDGEEMO_STATUS_OK, "stream");
            for (size_t pos = 0; pos < x.size(); pos += 3000) {
                const size_t n = std::min<size_t>(3000, x.size() - pos);
                expect(edgeemo_stream_accept(s1, x.data() + pos, n, 16000), EDGEEMO_STATUS_OK, "accept");
                while (edgeemo_stream_pop(s1, scores, 8, &info) == EDGEEMO_STATUS_OK) {
                }
            }
            expect(edgeemo_stream_accept(s2, x.data(), x.size(), 16000), EDGEEMO_STATUS_OK, "accept");
            expect(edgeemo_stream_flush(s1), EDGEEMO_STATUS_OK, "flush");
            expect(edgeemo_stream_accept(s1, x.data(), 10, 16000), EDGEEMO_STATUS_INVALID_STATE, "accept after flush");
            expect(edgeemo_stream_accept(s1, x.data(), 10, 8000), EDGEEMO_STATUS_INVALID_SAMPLE_RATE, "bad rate");
            expect(edgeemo_stream_reset(s1), EDGEEMO_STATUS_OK, "reset");
            // s2 has unpopped results when destroyed; the recognizer goes before the stream
            edgeemo_recognizer_destroy(r);
            expect(edgeemo_stream_accept(s2, x.data(), 4000, 16000), EDGEEMO_STATUS_OK, "accept after destroy");
            edgeemo_stream_destroy(s1);
            edgeemo_stream_destroy(s2);
        }
        // error paths allocate and free ORT objects too
        const char* broken[] = {"no_metadata", "missing_key", "labels_mismatch", "truncated", "not_onnx", "does_not_exist"};
        for (const char* b : broken) {
            std::string p = dir + "/" + b + ".onnx";
            edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
            c.model_path = p.c_str();
            edgeemo_recognizer* r = nullptr;
            if (edgeemo_recognizer_create(&c, &r) == EDGEEMO_STATUS_OK) {
                std::fprintf(stderr, "leak_loop: %s loaded\n", b);
                ++g_bad;
                edgeemo_recognizer_destroy(r);
            }
        }
        // a model whose scores are NaN: the run fails after ONNX Runtime allocated its outputs
        {
            std::string p = dir + "/nan_scores.onnx";
            edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
            c.model_path = p.c_str();
            edgeemo_recognizer* r = nullptr;
            expect(edgeemo_recognizer_create(&c, &r), EDGEEMO_STATUS_OK, "create nan_scores");
            if (r) {
                expect(edgeemo_classify(r, x.data(), x.size(), 16000, scores, 8, nullptr), EDGEEMO_STATUS_RUNTIME,
                       "classify nan_scores");
                edgeemo_recognizer_destroy(r);
            }
        }
        // C++ wrapper, including a thrown and caught edgeemo::Error
        try {
            edgeemo::Recognizer rec(valid);
            edgeemo::Stream s = rec.create_stream();
            s.accept(x, 16000);
            s.flush();
            auto res = s.pop_all();
            auto clip = rec.classify(x, 16000);
            rec.classify(x, 44100);
            ++g_bad;
        } catch (const edgeemo::Error& e) {
            if (e.status() != EDGEEMO_STATUS_INVALID_SAMPLE_RATE) ++g_bad;
        }
    }
    std::printf("leak_loop: %d iterations, %d problems\n", iterations, g_bad);
    return g_bad == 0 ? 0 : 1;
}
