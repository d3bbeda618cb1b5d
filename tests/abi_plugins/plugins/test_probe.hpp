/* The test host's window into its fixture plugins: a host extension the tests register and the plugins call
 * on every lifecycle step, so a test can assert the order init -> create -> destroy -> shutdown. Plain C,
 * like the ABI it rides on. */
#ifndef MMRT_TESTS_ABI_PLUGINS_TEST_PROBE_H_
#define MMRT_TESTS_ABI_PLUGINS_TEST_PROBE_H_

#include "mmrt_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TEST_PROBE_EXTENSION "org.mmrt.test.probe/1"

typedef struct TestProbe {
  MMRT_STRUCT_PREFIX;
  /* [thread-safe] Records that plugin `plugin_id` ran `event` ("init", "create", "destroy", "shutdown"). */
  void (*record)(const char* plugin_id, const char* event);
} TestProbe;

#ifdef __cplusplus
}
#endif

#endif /* MMRT_TESTS_ABI_PLUGINS_TEST_PROBE_H_ */
