# Installation and packaging, included by the top-level CMakeLists.txt:
#   cmake --install build [--prefix DIR]   bin/relicense, its man page, its bash completion
#   cpack -G DEB (in the build directory)  a .deb for Debian 12 with its dependencies declared
include(GNUInstallDirs)

install(TARGETS relicense RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page is generated from --help and --version at build time, so it never drifts from the
# binary; help2man comes from Debian (dev.sh installs it). Without it the page is skipped.
find_program(RELICENSE_HELP2MAN help2man)
find_program(RELICENSE_GZIP gzip)
if(RELICENSE_HELP2MAN AND RELICENSE_GZIP)
  set(relicense_man_dir ${CMAKE_BINARY_DIR}/man)
  set(relicense_man ${relicense_man_dir}/relicense.1)
  add_custom_command(
    OUTPUT ${relicense_man}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${relicense_man_dir}
    COMMAND ${CMAKE_COMMAND} -DRELICENSE=$<TARGET_FILE:relicense> -DOUTPUT=${relicense_man_dir}/commands.h2m
            -P ${CMAKE_CURRENT_LIST_DIR}/man_commands.cmake
    COMMAND ${RELICENSE_HELP2MAN} --no-info --section 1
            --name "reassign Cisco Meraki licenses in bulk, inside the Dashboard API budget"
            --include ${CMAKE_CURRENT_LIST_DIR}/relicense.h2m --include ${relicense_man_dir}/commands.h2m
            --output ${relicense_man} $<TARGET_FILE:relicense>
    COMMAND ${RELICENSE_GZIP} -9nf ${relicense_man}
    DEPENDS relicense ${CMAKE_CURRENT_LIST_DIR}/relicense.h2m ${CMAKE_CURRENT_LIST_DIR}/man_commands.cmake
    COMMENT "Generating the relicense(1) man page with help2man"
    VERBATIM)
  add_custom_target(relicense_man ALL DEPENDS ${relicense_man}.gz)
  install(FILES ${relicense_man}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  set(RELICENSE_HAS_MAN ON)
else()
  message(STATUS "help2man (or gzip) not found: the man page is skipped (apt-get install help2man)")
  set(RELICENSE_HAS_MAN OFF)
endif()

install(FILES ${CMAKE_CURRENT_LIST_DIR}/bash-completion/relicense
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# ----- Debian package --------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME relicense)
set(CPACK_PACKAGE_VENDOR "relicense-project")
set(CPACK_PACKAGE_CONTACT "relicense project <relicense@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION "relicense applies a CSV of Meraki license assignments with the \
Dashboard API, inside each organization's request budget, retries what may be retried and writes \
a report of every row.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# TLS verification uses the system's CA store; libssl3 does not pull it in.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
find_program(RELICENSE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(RELICENSE_DPKG_SHLIBDEPS)
  # The shared libraries' packages and minimal versions, computed from the binary (dpkg-dev).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  # What `ldd bin/relicense` shows on Debian 12, by package.
  message(STATUS "dpkg-shlibdeps not found (dpkg-dev): the .deb's Depends are the Debian 12 list")
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS
         ", libc6 (>= 2.34), libgcc-s1 (>= 3.0), libssl3 (>= 3.0.0), libsimdjson14 (>= 3.0.1), libstdc++6 (>= 12)")
endif()
include(CPack)
