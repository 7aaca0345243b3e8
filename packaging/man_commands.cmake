# cmake -DRELICENSE=<binary> -DOUTPUT=<file.h2m> -P man_commands.cmake
# Writes a help2man include file with a COMMANDS section: each subcommand's own --help, so the
# man page documents every option without a hand-kept copy.
execute_process(COMMAND ${RELICENSE} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${RELICENSE} --help failed")
endif()
string(REGEX MATCH "Subcommands:\n([^\n]+\n)+" block "${top}")
string(REGEX MATCHALL "\n  [a-z][a-z-]*" names "${block}")
set(out "[COMMANDS]\n")
foreach(name IN LISTS names)
  string(STRIP "${name}" name)
  execute_process(COMMAND ${RELICENSE} ${name} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${RELICENSE} ${name} --help failed")
  endif()
  # The footer (conventions, exit codes) is in the page once already.
  string(FIND "${help}" "\nA CSV argument of -" footer)
  if(footer GREATER 0)
    string(SUBSTRING "${help}" 0 ${footer} help)
  endif()
  # roff: a backslash is \e, and a line may not start with a control character.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(APPEND out ".SS relicense ${name}\n.nf\n${help}.fi\n")
endforeach()
file(WRITE ${OUTPUT} "${out}")
