// edgeemo.hpp - header-only C++17 wrapper over the C API in edgeemo.h.
//
// Move-only RAII types; every failure throws edgeemo::Error (with the C status and the detailed
// message). Same threading rule as the C API: a Recognizer may be shared by threads (its const
// methods are thread-safe), a Stream belongs to one thread at a time.
//
//   edgeemo::Recognizer rec("model.onnx");
//   edgeemo::ClipResult r = rec.classify(samples, rec.sample_rate());
//   std::cout << rec.label(r.label_index) << " " << r.scores[r.label_index] << "\n";
//
//   edgeemo::Stream stream = rec.create_stream();
//   stream.accept(chunk.data(), chunk.size(), 16000);
//   while (auto w = stream.pop()) std::cout << w->start_s << " " << rec.label(w->label_index) << "\n";
#ifndef EDGEEMO_HPP
#define EDGEEMO_HPP

#include "edgeemo.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace edgeemo {

/** Every failure of the C API, with its status. */
class Error : public std::runtime_error {
public:
    Error(edgeemo_status status, const std::string& message)
        : std::runtime_error(std::string(edgeemo_status_string(status)) + ": " + message), status_(status) {}
    edgeemo_status status() const noexcept { return status_; }

private:
    edgeemo_status status_;
};

namespace detail {
inline void check(edgeemo_status s) {
    if (s != EDGEEMO_STATUS_OK) throw Error(s, edgeemo_last_error());
}
}  // namespace detail

inline std::string version() { return edgeemo_version(); }
inline std::string onnxruntime_version() { return edgeemo_onnxruntime_version(); }

/** Configuration; the defaults are edgeemo_recognizer_default_config()'s. */
struct Config {
    std::string model_path;
    int num_threads = edgeemo_recognizer_default_config().num_threads;
    std::string provider = "cpu";  ///< "cpu", "cuda", "tensorrt" or "auto"
    int device_id = 0;
    std::string tensorrt_cache_dir;  ///< empty: no engine cache
    int max_batch = edgeemo_recognizer_default_config().max_batch;
    edgeemo_log_level log_level = EDGEEMO_LOG_WARNING;
};

/** One window of a stream or clip. */
struct WindowResult {
    std::vector<float> scores;  ///< probabilities, one per label
    size_t label_index = 0;     ///< argmax of scores
    uint64_t start_sample = 0;
    uint64_t end_sample = 0;
    double start_s = 0.0;
    double end_s = 0.0;
    std::optional<float> valence;  ///< set when the model has the valence/arousal head
    std::optional<float> arousal;
    float speech_prob = 0.0f;   ///< fraction of the window's 30 ms frames judged speech
    bool is_speech = false;     ///< false: not speech, show "no_speech" (never an emotion)
};

/** A whole clip: mean scores over its windows. */
struct ClipResult {
    std::vector<float> scores;
    size_t label_index = 0;
    size_t n_windows = 0;
    double duration_s = 0.0;
    std::optional<float> valence;
    std::optional<float> arousal;
    float speech_prob = 0.0f;   ///< fraction of the clip's 30 ms frames judged speech
    bool is_speech = false;     ///< false: not speech, show "no_speech" (never an emotion)
};

namespace detail {
inline WindowResult make_window(std::vector<float> scores, const edgeemo_window_info& i) {
    WindowResult w;
    w.scores = std::move(scores);
    w.label_index = i.label_index;
    w.start_sample = i.start_sample;
    w.end_sample = i.end_sample;
    w.start_s = i.start_s;
    w.end_s = i.end_s;
    w.speech_prob = i.speech_prob;
    w.is_speech = i.is_speech != 0;
    if (i.has_valence_arousal) {
        w.valence = i.valence;
        w.arousal = i.arousal;
    }
    return w;
}
}  // namespace detail

class Recognizer;

/** Per-stream state; one thread at a time. Keeps its recognizer's model alive. */
class Stream {
public:
    Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)), n_labels_(o.n_labels_) {}
    Stream& operator=(Stream&& o) noexcept {
        if (this != &o) {
            edgeemo_stream_destroy(s_);
            s_ = std::exchange(o.s_, nullptr);
            n_labels_ = o.n_labels_;
        }
        return *this;
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() { edgeemo_stream_destroy(s_); }

    void accept(const float* pcm, size_t n, int sample_rate) {
        detail::check(edgeemo_stream_accept(s_, pcm, n, sample_rate));
    }
    void accept(const std::vector<float>& pcm, int sample_rate) { accept(pcm.data(), pcm.size(), sample_rate); }
    size_t ready() const noexcept { return edgeemo_stream_ready(s_); }
    /** The oldest result, or nullopt when none is ready. */
    std::optional<WindowResult> pop() {
        std::vector<float> scores(n_labels_);
        edgeemo_window_info info{};
        edgeemo_status st = edgeemo_stream_pop(s_, scores.data(), scores.size(), &info);
        if (st == EDGEEMO_STATUS_NO_RESULT) return std::nullopt;
        detail::check(st);
        return detail::make_window(std::move(scores), info);
    }
    /** Every result ready now. */
    std::vector<WindowResult> pop_all() {
        std::vector<WindowResult> out;
        while (auto w = pop()) out.push_back(std::move(*w));
        return out;
    }
    void flush() { detail::check(edgeemo_stream_flush(s_)); }
    void reset() { detail::check(edgeemo_stream_reset(s_)); }
    uint64_t samples() const {
        uint64_t n = 0;
        detail::check(edgeemo_stream_samples(s_, &n));
        return n;
    }
    edgeemo_timings timings() const {
        edgeemo_timings t{};
        detail::check(edgeemo_stream_timings(s_, &t));
        return t;
    }
    edgeemo_stream* get() noexcept { return s_; }

private:
    friend class Recognizer;
    Stream(edgeemo_stream* s, size_t n_labels) : s_(s), n_labels_(n_labels) {}
    edgeemo_stream* s_ = nullptr;
    size_t n_labels_ = 0;
};

