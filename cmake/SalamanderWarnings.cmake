# sal_target_warnings(<target>): the project's warning set, -Werror with SAL_WERROR, sanitizers with
# SAL_SANITIZE.
function(sal_target_warnings tgt)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
                                        $<$<BOOL:${SAL_WERROR}>:-Werror>)
  if(SAL_SANITIZE)
    target_compile_options(${tgt} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                          -fno-sanitize-recover=undefined)
    target_link_options(${tgt} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
