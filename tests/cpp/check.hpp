// A minimal test harness for the C/C++ binding tests (no framework dependency):
//   TEST_CASE(name) { CHECK(cond); CHECK_STATUS(call, EDGEEMO_STATUS_OK); }
//   int main(int argc, char** argv) { return edgeemo_test::run_all(argc, argv); }
#ifndef EDGEEMO_TEST_CHECK_HPP
#define EDGEEMO_TEST_CHECK_HPP

#include "edgeemo.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace edgeemo_test {

struct Case {
    const char* name;
    std::function<void()> fn;
};
inline std::vector<Case>& registry() {
    static std::vector<Case> r;
    return r;
}
inline int& failures() {
    static int n = 0;
    return n;
}
struct Register {
    Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};
inline void report(const char* file, int line, const std::string& what) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}
inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Runs every case (or those whose name contains argv[i] for a --filter=NAME argument).
inline int run_all(int argc, char** argv) {
    std::string filter;
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--filter=", 9) == 0) filter = argv[i] + 9;
    int ran = 0;
    for (const Case& c : registry()) {
        if (!filter.empty() && !contains(c.name, filter)) continue;
        const int before = failures();
        std::printf("[ RUN  ] %s\n", c.name);
        std::fflush(stdout);
        try {
            c.fn();
        } catch (const std::exception& e) {
            report(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
        }
        std::printf("[ %s ] %s\n", failures() == before ? " OK " : "FAIL", c.name);
        ++ran;
    }
    std::printf("%d cases, %d failed checks\n", ran, failures());
    return failures() == 0 && ran > 0 ? 0 : 1;
}

}  // namespace edgeemo_test

#define EE_CAT2(a, b) a##b
#define EE_CAT(a, b) EE_CAT2(a, b)
#define TEST_CASE(name)                                                                   \
    static void EE_CAT(test_fn_, name)();                                                 \
    static edgeemo_test::Register EE_CAT(test_reg_, name)(#name, EE_CAT(test_fn_, name)); \
    static void EE_CAT(test_fn_, name)()

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) edgeemo_test::report(__FILE__, __LINE__, "CHECK(" #cond ")"); \
    } while (0)

#define CHECK_MSG(cond, msg)                                                                       \
    do {                                                                                           \
        if (!(cond)) edgeemo_test::report(__FILE__, __LINE__, std::string("CHECK(" #cond "): ") + (msg)); \
    } while (0)

// Checks a status; on mismatch prints both statuses and the last error message.
#define CHECK_STATUS(call, expected)                                                                   \
    do {                                                                                               \
        edgeemo_status ee_st_ = (call);                                                                \
        if (ee_st_ != (expected))                                                                      \
            edgeemo_test::report(__FILE__, __LINE__,                                                   \
                                 std::string(#call " -> ") + edgeemo_status_string(ee_st_) + ", expected " + \
                                     edgeemo_status_string(expected) + " (last error: " + edgeemo_last_error() + ")"); \
    } while (0)

// Requires a condition; returns from the test case when it fails.
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            edgeemo_test::report(__FILE__, __LINE__, "REQUIRE(" #cond ")");   \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif
