// edgeemo-classify: classify WAV/FLAC files with the edgeemo C++ API.
//
//   edgeemo-classify [--model PATH] [--json] [--windows] [--threads N] [--provider P] [--min-confidence F] FILE...
//
// Reads each file with libsndfile (any format it knows: WAV, FLAC, OGG...), averages channels to
// mono, and prints the clip's label and per-label scores (mean over windows). The file must be at
// the model's sample rate: this example does not resample (use e.g. `sox in.wav -r 16000 out.wav`).
// --json prints one JSON object per file (JSON lines) with the field names of
// `edgeemo classify --format jsonl` (docs/cli.md, "JSON output"): path, label, confidence, scores,
// start_s, end_s, speech_prob, is_speech, valence, arousal (valence/arousal null without that
// head). A clip that is not speech (the C API's speech detector, the same as Python's) is labelled
// "no_speech" with confidence 0; speech whose top score is below --min-confidence "uncertain". A file that fails
// prints "error: PATH: reason" on stderr, as the Python CLI does. Exit status: 0 ok, 1 some file
// failed, 2 bad usage or the model cannot be loaded.
//
// The model: --model PATH, else $EDGEEMO_MODEL, else the bundled model where `cmake --install`
// puts it (EDGEEMO_DEFAULT_MODEL, <prefix>/share/edgeemo/models/).
#include "edgeemo.hpp"

#include <sndfile.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

void usage(FILE* to) {
    std::fprintf(to,
                 "usage: edgeemo-classify [--model PATH] [--json] [--windows] [--threads N] [--provider P] [--max-batch N] FILE...\n"
                 "  --model PATH    ONNX model (default: $EDGEEMO_MODEL, else the installed %s)\n"
                 "  --json          one JSON object per file\n"
                 "  --windows       also print every window\n"
                 "  --threads N     ONNX Runtime intra-op threads (default 1; 0 = ONNX Runtime's choice)\n"
                 "  --provider P    cpu (default), cuda, tensorrt or auto\n"
                 "  --max-batch N   windows per model run (default 0: automatic, 1 on the CPU)\n"
                 "  --min-confidence F  label speech whose top score is below F \"uncertain\" (default 0: off)\n",
                 EDGEEMO_DEFAULT_MODEL);
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string opt_num(const std::optional<float>& v) { return v ? num(static_cast<double>(*v)) : "null"; }

double g_min_confidence = 0.0;  // --min-confidence

// The label shown for a result, as the Python SDK decides it (EmotionResult.from_scores): never an
// emotion for non-speech ("no_speech", confidence 0), "uncertain" below --min-confidence.
std::pair<std::string, double> shown_label(const std::vector<std::string>& labels, const std::vector<float>& scores,
                                           size_t best, bool is_speech) {
    const double top = static_cast<double>(scores[best]);
    if (!is_speech) return {EDGEEMO_LABEL_NO_SPEECH, 0.0};
    if (top < g_min_confidence) return {EDGEEMO_LABEL_UNCERTAIN, top};
    return {labels[best], top};
}

// One result with the Python SDK's field names (EmotionResult.to_dict), without the braces.
std::string result_fields(const std::vector<std::string>& labels, const std::vector<float>& scores, size_t best,
                          double start_s, double end_s, const std::optional<float>& valence,
                          const std::optional<float>& arousal, float speech_prob, bool is_speech) {
    const auto [label, confidence] = shown_label(labels, scores, best, is_speech);
    std::string o = "\"label\": " + json_string(label) + ", \"confidence\": " + num(confidence) + ", \"scores\": {";
    for (size_t c = 0; c < labels.size(); ++c)
        o += (c ? ", " : "") + json_string(labels[c]) + ": " + num(static_cast<double>(scores[c]));
    o += "}, \"start_s\": " + num(start_s) + ", \"end_s\": " + num(end_s);
    o += ", \"speech_prob\": " + num(static_cast<double>(speech_prob)) +
         ", \"is_speech\": " + (is_speech ? "true" : "false");
    return o + ", \"valence\": " + opt_num(valence) + ", \"arousal\": " + opt_num(arousal);
}

std::string clip_json(const std::string& path, const std::vector<std::string>& labels, const edgeemo::ClipResult& r,
                      const std::vector<edgeemo::WindowResult>* windows) {
    std::string o = "{\"path\": " + json_string(path) + ", " +
                    result_fields(labels, r.scores, r.label_index, 0.0, r.duration_s, r.valence, r.arousal,
                                  r.speech_prob, r.is_speech);
    if (windows) {
        o += ", \"windows\": [";
        for (size_t w = 0; w < windows->size(); ++w) {
            const edgeemo::WindowResult& x = (*windows)[w];
            o += (w ? ", {" : "{") + result_fields(labels, x.scores, x.label_index, x.start_s, x.end_s, x.valence,
                                                   x.arousal, x.speech_prob, x.is_speech) + "}";
        }
        o += "]";
    }
    return o + "}";
}

bool file_exists(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f) std::fclose(f);
    return f != nullptr;
}

struct Audio {
    std::vector<float> samples;  // mono
    int sample_rate = 0;
};

