# The Kinesis and Firehose suites once more as a scaled-out deployment runs:
# KINESD_TEST_STORAGE=nats with three nodes and two front ends makes each
# suite start a three-node JetStream cluster (a current nats-server release)
# and turns every server a test starts into two kinesd on that cluster behind
# one address, which hands each call to the next of them (kinesd_server.py,
# round_robin_proxy.py). Only suites
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

set(_kinesd_nats_env
  "KINESD_TEST_STORAGE=nats;KINESD_TEST_NATS_NODES=3;KINESD_TEST_FRONT_ENDS=2;KINESD_TEST_NATS_FLAVOUR=current")

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
    ENVIRONMENT "${_kinesd_test_env};${_kinesd_nats_env}"
    TIMEOUT ${timeout}
    COST 30
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
      ENVIRONMENT "${_kinesd_test_env};KINESD_TEST_NATS_NODES=3;KINESD_TEST_NATS_FLAVOUR=current"
      TIMEOUT 300
      SKIP_RETURN_CODE 77
      LABELS "integration;nats")
  endforeach()
endif()
