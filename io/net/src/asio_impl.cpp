// Separate compilation: the bodies of Asio, Asio.SSL, Beast and Boost.URL are compiled here once
// instead of in every translation unit that uses them (see io/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/url/src.hpp>
