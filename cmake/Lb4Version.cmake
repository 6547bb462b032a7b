# LB4_VERSION_FULL: the project version plus the git commit the tree was
# configured from ("0.1.0 (git 1a2b3c4-dirty)"), or "unknown" outside a git
# checkout (a release tarball). Generates ${CMAKE_BINARY_DIR}/generated/
# userspace/common/version.h for `--version` of lb4d and lb4ctl, and
# reconfigures after a commit or checkout so the reported commit follows HEAD.
find_package(Git QUIET)
set(LB4_GIT_COMMIT unknown)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE lb4_describe OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE lb4_describe_rc ERROR_QUIET)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --absolute-git-dir
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE lb4_git_dir OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE lb4_git_dir_rc ERROR_QUIET)
  if(lb4_describe_rc EQUAL 0 AND NOT lb4_describe STREQUAL "")
    set(LB4_GIT_COMMIT ${lb4_describe})
  endif()
  if(lb4_git_dir_rc EQUAL 0)
    foreach(f HEAD logs/HEAD)
      if(EXISTS ${lb4_git_dir}/${f})
        set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                     ${lb4_git_dir}/${f})
      endif()
    endforeach()
  endif()
endif()
set(LB4_VERSION_FULL "${PROJECT_VERSION} (git ${LB4_GIT_COMMIT})")
configure_file(${CMAKE_SOURCE_DIR}/userspace/common/version.h.in
               ${CMAKE_BINARY_DIR}/generated/userspace/common/version.h @ONLY)
