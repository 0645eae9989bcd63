/* The C header compiles as strict C99 (-std=c99 -Wall -Wextra -pedantic -Werror) and the library
   links and runs from a C program: a few calls that need no model. */
#include "edgeemo.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    edgeemo_recognizer_config config = edgeemo_recognizer_default_config();
    edgeemo_recognizer* rec = NULL;
    edgeemo_stream* stream = NULL;
    edgeemo_window_info info;
    edgeemo_clip_info clip;
    edgeemo_timings timings;
    edgeemo_status st;
    int failures = 0;

    memset(&info, 0, sizeof info);
    memset(&clip, 0, sizeof clip);
    memset(&timings, 0, sizeof timings);
    if (strlen(edgeemo_version()) == 0) ++failures;
    config.model_path = "/nonexistent/model.onnx";
    st = edgeemo_recognizer_create(&config, &rec);
    if (st != EDGEEMO_STATUS_MODEL_NOT_FOUND || rec != NULL) ++failures;
    if (strstr(edgeemo_last_error(), "/nonexistent/model.onnx") == NULL) ++failures;
    if (edgeemo_stream_create(NULL, &stream) != EDGEEMO_STATUS_INVALID_ARGUMENT) ++failures;
    if (edgeemo_stream_ready(NULL) != 0) ++failures;
    edgeemo_recognizer_destroy(NULL);
    edgeemo_stream_destroy(NULL);
    printf("edgeemo %s (ONNX Runtime %s) from C: %s\n", edgeemo_version(), edgeemo_onnxruntime_version(),
           failures ? "FAILED" : "ok");
    return failures;
}
