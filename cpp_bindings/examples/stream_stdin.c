/*
 * stream_stdin: streaming emotion recognition over raw PCM on stdin, in plain C99.
 *
 *   arecord -f S16_LE -r 16000 -c 1 -t raw | stream_stdin --format s16le --model model.onnx
 *   sox clip.flac -t raw -e float -b 32 -r 16000 -c 1 - | stream_stdin --format f32le
 *
 * Prints one line per window: "start_s end_s label score [valence arousal]". At end of input the
 * stream is flushed, so the last samples are covered too. Options:
 *   --model PATH      model file (default $EDGEEMO_MODEL, else the bundled model path)
 *   --format FMT      f32le (default) or s16le, mono, at the model's sample rate
 *   --chunk N         samples read per call (default 1600); results do not depend on it
 *   --threads N       ONNX Runtime threads (default 1)
 * Exit status: 0 ok, 1 runtime failure, 2 bad usage or model.
 */
#include "edgeemo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char* what, edgeemo_status st) {
    fprintf(stderr, "stream_stdin: %s: %s: %s\n", what, edgeemo_status_string(st), edgeemo_last_error());
    return st == EDGEEMO_STATUS_OK ? 0 : 1;
}

static int print_ready(edgeemo_stream* stream, const edgeemo_recognizer* rec, float* scores, size_t n_labels) {
    edgeemo_window_info info;
    edgeemo_status st;
    while ((st = edgeemo_stream_pop(stream, scores, n_labels, &info)) == EDGEEMO_STATUS_OK) {
        const char* label = "?";
        edgeemo_recognizer_label(rec, info.label_index, &label);
        if (info.has_valence_arousal)
            printf("%.3f %.3f %s %.4f %.3f %.3f\n", info.start_s, info.end_s, label,
                   (double)scores[info.label_index], (double)info.valence, (double)info.arousal);
        else
            printf("%.3f %.3f %s %.4f\n", info.start_s, info.end_s, label, (double)scores[info.label_index]);
    }
    fflush(stdout);
    return st == EDGEEMO_STATUS_NO_RESULT ? 0 : fail("pop", st);
}

int main(int argc, char** argv) {
    edgeemo_recognizer_config config = edgeemo_recognizer_default_config();
    const char* env_model = getenv("EDGEEMO_MODEL");
    int s16 = 0;
    long chunk = 1600;
    int i, rc = 0;
    edgeemo_recognizer* rec = NULL;
    edgeemo_stream* stream = NULL;
    edgeemo_status st;
    int rate = 0;
    size_t n_labels = 0;
    float* scores = NULL;
    float* pcm = NULL;
    int16_t* raw16 = NULL;

    config.model_path = (env_model && *env_model) ? env_model : EDGEEMO_DEFAULT_MODEL;
    for (i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            config.model_path = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            ++i;
            if (strcmp(argv[i], "s16le") == 0)
                s16 = 1;
            else if (strcmp(argv[i], "f32le") == 0)
                s16 = 0;
            else {
                fprintf(stderr, "stream_stdin: --format must be f32le or s16le\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            config.num_threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: stream_stdin [--model PATH] [--format f32le|s16le] [--chunk N] [--threads N]\n");
            return 2;
        }
    }
    if (chunk <= 0 || chunk > 10000000) {
        fprintf(stderr, "stream_stdin: --chunk must be in 1..10000000\n");
        return 2;
    }

    st = edgeemo_recognizer_create(&config, &rec);
    if (st != EDGEEMO_STATUS_OK) {
        fail("cannot load the model", st);
        return 2;
    }
    edgeemo_recognizer_sample_rate(rec, &rate);
    edgeemo_recognizer_label_count(rec, &n_labels);
    scores = (float*)malloc(n_labels * sizeof *scores);
    pcm = (float*)malloc((size_t)chunk * sizeof *pcm);
    raw16 = (int16_t*)malloc((size_t)chunk * sizeof *raw16);
    if (!scores || !pcm || !raw16) {
        fprintf(stderr, "stream_stdin: out of memory\n");
        rc = 1;
        goto done;
    }
    st = edgeemo_stream_create(rec, &stream);
    if (st != EDGEEMO_STATUS_OK) {
        rc = fail("stream", st);
        goto done;
    }
    for (;;) {
        size_t n, k;
        if (s16) {
            n = fread(raw16, sizeof *raw16, (size_t)chunk, stdin);
            for (k = 0; k < n; ++k) pcm[k] = (float)raw16[k] / 32768.0f;
        } else {
            n = fread(pcm, sizeof *pcm, (size_t)chunk, stdin);
        }
        if (n == 0) break;
        st = edgeemo_stream_accept(stream, pcm, n, rate);
        if (st != EDGEEMO_STATUS_OK) {
            rc = fail("accept", st);
            goto done;
        }
        if ((rc = print_ready(stream, rec, scores, n_labels)) != 0) goto done;
    }
    st = edgeemo_stream_flush(stream);
    if (st != EDGEEMO_STATUS_OK) {
        rc = fail("flush", st);
        goto done;
    }
    rc = print_ready(stream, rec, scores, n_labels);

done:
    edgeemo_stream_destroy(stream);
    edgeemo_recognizer_destroy(rec);
    free(scores);
    free(pcm);
    free(raw16);
    return rc;
}
