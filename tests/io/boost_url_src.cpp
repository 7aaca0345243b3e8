// Boost.URL compiled into the standalone libFuzzer binary, which does not link relicense::net.
#include <boost/url/src.hpp>
