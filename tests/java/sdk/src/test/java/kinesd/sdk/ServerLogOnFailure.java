package kinesd.sdk;

import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/** Prints the server's log after a failed test, while the server (and its log) still exists. */
final class ServerLogOnFailure implements TestWatcher {
    private final Supplier<KinesdServer> server;

    ServerLogOnFailure(Supplier<KinesdServer> server) {
        this.server = server;
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        KinesdServer running = server.get();
        if (running != null) {
            System.err.println(context.getDisplayName() + " failed; " + running.log());
        }
    }
}
