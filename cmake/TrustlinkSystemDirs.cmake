# SPDX-License-Identifier: Apache-2.0
# Where the files other programs look for are installed: systemd units,
# sysusers.d, tmpfiles.d, modules-load.d, udev rules, the p11-kit module and
# its registration.
#
# Each directory comes from the pkg-config variable of the program that
# reads it (systemd: systemdsystemunitdir, sysusersdir, tmpfilesdir,
# modulesloaddir; udev: udevdir; p11-kit-1: p11_module_path,
# p11_module_configs) and is re-based on the install prefix, decided at
# INSTALL time so `cmake --install build --prefix DIR` and DESTDIR are both
# honoured:
#   - a directory under the pkg-config file's own prefix keeps its place
#     relative to the install prefix (/usr/lib/sysusers.d -> PREFIX/lib/sysusers.d);
#   - a directory outside it (Debian 12's /lib/systemd/system) is used as
#     is when the install prefix IS that prefix (/usr), else re-based below
#     the install prefix (PREFIX/lib/systemd/system).
# Override any of them with the cache variable named below: an absolute
# path is used as is (still below DESTDIR), a relative one is relative to
# the install prefix.

# trustlink_system_dir(VAR PCMODULE PCVARIABLE SUFFIX FALLBACK DOC)
# Defines cache variable VAR (empty: automatic) and sets VAR_CODE in the
# caller: install(CODE) text that sets _trustlink_dir to the directory at
# install time. FALLBACK (relative to the prefix) is used when pkg-config
# has no such module. SUFFIX is appended to the pkg-config value ("" or
# "/rules.d").
function(trustlink_system_dir var pcmodule pcvariable suffix fallback doc)
    set(${var} "" CACHE STRING
        "${doc}; empty: pkg-config ${pcmodule} ${pcvariable}, re-based on the install prefix")
    set(value "${${var}}")
    if(NOT value STREQUAL "")
        if(IS_ABSOLUTE "${value}")
            set(code "set(_trustlink_dir \"${value}\")")
        else()
            set(code "set(_trustlink_dir \"\${CMAKE_INSTALL_PREFIX}/${value}\")")
        endif()
        set(${var}_CODE "${code}" PARENT_SCOPE)
        return()
    endif()
    execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --variable=${pcvariable} ${pcmodule}
                    OUTPUT_VARIABLE value OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --variable=prefix ${pcmodule}
                    OUTPUT_VARIABLE pcprefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(value STREQUAL "")
        set(code "set(_trustlink_dir \"\${CMAKE_INSTALL_PREFIX}/${fallback}\")")
    else()
        string(APPEND value "${suffix}")
        string(LENGTH "${pcprefix}/" plen)
        string(SUBSTRING "${value}" 0 ${plen} head)
        if(NOT pcprefix STREQUAL "" AND head STREQUAL "${pcprefix}/")
            string(SUBSTRING "${value}" ${plen} -1 rel)
            set(code "set(_trustlink_dir \"\${CMAKE_INSTALL_PREFIX}/${rel}\")")
        else()
            set(code "if(CMAKE_INSTALL_PREFIX STREQUAL \"${pcprefix}\")
                set(_trustlink_dir \"${value}\")
            else()
                set(_trustlink_dir \"\${CMAKE_INSTALL_PREFIX}${value}\")
            endif()")
        endif()
    endif()
    set(${var}_CODE "${code}" PARENT_SCOPE)
endfunction()

# trustlink_install_system_file(VAR SOURCE [RENAME NAME])
# Installs SOURCE into the directory of trustlink_system_dir(VAR ...).
function(trustlink_install_system_file var source)
    cmake_parse_arguments(arg "" "RENAME" "" ${ARGN})
    set(rename "")
    if(arg_RENAME)
        set(rename "RENAME \"${arg_RENAME}\"")
    endif()
    install(CODE "${${var}_CODE}
        file(INSTALL DESTINATION \"\${_trustlink_dir}\" TYPE FILE
             PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
             FILES \"${source}\" ${rename})")
endfunction()
