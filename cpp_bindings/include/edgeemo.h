/*
 * edgeemo.h - C API of edgeemo, edge speech emotion recognition.
 *
 * Plain C (C99 and later, also valid C++). One recognizer per model file, any number of streams
 * per recognizer. Every function returns an edgeemo_status (or a value documented otherwise), never
 * throws, never exits or aborts. On failure, edgeemo_last_error() returns a message that says what
 * went wrong (per thread).
 *
 * Threading rule: an edgeemo_recognizer is immutable after creation and may be shared by any number
 * of threads (classify and stream creation are thread-safe). An edgeemo_stream has mutable state:
 * use each stream from one thread at a time. A stream keeps its recognizer's model alive, so the
 * two may be destroyed in either order.
 *
 * Audio is mono float32 PCM in [-1, 1] at the model's sample rate (edgeemo_recognizer_sample_rate).
 * Other rates are refused with EDGEEMO_STATUS_INVALID_SAMPLE_RATE: resample before calling.
 * As in the Python SDK, samples beyond [-1, 1] are clipped, but a peak above 4.0 (integer PCM
 * stored as floats) and NaN/Inf are refused with EDGEEMO_STATUS_INVALID_AUDIO.
 *
 * See docs/cpp.md for the build recipe and the window rules (docs/model_contract.md).
 */
#ifndef EDGEEMO_H
#define EDGEEMO_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(EDGEEMO_BUILDING_LIBRARY)
#    define EDGEEMO_API __declspec(dllexport)
#  else
#    define EDGEEMO_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define EDGEEMO_API __attribute__((visibility("default")))
#else
#  define EDGEEMO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------------------------- */

/** Result of every fallible call. Values are stable (part of the ABI). */
typedef enum edgeemo_status {
    EDGEEMO_STATUS_OK = 0,
    EDGEEMO_STATUS_INVALID_ARGUMENT = 1,    /**< null pointer, bad size, bad config value */
    EDGEEMO_STATUS_INVALID_SAMPLE_RATE = 2, /**< audio not at the model's sample rate */
    EDGEEMO_STATUS_INVALID_AUDIO = 3,       /**< NaN/Inf in the samples, or a peak above 4.0 */
    EDGEEMO_STATUS_AUDIO_TOO_SHORT = 4,     /**< clip empty or shorter than min_samples */
    EDGEEMO_STATUS_MODEL_NOT_FOUND = 5,     /**< model file missing or not a regular file */
    EDGEEMO_STATUS_MODEL_LOAD = 6,          /**< ONNX Runtime cannot load the file (corrupt, not ONNX) */
    EDGEEMO_STATUS_MODEL_METADATA = 7,      /**< metadata missing/invalid or inconsistent with the graph */
    EDGEEMO_STATUS_PROVIDER = 8,            /**< requested execution provider unavailable */
    EDGEEMO_STATUS_RUNTIME = 9,             /**< ONNX Runtime failed while running the model */
    EDGEEMO_STATUS_NO_RESULT = 10,          /**< edgeemo_stream_pop: no window ready */
    EDGEEMO_STATUS_BUFFER_TOO_SMALL = 11,   /**< output array shorter than needed */
    EDGEEMO_STATUS_INVALID_STATE = 12,      /**< e.g. accept after flush without reset */
    EDGEEMO_STATUS_OUT_OF_MEMORY = 13,
    EDGEEMO_STATUS_INTERNAL = 14            /**< a bug in edgeemo: please report it */
} edgeemo_status;

/** Short constant name of a status ("EDGEEMO_STATUS_OK", ...); never NULL. */
EDGEEMO_API const char* edgeemo_status_string(edgeemo_status status);

/**
 * Detailed message of the last failed call on this thread ("" if none). Valid until the next
 * edgeemo call on the same thread. Successful calls do not clear it.
 */
EDGEEMO_API const char* edgeemo_last_error(void);

/** Library version, e.g. "0.1.0" (the same as the Python package's). */
EDGEEMO_API const char* edgeemo_version(void);

/** Version of the ONNX Runtime library loaded at run time, e.g. "1.32.0". */
EDGEEMO_API const char* edgeemo_onnxruntime_version(void);

