// Loading an edgeemo model with the ONNX Runtime C API: session, providers, metadata and graph
// checks (docs/model_contract.md), and running a batch of windows.
#include "internal.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

namespace edgeemo_impl {

namespace {

// ---- small RAII helpers over the C API ----------------------------------------------------

struct StatusDeleter {
    void operator()(OrtStatus* s) const { ort().ReleaseStatus(s); }
};
using StatusPtr = std::unique_ptr<OrtStatus, StatusDeleter>;

// Throws Failure(status, context + ORT's message) when `s` is an error.
void check(OrtStatus* s, edgeemo_status status, const std::string& context) {
    if (s == nullptr) return;
    StatusPtr guard(s);
    std::string msg = context + ": " + ort().GetErrorMessage(s);
    fail(status, msg);
}

template <class T, void (*Release)(T*)>
struct OrtDeleter {
    void operator()(T* p) const {
        if (p) Release(p);
    }
};

void release_session_options(OrtSessionOptions* p) { ort().ReleaseSessionOptions(p); }
void release_value(OrtValue* p) { ort().ReleaseValue(p); }
void release_type_info(OrtTypeInfo* p) { ort().ReleaseTypeInfo(p); }
void release_shape_info(OrtTensorTypeAndShapeInfo* p) { ort().ReleaseTensorTypeAndShapeInfo(p); }
void release_metadata(OrtModelMetadata* p) { ort().ReleaseModelMetadata(p); }
void release_cuda_options(OrtCUDAProviderOptionsV2* p) { ort().ReleaseCUDAProviderOptions(p); }
void release_trt_options(OrtTensorRTProviderOptionsV2* p) { ort().ReleaseTensorRTProviderOptions(p); }

using SessionOptionsPtr = std::unique_ptr<OrtSessionOptions, OrtDeleter<OrtSessionOptions, release_session_options>>;
using ValuePtr = std::unique_ptr<OrtValue, OrtDeleter<OrtValue, release_value>>;
using TypeInfoPtr = std::unique_ptr<OrtTypeInfo, OrtDeleter<OrtTypeInfo, release_type_info>>;
using ShapeInfoPtr =
    std::unique_ptr<OrtTensorTypeAndShapeInfo, OrtDeleter<OrtTensorTypeAndShapeInfo, release_shape_info>>;
using MetadataPtr = std::unique_ptr<OrtModelMetadata, OrtDeleter<OrtModelMetadata, release_metadata>>;
using CudaOptionsPtr =
    std::unique_ptr<OrtCUDAProviderOptionsV2, OrtDeleter<OrtCUDAProviderOptionsV2, release_cuda_options>>;
using TrtOptionsPtr =
    std::unique_ptr<OrtTensorRTProviderOptionsV2, OrtDeleter<OrtTensorRTProviderOptionsV2, release_trt_options>>;

// A string allocated by ORT's default allocator.
struct OrtString {
    char* p = nullptr;
    ~OrtString() {
        if (p) {
            OrtAllocator* a = nullptr;
            if (ort().GetAllocatorWithDefaultOptions(&a) == nullptr && a) a->Free(a, p);
        }
    }
};

OrtAllocator* default_allocator() {
    OrtAllocator* a = nullptr;
    check(ort().GetAllocatorWithDefaultOptions(&a), EDGEEMO_STATUS_RUNTIME, "GetAllocatorWithDefaultOptions");
    return a;
}

// ---- logging bridge: ONNX Runtime -> edgeemo's callback -----------------------------------

edgeemo_log_level from_ort_level(OrtLoggingLevel l) {
    switch (l) {
        case ORT_LOGGING_LEVEL_VERBOSE: return EDGEEMO_LOG_DEBUG;
        case ORT_LOGGING_LEVEL_INFO: return EDGEEMO_LOG_INFO;
        case ORT_LOGGING_LEVEL_WARNING: return EDGEEMO_LOG_WARNING;
        default: return EDGEEMO_LOG_ERROR;
    }
}

OrtLoggingLevel to_ort_level(edgeemo_log_level l) {
    switch (l) {
        case EDGEEMO_LOG_DEBUG: return ORT_LOGGING_LEVEL_VERBOSE;
        case EDGEEMO_LOG_INFO: return ORT_LOGGING_LEVEL_INFO;
        case EDGEEMO_LOG_WARNING: return ORT_LOGGING_LEVEL_WARNING;
        case EDGEEMO_LOG_ERROR: return ORT_LOGGING_LEVEL_ERROR;
        default: return ORT_LOGGING_LEVEL_FATAL;
    }
}

void ORT_API_CALL ort_logger(void* /*param*/, OrtLoggingLevel severity, const char* category,
                             const char* /*logid*/, const char* /*code_location*/, const char* message) {
    // Runs on ONNX Runtime's threads: must not throw.
    try {
        std::string text = std::string("onnxruntime");
        if (category && *category) text += std::string(" [") + category + "]";
        text += ": ";
        text += message ? message : "";
        // ORT already filtered by the severity given at env/session creation.
        log_message(EDGEEMO_LOG_DEBUG, from_ort_level(severity), text);
    } catch (...) {
    }
}

// ---- metadata parsing ---------------------------------------------------------------------

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(s);
    while (std::getline(in, item, ',')) out.push_back(trim(item));
    if (!s.empty() && s.back() == ',') out.push_back("");
    return out;
}

[[noreturn]] void metadata_error(const std::string& path, const std::string& what) {
    fail(EDGEEMO_STATUS_MODEL_METADATA,
         "model " + path + ": " + what + "; re-export the model with `edgeemo export` (see docs/model_contract.md)");
}

// Strict integer in [lo, hi]: optional surrounding spaces, digits only.
long long parse_int(const std::string& path, const std::string& key, const std::string& raw, long long lo,
                    long long hi) {
    std::string s = trim(raw);
    bool ok = !s.empty() && s.size() <= 15 &&
              std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok) metadata_error(path, "metadata key '" + key + "' must be an integer, not '" + raw + "'");
    long long v = std::stoll(s);
    if (v < lo || v > hi)
        metadata_error(path, "metadata key '" + key + "' = " + std::to_string(v) + " is out of range [" +
                                 std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

std::string dims_to_string(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) {
        if (i) s += ", ";
        s += d[i] < 0 ? std::string("?") : std::to_string(d[i]);
    }
    return s + "]";
}

struct TensorDesc {
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    std::vector<int64_t> dims;
    bool is_tensor = false;
};

TensorDesc describe(OrtTypeInfo* info) {
    TensorDesc d;
    const OrtTensorTypeAndShapeInfo* t = nullptr;
    check(ort().CastTypeInfoToTensorInfo(info, &t), EDGEEMO_STATUS_RUNTIME, "CastTypeInfoToTensorInfo");
    if (!t) return d;  // not a tensor (sequence, map)
    d.is_tensor = true;
    check(ort().GetTensorElementType(t, &d.type), EDGEEMO_STATUS_RUNTIME, "GetTensorElementType");
    size_t n = 0;
    check(ort().GetDimensionsCount(t, &n), EDGEEMO_STATUS_RUNTIME, "GetDimensionsCount");
    d.dims.resize(n);
    if (n) check(ort().GetDimensions(t, d.dims.data(), n), EDGEEMO_STATUS_RUNTIME, "GetDimensions");
    return d;
}

std::vector<std::string> available_providers() {
    char** list = nullptr;
    int n = 0;
    check(ort().GetAvailableProviders(&list, &n), EDGEEMO_STATUS_RUNTIME, "GetAvailableProviders");
    std::vector<std::string> out(list, list + n);
    StatusPtr(ort().ReleaseAvailableProviders(list, n));
    return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

}  // namespace

const OrtApi& ort() {
    static const OrtApi* api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!api)
        fail(EDGEEMO_STATUS_RUNTIME, std::string("the ONNX Runtime library loaded (") +
                                         OrtGetApiBase()->GetVersionString() +
                                         ") is older than the headers edgeemo was built with (API " +
                                         std::to_string(ORT_API_VERSION) + ")");
    return *api;
}

