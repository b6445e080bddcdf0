# Runs autoencoder_fashion_mnist (short configuration) and embedding_viewer at the same time, as
# two processes: the viewer follows the trial while it is written. Fails unless both succeed and
# the viewer rendered every EVAL step.
#   cmake -DTRAINER=<exe> -DVIEWER=<exe> -DWORK=<dir> -P run_autoencoder_with_viewer.cmake
cmake_minimum_required(VERSION 3.20)
foreach(v TRAINER VIEWER WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_autoencoder_with_viewer: pass -D${v}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# execute_process runs its COMMANDs concurrently (as a pipeline; neither reads stdin).
execute_process(
  COMMAND "${TRAINER}" "${WORK}/trial" --steps 60 --eval-every 20 --eval-samples 200 --train-samples 2048
  COMMAND "${VIEWER}" "${WORK}/trial" "${WORK}/view" --timeout 300
  RESULTS_VARIABLE results
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message("${out}${err}")
if(NOT results STREQUAL "0;0")
  message(FATAL_ERROR "trainer;viewer exit statuses: ${results}")
endif()
foreach(step 0 1 2)
  foreach(f embedding_${step}.csv embedding_${step}.svg pairs_${step}.pgm)
    if(NOT EXISTS "${WORK}/view/${f}")
      message(FATAL_ERROR "the viewer did not write ${WORK}/view/${f}")
    endif()
  endforeach()
endforeach()
file(STRINGS "${WORK}/view/embedding_2.csv" rows)
list(LENGTH rows n)
if(NOT n EQUAL 201)  # header + 200 latent vectors
  message(FATAL_ERROR "embedding_2.csv has ${n} lines, expected 201")
endif()
message("autoencoder + viewer: 3 EVAL steps rendered into ${WORK}/view")