/* ---- logging ----------------------------------------------------------------------------- */

typedef enum edgeemo_log_level {
    EDGEEMO_LOG_DEBUG = 0,
    EDGEEMO_LOG_INFO = 1,
    EDGEEMO_LOG_WARNING = 2,
    EDGEEMO_LOG_ERROR = 3,
    EDGEEMO_LOG_NONE = 4
} edgeemo_log_level;

/** Receives edgeemo's and ONNX Runtime's messages; may be called from any thread. */
typedef void (*edgeemo_log_callback)(edgeemo_log_level level, const char* message, void* user_data);

/**
 * Sets the process-wide log callback (NULL restores the default: write to stderr). Messages below
 * a recognizer's config.log_level are not delivered. Set it before creating recognizers; the
 * callback must stay valid until it is replaced.
 */
EDGEEMO_API void edgeemo_set_log_callback(edgeemo_log_callback callback, void* user_data);

/* ---- recognizer ---------------------------------------------------------------------------- */

typedef struct edgeemo_recognizer edgeemo_recognizer; /* opaque, shareable between threads */
typedef struct edgeemo_stream edgeemo_stream;         /* opaque, one thread at a time */

typedef struct edgeemo_recognizer_config {
    const char* model_path;  /**< ONNX model file following docs/model_contract.md (required) */
    int num_threads;         /**< intra-op threads; 0 = ONNX Runtime's default; default 1 */
    const char* provider;    /**< "cpu" (default), "cuda", "tensorrt" or "auto" (TensorRT -> CUDA -> CPU) */
    int device_id;           /**< GPU index for cuda/tensorrt; default 0 */
    const char* tensorrt_cache_dir; /**< engine cache folder for "tensorrt"/"auto"; NULL = no cache */
    int max_batch;           /**< windows per model run in classify; 0 (default) = 1 on the CPU (faster
                                  per window and smaller there: activations stay in cache), 8 on GPUs */
    edgeemo_log_level log_level; /**< least severe message delivered; default EDGEEMO_LOG_WARNING */
} edgeemo_recognizer_config;

/** The default configuration (model_path NULL: set it). */
EDGEEMO_API edgeemo_recognizer_config edgeemo_recognizer_default_config(void);

/**
 * Loads a model and checks its metadata against the graph. On success *out is a new recognizer
 * (free it with edgeemo_recognizer_destroy); on failure *out is NULL.
 * Statuses: INVALID_ARGUMENT, MODEL_NOT_FOUND, MODEL_LOAD, MODEL_METADATA, PROVIDER, OUT_OF_MEMORY.
 */
EDGEEMO_API edgeemo_status edgeemo_recognizer_create(const edgeemo_recognizer_config* config,
                                                     edgeemo_recognizer** out);

/** Frees a recognizer (NULL is accepted and ignored). Streams created from it stay usable. */
EDGEEMO_API void edgeemo_recognizer_destroy(edgeemo_recognizer* recognizer);

/* Model properties, read from the model's metadata. */
EDGEEMO_API edgeemo_status edgeemo_recognizer_sample_rate(const edgeemo_recognizer* r, int* out);
EDGEEMO_API edgeemo_status edgeemo_recognizer_window_samples(const edgeemo_recognizer* r, size_t* out);
EDGEEMO_API edgeemo_status edgeemo_recognizer_hop_samples(const edgeemo_recognizer* r, size_t* out);
EDGEEMO_API edgeemo_status edgeemo_recognizer_min_samples(const edgeemo_recognizer* r, size_t* out);
EDGEEMO_API edgeemo_status edgeemo_recognizer_label_count(const edgeemo_recognizer* r, size_t* out);
/** Label i (0 <= i < label count); the string lives as long as the recognizer. */
EDGEEMO_API edgeemo_status edgeemo_recognizer_label(const edgeemo_recognizer* r, size_t i, const char** out);
/** *out = 1 if the model has the valence/arousal head, else 0. */
EDGEEMO_API edgeemo_status edgeemo_recognizer_has_valence_arousal(const edgeemo_recognizer* r, int* out);
/**
 * Any metadata value by key ("model_name", "model_version", "license", "training_data", ...).
 * A missing key gives INVALID_ARGUMENT and *out = NULL. The string lives as long as the recognizer.
 */
EDGEEMO_API edgeemo_status edgeemo_recognizer_metadata(const edgeemo_recognizer* r, const char* key,
                                                       const char** out);
/** The execution provider the session actually uses ("cpu", "cuda" or "tensorrt"). */
EDGEEMO_API edgeemo_status edgeemo_recognizer_provider(const edgeemo_recognizer* r, const char** out);

/* ---- results and timings ------------------------------------------------------------------- */

/**
 * Speech detection (the Python SDK's edgeemo.vad.SpeechDetector, same rule and constants; docs/api.md
 * "No speech and uncertain results"): every 30 ms frame is judged speech or not; a window or clip is
 * speech when at least EDGEEMO_MIN_SPEECH_RATIO of its frames are. A result that is not speech must
 * not be shown as an emotion: the Python SDK and edgeemo-classify label it "no_speech" (confidence
 * 0); speech whose top score is below a chosen threshold is labelled "uncertain". The scores are
 * the model's (calibrated, when the model file carries a temperature) probabilities either way.
 */
#define EDGEEMO_MIN_SPEECH_RATIO 0.1
#define EDGEEMO_LABEL_NO_SPEECH "no_speech"
#define EDGEEMO_LABEL_UNCERTAIN "uncertain"

/**
 * Low level: the speech detector's probability of every complete 30 ms frame of pcm (mono, any
 * rate in [8000, 192000]); a frame is speech when its probability is >= 0.5. Writes
 * min(n_probs, frames) values; *n_frames_out (optional) receives the frame count
 * (n_samples / round(0.03 * sample_rate)). probs may be NULL with n_probs 0 to ask the count.
 */
EDGEEMO_API edgeemo_status edgeemo_speech_frames(const float* pcm, size_t n_samples, int sample_rate,
                                                 double* probs, size_t n_probs, size_t* n_frames_out);

/** One window's place in the audio and its optional valence/arousal. */
typedef struct edgeemo_window_info {
    uint64_t start_sample;   /**< first sample of the window (0-based, in the clip or stream) */
    uint64_t end_sample;     /**< one past the last real sample (a zero-padded window ends at the audio's end) */
    double start_s;          /**< start_sample / sample_rate */
    double end_s;            /**< end_sample / sample_rate */
    size_t label_index;      /**< argmax of the scores */
    int has_valence_arousal; /**< 1 if valence/arousal below are set */
    float valence;           /**< in [-1, 1] */
    float arousal;           /**< in [-1, 1] */
    float speech_prob;       /**< fraction of the window's 30 ms frames the speech detector judged speech */
    int is_speech;           /**< 1 if speech_prob >= EDGEEMO_MIN_SPEECH_RATIO; 0: not speech (report "no_speech") */
} edgeemo_window_info;

/** Summary of a whole-clip classification. */
typedef struct edgeemo_clip_info {
    size_t n_windows;        /**< windows averaged */
    size_t label_index;      /**< argmax of the mean scores */
    double duration_s;       /**< clip length in seconds */
    int has_valence_arousal;
    float valence;           /**< mean over windows */
    float arousal;           /**< mean over windows */
    float speech_prob;       /**< fraction of the clip's 30 ms frames judged speech */
    int is_speech;           /**< 1 if speech_prob >= EDGEEMO_MIN_SPEECH_RATIO; 0: not speech (report "no_speech") */
} edgeemo_clip_info;

typedef struct edgeemo_timings {
    double load_ms;          /**< session creation (recognizer only; 0 for streams) */
    double last_run_ms;      /**< wall time of the last model run (one batch) */
    size_t last_run_windows; /**< windows in that run */
    double total_run_ms;     /**< all model runs so far */
    uint64_t total_runs;
    uint64_t total_windows;
} edgeemo_timings;

/** Timings of every model run made through this recognizer (classify and its streams). */
EDGEEMO_API edgeemo_status edgeemo_recognizer_timings(const edgeemo_recognizer* r, edgeemo_timings* out);

/* ---- whole clips --------------------------------------------------------------------------- */

/** How many windows classify uses for a clip of n_samples (0 if the clip is too short). */
EDGEEMO_API edgeemo_status edgeemo_clip_window_count(const edgeemo_recognizer* r, size_t n_samples,
                                                     size_t* out);