/** A loaded model; const methods are thread-safe. */
class Recognizer {
public:
    explicit Recognizer(const std::string& model_path) : Recognizer(config_for(model_path)) {}
    explicit Recognizer(const Config& config) {
        edgeemo_recognizer_config c = edgeemo_recognizer_default_config();
        c.model_path = config.model_path.c_str();
        c.num_threads = config.num_threads;
        c.provider = config.provider.c_str();
        c.device_id = config.device_id;
        c.tensorrt_cache_dir = config.tensorrt_cache_dir.empty() ? nullptr : config.tensorrt_cache_dir.c_str();
        c.max_batch = config.max_batch;
        c.log_level = config.log_level;
        detail::check(edgeemo_recognizer_create(&c, &r_));
    }
    Recognizer(Recognizer&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    Recognizer& operator=(Recognizer&& o) noexcept {
        if (this != &o) {
            edgeemo_recognizer_destroy(r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    Recognizer(const Recognizer&) = delete;
    Recognizer& operator=(const Recognizer&) = delete;
    ~Recognizer() { edgeemo_recognizer_destroy(r_); }

    int sample_rate() const {
        int v = 0;
        detail::check(edgeemo_recognizer_sample_rate(r_, &v));
        return v;
    }
    size_t window_samples() const { return get_size(edgeemo_recognizer_window_samples); }
    size_t hop_samples() const { return get_size(edgeemo_recognizer_hop_samples); }
    size_t min_samples() const { return get_size(edgeemo_recognizer_min_samples); }
    size_t label_count() const { return get_size(edgeemo_recognizer_label_count); }
    std::string label(size_t i) const {
        const char* s = nullptr;
        detail::check(edgeemo_recognizer_label(r_, i, &s));
        return s;
    }
    std::vector<std::string> labels() const {
        std::vector<std::string> out;
        for (size_t i = 0, n = label_count(); i < n; ++i) out.push_back(label(i));
        return out;
    }
    bool has_valence_arousal() const {
        int v = 0;
        detail::check(edgeemo_recognizer_has_valence_arousal(r_, &v));
        return v != 0;
    }
    /** A metadata value, or nullopt when the model lacks the key. */
    std::optional<std::string> metadata(const std::string& key) const {
        const char* s = nullptr;
        edgeemo_status st = edgeemo_recognizer_metadata(r_, key.c_str(), &s);
        if (st == EDGEEMO_STATUS_INVALID_ARGUMENT && r_ != nullptr) return std::nullopt;
        detail::check(st);
        return std::string(s);
    }
    std::string provider() const {
        const char* s = nullptr;
        detail::check(edgeemo_recognizer_provider(r_, &s));
        return s;
    }
    edgeemo_timings timings() const {
        edgeemo_timings t{};
        detail::check(edgeemo_recognizer_timings(r_, &t));
        return t;
    }

    ClipResult classify(const float* pcm, size_t n, int sample_rate) const {
        ClipResult out;
        out.scores.resize(label_count());
        edgeemo_clip_info info{};
        detail::check(edgeemo_classify(r_, pcm, n, sample_rate, out.scores.data(), out.scores.size(), &info));
        out.label_index = info.label_index;
        out.n_windows = info.n_windows;
        out.duration_s = info.duration_s;
        out.speech_prob = info.speech_prob;
        out.is_speech = info.is_speech != 0;
        if (info.has_valence_arousal) {
            out.valence = info.valence;
            out.arousal = info.arousal;
        }
        return out;
    }
    ClipResult classify(const std::vector<float>& pcm, int sample_rate) const {
        return classify(pcm.data(), pcm.size(), sample_rate);
    }

    /** Every window of a whole clip (same windows as classify). */
    std::vector<WindowResult> classify_windows(const float* pcm, size_t n, int sample_rate) const {
        size_t nw = 0;
        detail::check(edgeemo_clip_window_count(r_, n, &nw));
        const size_t C = label_count();
        std::vector<float> scores(nw * C);
        std::vector<edgeemo_window_info> infos(nw);
        size_t got = 0;
        detail::check(edgeemo_classify_windows(r_, pcm, n, sample_rate, scores.data(), scores.size(), infos.data(),
                                               infos.size(), &got));
        std::vector<WindowResult> out;
        out.reserve(got);
        for (size_t w = 0; w < got; ++w)
            out.push_back(detail::make_window(
                std::vector<float>(scores.begin() + static_cast<std::ptrdiff_t>(w * C),
                                   scores.begin() + static_cast<std::ptrdiff_t>((w + 1) * C)),
                infos[w]));
        return out;
    }
    std::vector<WindowResult> classify_windows(const std::vector<float>& pcm, int sample_rate) const {
        return classify_windows(pcm.data(), pcm.size(), sample_rate);
    }

    Stream create_stream() const {
        edgeemo_stream* s = nullptr;
        detail::check(edgeemo_stream_create(r_, &s));
        return Stream(s, label_count());
    }

    const edgeemo_recognizer* get() const noexcept { return r_; }

private:
    static Config config_for(const std::string& model_path) {
        Config c;
        c.model_path = model_path;
        return c;
    }
    size_t get_size(edgeemo_status (*fn)(const edgeemo_recognizer*, size_t*)) const {
        size_t v = 0;
        detail::check(fn(r_, &v));
        return v;
    }
    edgeemo_recognizer* r_ = nullptr;
};

}  // namespace edgeemo

#endif  // EDGEEMO_HPP
