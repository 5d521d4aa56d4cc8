#pragma once
// The namespace each test file's body sits in: `namespace CHRYSALIS_TEST_FILE { … }`.
//
// Several test files of one executable are compiled as one translation unit (CMake's
// UNITY_BUILD; see chrysalis_add_test_group in tests/CMakeLists.txt): templates the files
// share (a network, fit, save/load) are then instantiated and optimised once instead of once
// per file. CMake defines CHRYSALIS_TEST_UNITY_ID before each file as a name of its own, so
// two files' helpers of the same name do not collide; a file compiled alone (the group built
// with CHRYSALIS_UNITY_TESTS=OFF) gets an anonymous namespace, as before.
#ifdef CHRYSALIS_TEST_UNITY_ID
#define CHRYSALIS_TEST_FILE CHRYSALIS_TEST_UNITY_ID
#else
#define CHRYSALIS_TEST_FILE
#endif