/**
 * Classifies a whole clip: windows of window_samples every hop_samples, the last one aligned to the
 * clip's end; a clip shorter than a window but at least min_samples long is zero-padded. Writes the
 * mean window probabilities to scores[0 .. label_count) (n_scores >= label count) and, if info is
 * not NULL, a summary. Statuses: INVALID_ARGUMENT, INVALID_SAMPLE_RATE, INVALID_AUDIO,
 * AUDIO_TOO_SHORT, BUFFER_TOO_SMALL, RUNTIME.
 */
EDGEEMO_API edgeemo_status edgeemo_classify(const edgeemo_recognizer* r, const float* pcm, size_t n_samples,
                                            int sample_rate, float* scores, size_t n_scores,
                                            edgeemo_clip_info* info);

/**
 * Like edgeemo_classify, but writes every window: scores is n_windows x label_count (row-major,
 * n_scores >= n_windows * label_count) and infos has n_infos >= n_windows entries (infos may be
 * NULL with n_infos 0). n_windows comes from edgeemo_clip_window_count; *n_windows_out (optional)
 * receives it.
 */
EDGEEMO_API edgeemo_status edgeemo_classify_windows(const edgeemo_recognizer* r, const float* pcm,
                                                    size_t n_samples, int sample_rate, float* scores,
                                                    size_t n_scores, edgeemo_window_info* infos,
                                                    size_t n_infos, size_t* n_windows_out);

/* ---- streams ------------------------------------------------------------------------------- */

/**
 * Creates a stream: accept audio in chunks of any size, pop one result per hop once a full window
 * has arrived. Results do not depend on how the audio is chunked.
 */
EDGEEMO_API edgeemo_status edgeemo_stream_create(const edgeemo_recognizer* r, edgeemo_stream** out);

/** Frees a stream (NULL is accepted and ignored). */
EDGEEMO_API void edgeemo_stream_destroy(edgeemo_stream* stream);

/**
 * Appends n samples (n may be 0). Runs the model for every window this chunk completes, so the
 * call may take a window's inference time. Statuses: INVALID_ARGUMENT (pcm NULL with n > 0),
 * INVALID_SAMPLE_RATE, INVALID_AUDIO (nothing of the chunk is kept), INVALID_STATE (after flush),
 * RUNTIME.
 */
EDGEEMO_API edgeemo_status edgeemo_stream_accept(edgeemo_stream* stream, const float* pcm, size_t n,
                                                 int sample_rate);

/** Number of results waiting to be popped (0 on a NULL stream). */
EDGEEMO_API size_t edgeemo_stream_ready(const edgeemo_stream* stream);

/**
 * Pops the oldest result: probabilities into scores[0 .. label_count) and, if info is not NULL, its
 * place and valence/arousal. NO_RESULT when nothing is ready (not an error worth logging).
 */
EDGEEMO_API edgeemo_status edgeemo_stream_pop(edgeemo_stream* stream, float* scores, size_t n_scores,
                                              edgeemo_window_info* info);

/**
 * Ends the stream: if at least min_samples samples (and at least one) arrived from the start of
 * the next window on (the next hop), runs that partial window zero-padded; its end_sample is the
 * number of samples accepted. This is the Python SDK's Stream.flush rule. (Whole-clip classify
 * instead aligns its last window to the clip's end.) After flush, accept fails with INVALID_STATE
 * until edgeemo_stream_reset; results already queued stay poppable.
 */
EDGEEMO_API edgeemo_status edgeemo_stream_flush(edgeemo_stream* stream);

/** Forgets all audio and pending results; time restarts at 0. */
EDGEEMO_API edgeemo_status edgeemo_stream_reset(edgeemo_stream* stream);

/** Samples accepted since creation or the last reset. */
EDGEEMO_API edgeemo_status edgeemo_stream_samples(const edgeemo_stream* stream, uint64_t* out);

/** Timings of this stream's model runs (load_ms is 0). */
EDGEEMO_API edgeemo_status edgeemo_stream_timings(const edgeemo_stream* stream, edgeemo_timings* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EDGEEMO_H */
