# The Kinesis and Firehose suites once more with records in NATS JetStream
# (--storage nats): KINESD_TEST_STORAGE=nats makes kinesd_server.py run one
# single-node nats-server per suite and point every kinesd at it. Only suites
# about the protocol and the data path run twice; those about the RocksDB
# data directory, full disks, limits, throughput limits and scale do not,
# nor, to keep the run short, the AWS CLI and the JavaScript SubscribeToShard
# suites (their clients add nothing the storage would see differently). A
# suite exits 77 (skipped) when there is no nats-server or kinesd lacks the
# backend. Included from CMakeLists.txt.

# suite name -> timeout in seconds (only a hung server hits it)
set(_kinesd_nats_suites
  streams 600 records 600 bad_input 600 cbor 300 curl 300
  list_shards 600 stream_arn 900 consumers 600 control_plane 900 resharding 900 lifecycle 900
  firehose 900 firehose_delivery 900
  subscribe 900 subscribe_faults 900)

list(LENGTH _kinesd_nats_suites _count)
math(EXPR _last "${_count} - 1")
foreach(index RANGE 0 ${_last} 2)
  math(EXPR timeout_index "${index} + 1")
  list(GET _kinesd_nats_suites ${index} suite)
  list(GET _kinesd_nats_suites ${timeout_index} timeout)
  add_test(NAME nats.${suite}
           COMMAND "${KINESD_TEST_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/test_${suite}.py"
           WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  set_tests_properties(nats.${suite} PROPERTIES
    ENVIRONMENT "${_kinesd_test_env};KINESD_TEST_STORAGE=nats"
    TIMEOUT ${timeout}
    SKIP_RETURN_CODE 77
    LABELS "integration;nats")
endforeach()

# The JavaScript SDK suites start kinesd themselves; run_on_nats.py gives
# them the JetStream server.
if(KINESD_NODE)
  foreach(pair IN ITEMS js:kinesis js_firehose:firehose)
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 suite)
    list(GET pair 1 file)
    add_test(NAME nats.${suite}
             COMMAND "${KINESD_TEST_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/run_on_nats.py"
                     "${KINESD_NODE}" --test ${file}.test.mjs
             WORKING_DIRECTORY "${_kinesd_js_dir}")
    set_tests_properties(nats.${suite} PROPERTIES
      ENVIRONMENT "${_kinesd_test_env}"
      TIMEOUT 300
      SKIP_RETURN_CODE 77
      LABELS "integration;nats")
  endforeach()
endif()