double now_ms() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

// ---- Timings --------------------------------------------------------------------------------

void Timings::add(double ms, size_t windows) {
    std::lock_guard<std::mutex> lock(mutex_);
    t_.last_run_ms = ms;
    t_.last_run_windows = windows;
    t_.total_run_ms += ms;
    t_.total_runs += 1;
    t_.total_windows += windows;
}

void Timings::set_load_ms(double ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    t_.load_ms = ms;
}

edgeemo_timings Timings::get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return t_;
}

// ---- Model ----------------------------------------------------------------------------------

Model::~Model() {
    if (memory_info_) ort().ReleaseMemoryInfo(memory_info_);
    if (session_) ort().ReleaseSession(session_);
    if (env_) ort().ReleaseEnv(env_);
}

std::shared_ptr<Model> Model::load(const edgeemo_recognizer_config& config) {
    if (!config.model_path || !*config.model_path)
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "config.model_path is NULL or empty");
    if (config.num_threads < 0)
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT,
             "config.num_threads must be >= 0 (0 = ONNX Runtime's default), got " +
                 std::to_string(config.num_threads));
    if (config.max_batch < 0)
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT,
             "config.max_batch must be >= 0 (0 = automatic), got " + std::to_string(config.max_batch));
    if (config.device_id < 0)
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "config.device_id must be >= 0, got " + std::to_string(config.device_id));
    if (config.log_level < EDGEEMO_LOG_DEBUG || config.log_level > EDGEEMO_LOG_NONE)
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "config.log_level out of range: " + std::to_string(config.log_level));
    std::string provider = config.provider ? config.provider : "cpu";
    if (provider != "cpu" && provider != "cuda" && provider != "tensorrt" && provider != "auto")
        fail(EDGEEMO_STATUS_INVALID_ARGUMENT,
             "config.provider must be \"cpu\", \"cuda\", \"tensorrt\" or \"auto\", got \"" + provider + "\"");

    const std::string path = config.model_path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        int err = errno;
        fail(EDGEEMO_STATUS_MODEL_NOT_FOUND, "model file not found: " + path + " (" + std::strerror(err) + ")");
    }
    if (!S_ISREG(st.st_mode)) fail(EDGEEMO_STATUS_MODEL_NOT_FOUND, "model path is not a regular file: " + path);

    std::shared_ptr<Model> m(new Model());
    m->log_level_ = config.log_level;
    const double t0 = now_ms();
    check(ort().CreateEnvWithCustomLogger(ort_logger, nullptr, to_ort_level(config.log_level), "edgeemo", &m->env_),
          EDGEEMO_STATUS_RUNTIME, "cannot create the ONNX Runtime environment");
    m->create_session(config);
    m->max_batch_ = config.max_batch > 0 ? static_cast<size_t>(config.max_batch) : (m->provider_ == "cpu" ? 1 : 8);
    m->timings_.set_load_ms(now_ms() - t0);
    m->read_metadata(path);
    m->check_graph();
    check(ort().CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &m->memory_info_), EDGEEMO_STATUS_RUNTIME,
          "CreateCpuMemoryInfo");

    const ModelInfo& i = m->info_;
    std::string name = i.metadata.count("model_name") ? i.metadata.at("model_name") : "?";
    std::string version = i.metadata.count("model_version") ? i.metadata.at("model_version") : "?";
    log_message(m->log_level_, EDGEEMO_LOG_INFO,
                "loaded " + path + " (" + name + " " + version + ", " + std::to_string(i.labels.size()) +
                    " labels, window " + std::to_string(i.window_samples) + ", hop " + std::to_string(i.hop_samples) +
                    " at " + std::to_string(i.sample_rate) + " Hz, provider " + m->provider_ + ", max_batch " +
                    std::to_string(m->max_batch_) + ") in " +
                    std::to_string(m->timings_.get().load_ms) + " ms");
    return m;
}

