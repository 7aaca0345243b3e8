// Boost.URL compiled into the standalone libFuzzer binary, which does not link relicense::io.
#include <boost/url/src.hpp>
