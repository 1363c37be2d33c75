package kinesd.kcl;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The consumer's account of what it did, one tab-separated line per event, which the
 * test driver reads to decide what was processed, checkpointed and finished.
 *
 * <p>Every line is written with one unbuffered write, so a consumer killed with
 * SIGKILL leaves every line it logged complete in the file.
 */
final class RecordLog implements AutoCloseable {
    private final OutputStream out;

    RecordLog(String path) throws IOException {
        out = new FileOutputStream(path, true);
    }

    synchronized void line(String... fields) {
        byte[] bytes = (String.join("\t", fields) + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            out.write(bytes);
        } catch (IOException e) {
            // The driver cannot judge a run whose log is incomplete: stop the consumer.
            throw new IllegalStateException("cannot write the record log", e);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