void Model::create_session(const edgeemo_recognizer_config& config) {
    const std::string path = config.model_path;
    const std::string asked = config.provider ? config.provider : "cpu";

    auto make_options = [&]() {
        OrtSessionOptions* raw = nullptr;
        check(ort().CreateSessionOptions(&raw), EDGEEMO_STATUS_RUNTIME, "CreateSessionOptions");
        SessionOptionsPtr so(raw);
        check(ort().SetIntraOpNumThreads(raw, config.num_threads), EDGEEMO_STATUS_INVALID_ARGUMENT,
              "SetIntraOpNumThreads");
        check(ort().SetInterOpNumThreads(raw, 1), EDGEEMO_STATUS_RUNTIME, "SetInterOpNumThreads");
        check(ort().SetSessionExecutionMode(raw, ORT_SEQUENTIAL), EDGEEMO_STATUS_RUNTIME, "SetSessionExecutionMode");
        check(ort().SetSessionGraphOptimizationLevel(raw, ORT_ENABLE_ALL), EDGEEMO_STATUS_RUNTIME,
              "SetSessionGraphOptimizationLevel");
        check(ort().SetSessionLogSeverityLevel(raw, static_cast<int>(to_ort_level(config.log_level))),
              EDGEEMO_STATUS_RUNTIME, "SetSessionLogSeverityLevel");
        check(ort().SetSessionLogId(raw, "edgeemo"), EDGEEMO_STATUS_RUNTIME, "SetSessionLogId");
        // No CPU memory arena: an arena keeps its high-water mark for the session's lifetime. Measured
        // on the student architecture (docs/cpp.md): -1.3 MB peak RSS at batch 1, -11 MB at batch 8,
        // and within 3 % of the arena's per-window latency.
        check(ort().DisableCpuMemArena(raw), EDGEEMO_STATUS_RUNTIME, "DisableCpuMemArena");
        return so;
    };

    const std::string dev = std::to_string(config.device_id);
    auto append_cuda = [&](OrtSessionOptions* so) {
        OrtCUDAProviderOptionsV2* raw = nullptr;
        check(ort().CreateCUDAProviderOptions(&raw), EDGEEMO_STATUS_PROVIDER, "CUDA provider");
        CudaOptionsPtr opts(raw);
        const char* keys[] = {"device_id"};
        const char* values[] = {dev.c_str()};
        check(ort().UpdateCUDAProviderOptions(raw, keys, values, 1), EDGEEMO_STATUS_PROVIDER, "CUDA provider options");
        check(ort().SessionOptionsAppendExecutionProvider_CUDA_V2(so, raw), EDGEEMO_STATUS_PROVIDER,
              "cannot enable the CUDA provider");
    };
    auto append_trt = [&](OrtSessionOptions* so) {
        OrtTensorRTProviderOptionsV2* raw = nullptr;
        check(ort().CreateTensorRTProviderOptions(&raw), EDGEEMO_STATUS_PROVIDER, "TensorRT provider");
        TrtOptionsPtr opts(raw);
        std::vector<const char*> keys = {"device_id"};
        std::vector<const char*> values = {dev.c_str()};
        if (config.tensorrt_cache_dir && *config.tensorrt_cache_dir) {
            keys.push_back("trt_engine_cache_enable");
            values.push_back("1");
            keys.push_back("trt_engine_cache_path");
            values.push_back(config.tensorrt_cache_dir);
            keys.push_back("trt_timing_cache_enable");
            values.push_back("1");
            keys.push_back("trt_timing_cache_path");
            values.push_back(config.tensorrt_cache_dir);
        }
        check(ort().UpdateTensorRTProviderOptions(raw, keys.data(), values.data(), keys.size()),
              EDGEEMO_STATUS_PROVIDER, "TensorRT provider options");
        check(ort().SessionOptionsAppendExecutionProvider_TensorRT_V2(so, raw), EDGEEMO_STATUS_PROVIDER,
              "cannot enable the TensorRT provider");
    };

    const std::vector<std::string> avail = available_providers();
    auto has = [&](const char* p) { return std::find(avail.begin(), avail.end(), p) != avail.end(); };
    auto create = [&](OrtSessionOptions* so) {
        OrtSession* s = nullptr;
        OrtStatus* st = ort().CreateSession(env_, path.c_str(), so, &s);
        if (st) {
            StatusPtr guard(st);
            std::string msg = ort().GetErrorMessage(st);
            return std::make_pair(static_cast<OrtSession*>(nullptr), msg);
        }
        return std::make_pair(s, std::string());
    };

    // Candidate chains, most preferred first. An explicit provider is tried alone and fails loudly.
    struct Chain {
        std::string name;
        bool trt, cuda;
    };
    std::vector<Chain> chains;
    if (asked == "tensorrt" || asked == "auto") chains.push_back({"tensorrt", true, true});
    if (asked == "cuda" || asked == "auto") chains.push_back({"cuda", false, true});
    if (asked == "cpu" || asked == "auto") chains.push_back({"cpu", false, false});

    for (const Chain& c : chains) {
        const bool is_last = &c == &chains.back();
        try {
            if (c.trt && !has("TensorrtExecutionProvider"))
                fail(EDGEEMO_STATUS_PROVIDER, "provider \"tensorrt\" asked for, but this ONNX Runtime build (" +
                                                  std::string(OrtGetApiBase()->GetVersionString()) +
                                                  ") has only: " + join(avail, ", "));
            if (c.cuda && !has("CUDAExecutionProvider"))
                fail(EDGEEMO_STATUS_PROVIDER, "provider \"" + c.name + "\" needs CUDAExecutionProvider, but this ONNX Runtime build (" +
                                                  std::string(OrtGetApiBase()->GetVersionString()) +
                                                  ") has only: " + join(avail, ", ") +
                                                  " (use an onnxruntime-gpu build, or provider \"cpu\"/\"auto\")");
            SessionOptionsPtr so = make_options();
            if (c.trt) append_trt(so.get());
            if (c.cuda) append_cuda(so.get());
            auto [session, msg] = create(so.get());
            if (!session) {
                if (c.name == "cpu" || asked != "auto")
                    fail(EDGEEMO_STATUS_MODEL_LOAD, "cannot load model " + path + " (provider " + c.name + "): " + msg);
                fail(EDGEEMO_STATUS_PROVIDER, "provider " + c.name + ": session creation failed: " + msg);
            }
            session_ = session;
            provider_ = c.name;
            return;
        } catch (const Failure& f) {
            if (asked != "auto" || is_last || f.status != EDGEEMO_STATUS_PROVIDER) throw;
            log_message(log_level_, EDGEEMO_LOG_WARNING, f.message + "; falling back");
        }
    }
    fail(EDGEEMO_STATUS_INTERNAL, "no provider chain for \"" + asked + "\"");
}

