# Install rules: headers, the tdbg::tdbg target (exported), a CMake package (tdbg-config.cmake +
# an architecture-independent version file), a pkg-config file, and the `tdbg` CLI when built.
#
# Layout under the prefix:
#   include/tdbg/...                      the headers
#   share/cmake/tdbg/tdbg-config*.cmake   find_package(tdbg)   (share/: header-only, any arch)
#   share/cmake/tdbg/TdbgRuleTests.cmake  tdbg_add_rule_tests() (loaded by tdbg-config.cmake)
#   share/cmake/tdbg/TdbgLang.cmake       tdbg_add_lang_library() (loaded by tdbg-config.cmake)
#   share/pkgconfig/tdbg.pc               pkg-config tdbg
#   bin/tdbg                              the CLI (if TDBG_BUILD_TOOLS)
include(CMakePackageConfigHelpers)

set(TDBG_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/tdbg"
    CACHE STRING "Where tdbg-config.cmake is installed, relative to the prefix")
set(TDBG_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where tdbg.pc is installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/tdbg"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT tdbg_development
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS tdbg EXPORT tdbg-targets)
install(EXPORT tdbg-targets
        NAMESPACE tdbg::
        FILE tdbg-targets.cmake
        DESTINATION "${TDBG_INSTALL_CMAKEDIR}"
        COMPONENT tdbg_development)

# tdbg::catch2 (when Catch2 was found): its own export file, loaded by tdbg-config.cmake only
# when Catch2 can be found by the consumer too.
if(TARGET tdbg_catch2)
  install(TARGETS tdbg_catch2 EXPORT tdbg-catch2-targets)
  install(EXPORT tdbg-catch2-targets
          NAMESPACE tdbg::
          FILE tdbg-catch2-targets.cmake
          DESTINATION "${TDBG_INSTALL_CMAKEDIR}"
          COMPONENT tdbg_development)
endif()

# tdbg::torch (when Torch was found): its own export file, loaded by tdbg-config.cmake only when
# Torch can be found by the consumer too.
if(TARGET tdbg_torch)
  install(TARGETS tdbg_torch EXPORT tdbg-torch-targets)
  install(EXPORT tdbg-torch-targets
          NAMESPACE tdbg::
          FILE tdbg-torch-targets.cmake
          DESTINATION "${TDBG_INSTALL_CMAKEDIR}"
          COMPONENT tdbg_development)
endif()

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/tdbg-config.cmake.in"
  "${PROJECT_BINARY_DIR}/tdbg-config.cmake"
  INSTALL_DESTINATION "${TDBG_INSTALL_CMAKEDIR}")
# Header-only: the same package serves 32- and 64-bit consumers.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/tdbg-config-version.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion
  ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/tdbg-config.cmake"
              "${PROJECT_BINARY_DIR}/tdbg-config-version.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/TdbgRuleTests.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/TdbgLang.cmake"
        DESTINATION "${TDBG_INSTALL_CMAKEDIR}"
        COMPONENT tdbg_development)

# The .pc file locates the prefix from its own directory (${pcfiledir}), so it stays right when
# the tree is installed with `cmake --install --prefix <elsewhere>` or moved afterwards.
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TDBG_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(TDBG_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${TDBG_INSTALL_PKGCONFIGDIR}")
  set(TDBG_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH TDBG_PC_PREFIX_REL "/p/${TDBG_INSTALL_PKGCONFIGDIR}" "/p")
  string(REGEX REPLACE "/$" "" TDBG_PC_PREFIX_REL "${TDBG_PC_PREFIX_REL}")
  set(TDBG_PC_PREFIX "\${pcfiledir}/${TDBG_PC_PREFIX_REL}")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/tdbg.pc.in" "${PROJECT_BINARY_DIR}/tdbg.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/tdbg.pc"
        DESTINATION "${TDBG_INSTALL_PKGCONFIGDIR}"
        COMPONENT tdbg_development)

# The command-line tool (tools/tdbg, target tdbg_cli, OUTPUT_NAME tdbg).
if(TARGET tdbg_cli)
  install(TARGETS tdbg_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT tdbg_cli)
endif()
