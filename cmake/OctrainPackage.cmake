# The installed package: headers, the layer libraries exported as octrain::<layer>, the
# octrain::octrain interface target and octrainConfig.cmake, so another project does
#   find_package(octrain REQUIRED)   # with CMAKE_PREFIX_PATH naming the install prefix
#   target_link_libraries(app PRIVATE octrain::octrain)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(OCTRAIN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/octrain)
get_property(octrain_layers GLOBAL PROPERTY OCTRAIN_LAYERS)
set_target_properties(octrain PROPERTIES EXPORT_NAME octrain)

install(TARGETS ${octrain_layers} octrain EXPORT octrainTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/octrain DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET octrain_cli)
  install(TARGETS octrain_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT octrainTargets NAMESPACE octrain:: DESTINATION ${OCTRAIN_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/octrainConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/octrainConfig.cmake
                              INSTALL_DESTINATION ${OCTRAIN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/octrainConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/octrainConfig.cmake
              ${PROJECT_BINARY_DIR}/octrainConfigVersion.cmake
        DESTINATION ${OCTRAIN_CMAKE_DIR})