void Model::read_metadata(const std::string& path) {
    OrtModelMetadata* raw = nullptr;
    check(ort().SessionGetModelMetadata(session_, &raw), EDGEEMO_STATUS_MODEL_LOAD, "cannot read metadata of " + path);
    MetadataPtr meta(raw);
    OrtAllocator* alloc = default_allocator();

    // Every custom key, for edgeemo_recognizer_metadata.
    char** keys = nullptr;
    int64_t n_keys = 0;
    check(ort().ModelMetadataGetCustomMetadataMapKeys(raw, alloc, &keys, &n_keys), EDGEEMO_STATUS_MODEL_LOAD,
          "cannot list metadata keys of " + path);
    std::vector<std::string> key_names;
    for (int64_t i = 0; i < n_keys; ++i) {
        key_names.emplace_back(keys[i]);
        alloc->Free(alloc, keys[i]);
    }
    if (keys) alloc->Free(alloc, keys);
    for (const std::string& k : key_names) {
        OrtString v;
        check(ort().ModelMetadataLookupCustomMetadataMap(raw, alloc, k.c_str(), &v.p), EDGEEMO_STATUS_MODEL_LOAD,
              "cannot read metadata key '" + k + "' of " + path);
        if (v.p) info_.metadata[k] = v.p;
    }

    // Same rules and wording as the Python SDK (sdk/model.py): name every missing key at once.
    static const char* const kRequired[] = {"edgeemo_format", "labels",        "sample_rate",   "window_samples",
                                            "hop_samples",    "heads",         "model_name",    "model_version",
                                            "training_data",  "license",       "min_samples"};
    if (key_names.empty()) metadata_error(path, "it has no edgeemo metadata (metadata_props is empty)");
    std::string missing;
    for (const char* key : kRequired) {
        OrtString v;
        check(ort().ModelMetadataLookupCustomMetadataMap(raw, alloc, key, &v.p), EDGEEMO_STATUS_MODEL_LOAD,
              std::string("cannot read metadata key '") + key + "' of " + path);
        if (!v.p) missing += (missing.empty() ? "'" : ", '") + std::string(key) + "'";
    }
    if (!missing.empty()) metadata_error(path, "required metadata key(s) missing: " + missing);
    const auto& md = info_.metadata;

    // Contract version first: a file of another major version may use other keys.
    const std::string format = trim(md.at("edgeemo_format"));
    const std::string major = format.substr(0, format.find('.'));
    if (major.empty() || !std::all_of(major.begin(), major.end(), [](char c) { return c >= '0' && c <= '9'; }))
        metadata_error(path, "metadata key 'edgeemo_format' must be a version like '1', not '" + format + "'");
    if (major != "1")
        fail(EDGEEMO_STATUS_MODEL_METADATA,
             "model " + path + ": metadata key 'edgeemo_format' is '" + format +
                 "' but this edgeemo reads format 1.x; upgrade edgeemo or re-export the model with a matching "
                 "`edgeemo export`");

    auto list_key = [&](const char* key) {
        std::vector<std::string> items = split_list(md.at(key));
        std::set<std::string> seen;
        for (const std::string& l : items)
            if (l.empty())
                metadata_error(path, std::string("metadata key '") + key + "' must be a comma-separated list, not '" +
                                         md.at(key) + "'");
        for (const std::string& l : items)
            if (!seen.insert(l).second)
                metadata_error(path, std::string("metadata key '") + key + "' has duplicate entries: '" + md.at(key) + "'");
        return items;
    };
    const long long sr = parse_int(path, "sample_rate", md.at("sample_rate"), 8000, 192000);
    const long long window = parse_int(path, "window_samples", md.at("window_samples"), 1, 1LL << 30);
    const long long hop = parse_int(path, "hop_samples", md.at("hop_samples"), 1, window);
    const long long min = parse_int(path, "min_samples", md.at("min_samples"), 1, window);
    info_.sample_rate = static_cast<int>(sr);
    info_.window_samples = static_cast<size_t>(window);
    info_.hop_samples = static_cast<size_t>(hop);
    info_.min_samples = static_cast<size_t>(min);

    bool categories = false;
    for (const std::string& h : list_key("heads")) {
        if (h == "categories")
            categories = true;
        else if (h == "valence_arousal")
            info_.has_valence_arousal = true;
        else
            metadata_error(path, "metadata key 'heads' names an unknown head '" + h +
                                     "' (known: categories, valence_arousal)");
    }
    if (!categories) metadata_error(path, "metadata key 'heads' must include 'categories', not '" + md.at("heads") + "'");
    info_.labels = list_key("labels");
    path_ = path;
}

