#pragma once
// An answer whose body is produced over time (SubscribeToShard's event
// stream), pulled by the connection as fast as the client reads it.
//
// The connection calls start() once, then pull() on its own strand whenever
// it can write more: after the previous bytes went out (HTTP/1.1) or when
// the HTTP/2 flow-control window has room. pull() never waits: it hands over
// what is ready, or says to wait, and the producer calls `wake` (from any
// thread) when there is more or the body has ended. A client that stops
// reading therefore stops the pulls, and a producer that keeps one piece
// ready at most holds a bounded amount of memory however slow its reader.
#include <functional>
#include <string>

namespace kinesd::actions {

class body_stream {
public:
    enum class pulled { data, wait, end };

    virtual ~body_stream() = default;
    virtual const char* content_type() const = 0;
    virtual void start(std::function<void()> wake) = 0;
    // Appends ready bytes to `out`. `end`: the body is complete (anything
    // appended by this call is its last part).
    virtual pulled pull(std::string& out) = 0;
    // The client went away, or the server is stopping: produce nothing more.
    // Called at most once, on the connection's strand; wake may still come.
    virtual void cancel() = 0;
};

}  // namespace kinesd::actions
