# SubscribeToShard suites: boto3 over HTTP/1.1 with raw event-stream and CBOR
# checks, crashes and stalled subscribers, and the JavaScript SDK's
# SubscribeToShardCommand over HTTP/2. Included from CMakeLists.txt.
foreach(suite IN ITEMS subscribe subscribe_faults)
  add_test(NAME integration.${suite}
           COMMAND "${KINESD_TEST_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/test_${suite}.py"
           WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  set_tests_properties(integration.${suite} PROPERTIES
    ENVIRONMENT "${_kinesd_test_env}"
    TIMEOUT 900
    COST 40
    LABELS integration)
endforeach()

if(KINESD_NODE)
  add_test(NAME integration.js_subscribe
           COMMAND "${KINESD_NODE}" --test subscribe.test.mjs
           WORKING_DIRECTORY "${_kinesd_js_dir}")
else()
  add_test(NAME integration.js_subscribe
           COMMAND sh -c "echo 'node was not found when CMake ran: install Node.js 20+ and run npm ci in ${_kinesd_js_dir}' >&2; exit 1")
endif()
set_tests_properties(integration.js_subscribe PROPERTIES
  ENVIRONMENT "KINESD_BIN=$<TARGET_FILE:kinesd>"
  TIMEOUT 300
  LABELS integration)