void Model::check_graph() {
    const std::string& path = path_;
    auto err = [&](const std::string& what) { metadata_error(path, what); };
    OrtAllocator* alloc = default_allocator();

    size_t n_in = 0, n_out = 0;
    check(ort().SessionGetInputCount(session_, &n_in), EDGEEMO_STATUS_RUNTIME, "SessionGetInputCount");
    check(ort().SessionGetOutputCount(session_, &n_out), EDGEEMO_STATUS_RUNTIME, "SessionGetOutputCount");
    std::vector<std::string> in_names, out_names;
    for (size_t i = 0; i < n_in; ++i) {
        OrtString s;
        check(ort().SessionGetInputName(session_, i, alloc, &s.p), EDGEEMO_STATUS_RUNTIME, "SessionGetInputName");
        in_names.emplace_back(s.p);
    }
    for (size_t i = 0; i < n_out; ++i) {
        OrtString s;
        check(ort().SessionGetOutputName(session_, i, alloc, &s.p), EDGEEMO_STATUS_RUNTIME, "SessionGetOutputName");
        out_names.emplace_back(s.p);
    }
    auto index_of = [](const std::vector<std::string>& v, const std::string& name) -> long {
        auto it = std::find(v.begin(), v.end(), name);
        return it == v.end() ? -1 : static_cast<long>(it - v.begin());
    };

    // Input: exactly 'audio', float32 [batch, window_samples] with a fixed width.
    const long audio = index_of(in_names, "audio");
    if (audio < 0) err("the graph has no input named 'audio' (inputs: " + join(in_names, ", ") + ")");
    if (n_in != 1)
        err("the graph has inputs " + join(in_names, ", ") + " but the contract allows only 'audio'");
    TensorDesc in;
    {
        OrtTypeInfo* ti = nullptr;
        check(ort().SessionGetInputTypeInfo(session_, 0, &ti), EDGEEMO_STATUS_RUNTIME, "SessionGetInputTypeInfo");
        TypeInfoPtr g(ti);
        in = describe(ti);
    }
    if (!in.is_tensor || in.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || in.dims.size() != 2)
        err("input 'audio' must be float32 [batch, window_samples], not " + dims_to_string(in.dims));
    if (in.dims[1] < 0) err("input 'audio' must have a fixed width (window_samples), not a dynamic one");
    if (in.dims[1] != static_cast<int64_t>(info_.window_samples))
        err("metadata key 'window_samples' = " + std::to_string(info_.window_samples) + " but the 'audio' input is " +
            std::to_string(in.dims[1]) + " samples wide");

    // Outputs: one per head, float32 [batch, width].
    auto output = [&](const std::string& head, const std::string& name) {
        const long idx = index_of(out_names, name);
        if (idx < 0)
            err("metadata key 'heads' lists '" + head + "' but the graph has no output '" + name + "' (outputs: " +
                join(out_names, ", ") + ")");
        OrtTypeInfo* ti = nullptr;
        check(ort().SessionGetOutputTypeInfo(session_, static_cast<size_t>(idx), &ti), EDGEEMO_STATUS_RUNTIME,
              "SessionGetOutputTypeInfo");
        TypeInfoPtr g(ti);
        TensorDesc d = describe(ti);
        if (!d.is_tensor || d.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || d.dims.size() != 2)
            err("output '" + name + "' must be float32 [batch, n], not " + dims_to_string(d.dims));
        return d.dims[1];
    };
    const int64_t probs_w = output("categories", "probs");
    const size_t n = info_.labels.size();
    if (probs_w >= 0 && probs_w != static_cast<int64_t>(n))
        err("metadata key 'labels' lists " + std::to_string(n) + " labels but output 'probs' is " +
            std::to_string(probs_w) + " wide");
    if (info_.has_valence_arousal) {
        const int64_t va_w = output("valence_arousal", "valence_arousal");
        if (va_w >= 0 && va_w != 2) err("output 'valence_arousal' must be 2 wide, not " + std::to_string(va_w));
    }
}

