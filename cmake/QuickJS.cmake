# QuickJS from Debian 13's libquickjs (a static archive). We link only the
# engine objects and leave out quickjs-libc.o (std/os modules, signal handlers):
# the archive is unpacked and repacked without it at configure time.
set(HERD_QJS_ARCHIVE /usr/lib/x86_64-linux-gnu/quickjs/libquickjs.a CACHE FILEPATH "Debian libquickjs archive")
if(NOT EXISTS ${HERD_QJS_ARCHIVE})
  message(FATAL_ERROR "libquickjs not found at ${HERD_QJS_ARCHIVE}: run scripts/install-deps.sh")
endif()
set(_qjs_dir ${CMAKE_BINARY_DIR}/quickjs-engine)
set(_qjs_objs quickjs.o dtoa.o libregexp.o libunicode.o cutils.o)
set(_qjs_lib ${_qjs_dir}/libquickjs-engine.a)
add_custom_command(
  OUTPUT ${_qjs_lib}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_qjs_dir}
  COMMAND ${CMAKE_AR} x ${HERD_QJS_ARCHIVE} ${_qjs_objs}
  COMMAND ${CMAKE_AR} rcs ${_qjs_lib} ${_qjs_objs}
  WORKING_DIRECTORY ${_qjs_dir}
  DEPENDS ${HERD_QJS_ARCHIVE}
  COMMENT "Repacking QuickJS engine objects (without quickjs-libc)")
add_custom_target(quickjs_engine_archive DEPENDS ${_qjs_lib})
add_library(quickjs_engine STATIC IMPORTED GLOBAL)
set_target_properties(quickjs_engine PROPERTIES IMPORTED_LOCATION ${_qjs_lib}
  INTERFACE_INCLUDE_DIRECTORIES /usr/include/quickjs
  INTERFACE_LINK_LIBRARIES "m;Threads::Threads")
add_dependencies(quickjs_engine quickjs_engine_archive)