// Reads any libsndfile format, averaging channels. Throws std::runtime_error with the reason.
Audio read_audio(const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw std::runtime_error(std::string("cannot read audio: ") + sf_strerror(nullptr));
    Audio a;
    a.sample_rate = info.samplerate;
    const int ch = info.channels;
    std::vector<float> block(4096 * static_cast<size_t>(ch));
    a.samples.reserve(info.frames > 0 ? static_cast<size_t>(info.frames) : 0);
    for (;;) {
        sf_count_t got = sf_readf_float(f, block.data(), 4096);
        if (got <= 0) break;
        for (sf_count_t i = 0; i < got; ++i) {
            float sum = 0.0f;
            for (int c = 0; c < ch; ++c) sum += block[static_cast<size_t>(i) * ch + c];
            a.samples.push_back(sum / static_cast<float>(ch));
        }
    }
    int err = sf_error(f);
    std::string msg = err ? sf_strerror(f) : "";
    sf_close(f);
    if (err) throw std::runtime_error("error while decoding: " + msg);
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    edgeemo::Config config;
    const char* env_model = std::getenv("EDGEEMO_MODEL");
    const bool env_given = env_model && *env_model;
    config.model_path = env_given ? env_model : EDGEEMO_DEFAULT_MODEL;
    bool model_given = env_given;
    bool json = false, windows = false;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "edgeemo-classify: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--model") {
            config.model_path = value();
            model_given = true;
        }
        else if (a == "--json")
            json = true;
        else if (a == "--windows")
            windows = true;
        else if (a == "--threads")
            config.num_threads = std::atoi(value().c_str());
        else if (a == "--provider")
            config.provider = value();
        else if (a == "--max-batch")
            config.max_batch = std::atoi(value().c_str());
        else if (a == "--min-confidence")
            g_min_confidence = std::atof(value().c_str());
        else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "edgeemo-classify: unknown option %s\n", a.c_str());
            usage(stderr);
            return 2;
        } else
            files.push_back(a);
    }
    if (files.empty()) {
        usage(stderr);
        return 2;
    }
    if (!model_given && !file_exists(config.model_path)) {
        std::fprintf(stderr,
                     "edgeemo-classify: error: no model: pass --model PATH or set EDGEEMO_MODEL (the bundled "
                     "model is not installed at %s; `cmake --install` puts it there, and the Python package "
                     "has it: python -c 'import edgeemo; print(edgeemo.default_model_path())')\n",
                     config.model_path.c_str());
        return 2;
    }

    try {
        edgeemo::Recognizer rec(config);
        const std::vector<std::string> labels = rec.labels();
        const int rate = rec.sample_rate();
        int failures = 0;
        for (const std::string& path : files) {
            try {
                Audio audio = read_audio(path);
                if (audio.sample_rate != rate)
                    throw edgeemo::Error(EDGEEMO_STATUS_INVALID_SAMPLE_RATE,
                                         path + " is " + std::to_string(audio.sample_rate) +
                                             " Hz but the model takes " + std::to_string(rate) +
                                             " Hz; resample it first (e.g. sox in.wav -r " + std::to_string(rate) +
                                             " out.wav)");
                edgeemo::ClipResult r = rec.classify(audio.samples, rate);
                std::vector<edgeemo::WindowResult> ws;
                if (windows) ws = rec.classify_windows(audio.samples, rate);
                if (json) {
                    std::printf("%s\n", clip_json(path, labels, r, windows ? &ws : nullptr).c_str());
                } else {
                    const auto shown = shown_label(labels, r.scores, r.label_index, r.is_speech);
                    std::printf("%s: %s %.3f (%zu windows, %.2f s, speech %.2f)\n", path.c_str(), shown.first.c_str(),
                                shown.second, r.n_windows, r.duration_s, static_cast<double>(r.speech_prob));
                    for (size_t c = 0; c < labels.size(); ++c)
                        std::printf("  %-10s %.4f\n", labels[c].c_str(), static_cast<double>(r.scores[c]));
                    if (r.valence)
                        std::printf("  valence %.3f arousal %.3f\n", static_cast<double>(*r.valence),
                                    static_cast<double>(*r.arousal));
                    for (const auto& w : ws)
                        std::printf("  [%7.3f %7.3f] %s %.3f\n", w.start_s, w.end_s,
                                    shown_label(labels, w.scores, w.label_index, w.is_speech).first.c_str(),
                                    shown_label(labels, w.scores, w.label_index, w.is_speech).second);
                }
            } catch (const std::exception& e) {
                ++failures;
                const edgeemo::Error* ee = dynamic_cast<const edgeemo::Error*>(&e);
                std::fprintf(stderr, "error: %s: %s [%s]\n", path.c_str(), e.what(),
                             ee ? edgeemo_status_string(ee->status()) : "IO");
            }
            std::fflush(stdout);
        }
        if (failures)
            std::fprintf(stderr, "%d input(s) failed, %zu classified\n", failures, files.size() - static_cast<size_t>(failures));
        return failures ? 1 : 0;
    } catch (const edgeemo::Error& e) {
        std::fprintf(stderr, "edgeemo-classify: %s\n", e.what());
        return 2;
    }
}