double Model::run(const float* input, size_t n, float* probs, float* va) const {
    const ModelInfo& i = info_;
    const size_t C = i.labels.size();
    const int64_t shape[2] = {static_cast<int64_t>(n), static_cast<int64_t>(i.window_samples)};
    OrtValue* in_raw = nullptr;
    check(ort().CreateTensorWithDataAsOrtValue(memory_info_, const_cast<float*>(input),
                                               n * i.window_samples * sizeof(float), shape, 2,
                                               ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in_raw),
          EDGEEMO_STATUS_RUNTIME, "cannot wrap the audio as a tensor");
    ValuePtr in(in_raw);
    const char* in_names[] = {"audio"};
    const char* out_names[] = {"probs", "valence_arousal"};
    const size_t n_out = i.has_valence_arousal ? 2 : 1;
    OrtValue* outs[2] = {nullptr, nullptr};
    const double t0 = now_ms();
    OrtStatus* st = ort().Run(session_, nullptr, in_names, &in_raw, 1, out_names, n_out, outs);
    const double ms = now_ms() - t0;
    ValuePtr out0(outs[0]), out1(outs[1]);
    check(st, EDGEEMO_STATUS_RUNTIME, "model run failed");

    auto copy_out = [&](OrtValue* v, const char* name, size_t width, float* dst) {
        OrtTensorTypeAndShapeInfo* si = nullptr;
        check(ort().GetTensorTypeAndShape(v, &si), EDGEEMO_STATUS_RUNTIME, "GetTensorTypeAndShape");
        ShapeInfoPtr g(si);
        size_t nd = 0;
        check(ort().GetDimensionsCount(si, &nd), EDGEEMO_STATUS_RUNTIME, "GetDimensionsCount");
        std::vector<int64_t> d(nd);
        if (nd) check(ort().GetDimensions(si, d.data(), nd), EDGEEMO_STATUS_RUNTIME, "GetDimensions");
        ONNXTensorElementDataType type{};
        check(ort().GetTensorElementType(si, &type), EDGEEMO_STATUS_RUNTIME, "GetTensorElementType");
        if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || nd != 2 || d[0] != static_cast<int64_t>(n) ||
            d[1] != static_cast<int64_t>(width))
            fail(EDGEEMO_STATUS_RUNTIME, std::string("model output '") + name + "' has shape " + dims_to_string(d) +
                                             ", expected [" + std::to_string(n) + ", " + std::to_string(width) + "]");
        void* data = nullptr;
        check(ort().GetTensorMutableData(v, &data), EDGEEMO_STATUS_RUNTIME, "GetTensorMutableData");
        std::memcpy(dst, data, n * width * sizeof(float));
        for (size_t k = 0; k < n * width; ++k)
            if (!std::isfinite(dst[k]))
                fail(EDGEEMO_STATUS_RUNTIME, std::string("model produced non-finite scores (NaN or Inf in its '") +
                                                 name + "' output): the model file is broken; re-export it with "
                                                 "`edgeemo export` or use another model");
    };
    copy_out(out0.get(), "probs", C, probs);
    if (i.has_valence_arousal && va) copy_out(out1.get(), "valence_arousal", 2, va);
    timings_.add(ms, n);
    return ms;
}

std::vector<size_t> clip_window_starts(size_t n, const ModelInfo& info) {
    std::vector<size_t> starts;
    const size_t w = info.window_samples, hop = info.hop_samples;
    if (n == 0 || n < info.min_samples) return starts;
    if (n <= w) {
        starts.push_back(0);
        return starts;
    }
    for (size_t s = 0; s + w <= n; s += hop) starts.push_back(s);
    if (starts.back() + w < n) starts.push_back(n - w);
    return starts;
}

}  // namespace edgeemo_impl
