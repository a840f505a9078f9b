# The programs the bare-host tests send to a volunteer host, for whichever
# architecture this build is for (the native build and the aarch64 cross build
# include this): task_probe_lean for exec tasks (libstdc++/libgcc static) and
# lean_worker_example for function tasks (mw_add_lean_worker).
add_executable(task_probe_lean ${CMAKE_CURRENT_LIST_DIR}/task_probe.cpp)
target_link_options(task_probe_lean PRIVATE -static-libstdc++ -static-libgcc -Wl,--gc-sections)
mw_add_lean_worker(lean_worker_example ${CMAKE_CURRENT_LIST_DIR}/lean_functions.cpp)
