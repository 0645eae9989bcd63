/*
 * rss_stages MODEL [WINDOW_SAMPLES]: where the memory of an ONNX Runtime process goes, without
 * edgeemo. Prints VmRSS, RssFile (library pages) and RssAnon (heap) from /proc/self/status after
 * each stage: process start (libonnxruntime.so loaded), CreateEnv, CreateSession (the session
 * options libedgeemo uses: 1 intra-op thread, all optimisations, no CPU arena) and one run of one
 * window of zeros (default 48000 samples). Used for the table in docs/cpp.md; not a ctest.
 */
#include <onnxruntime_c_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const OrtApi* api;

static double status_mb(const char* key) {
    char line[256];
    double kb = -1.0;
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return -1.0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) kb = atof(line + strlen(key) + 1);
    fclose(f);
    return kb / 1024.0;
}

static void stage(const char* name) {
    printf("%-16s VmRSS %5.1f MB  RssFile %5.1f MB  RssAnon %5.1f MB  (VmHWM %5.1f MB)\n", name,
           status_mb("VmRSS"), status_mb("RssFile"), status_mb("RssAnon"), status_mb("VmHWM"));
}

static void check(OrtStatus* st, const char* what) {
    if (st) {
        fprintf(stderr, "rss_stages: %s: %s\n", what, api->GetErrorMessage(st));
        api->ReleaseStatus(st);
        exit(1);
    }
}

int main(int argc, char** argv) {
    OrtEnv* env = NULL;
    OrtSessionOptions* so = NULL;
    OrtSession* session = NULL;
    OrtMemoryInfo* mem = NULL;
    OrtValue* input = NULL;
    OrtValue* outputs[1] = {NULL};
    const char* in_names[] = {"audio"};
    const char* out_names[] = {"probs"};
    long window = argc > 2 ? atol(argv[2]) : 48000;
    float* audio;
    int64_t shape[2];

    if (argc < 2 || window <= 0) {
        fprintf(stderr, "usage: rss_stages MODEL [WINDOW_SAMPLES]\n");
        return 2;
    }
    api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    stage("start");
    check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "rss_stages", &env), "CreateEnv");
    stage("CreateEnv");
    check(api->CreateSessionOptions(&so), "CreateSessionOptions");
    check(api->SetIntraOpNumThreads(so, 1), "SetIntraOpNumThreads");
    check(api->SetInterOpNumThreads(so, 1), "SetInterOpNumThreads");
    check(api->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
    check(api->DisableCpuMemArena(so), "DisableCpuMemArena");
    check(api->CreateSession(env, argv[1], so, &session), "CreateSession");
    stage("CreateSession");
    audio = calloc((size_t)window, sizeof(float));
    shape[0] = 1;
    shape[1] = window;
    check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem), "CreateCpuMemoryInfo");
    check(api->CreateTensorWithDataAsOrtValue(mem, audio, (size_t)window * sizeof(float), shape, 2,
                                              ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input),
          "CreateTensorWithDataAsOrtValue");
    check(api->Run(session, NULL, in_names, (const OrtValue* const*)&input, 1, out_names, 1, outputs), "Run");
    stage("first run");
    api->ReleaseValue(outputs[0]);
    api->ReleaseValue(input);
    api->ReleaseMemoryInfo(mem);
    api->ReleaseSession(session);
    api->ReleaseSessionOptions(so);
    api->ReleaseEnv(env);
    free(audio);
    return 0;
}
